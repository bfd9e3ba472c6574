// npm run bench: the performance figures of README "Performance", measured in one run so that
// ratios hold on a noisy machine. Prints a table and writes bench/results.json. Everything it
// creates (MariaDB databases, fail2ban servers, readdb daemons, temp dirs) is removed at the
// end, also after a failure or Ctrl-C.
//
//   BENCH_DIALECT=mysql|sqlite   default: MariaDB when reachable, else SQLite (said plainly)
//   BENCH_FIGURES=1,2,3,4,5,6,7,8,9  run only some figures (5: add2db, database silent; 6: serve; 8: push, three hosts, push and no push; 9: firewall sets)
//   BENCH_ATTACKS=100            figure 1: attacks       BENCH_SCALE=1000000  figure 4: big size
//   BENCH_CATCHUP=100000         figure 7: active bans a new host catches up on
//   BENCH_ANALYZE=0              figure 4: skip ANALYZE TABLE after the bulk load (fresh statistics)
//   BENCH_SERVE_BANS=100000      figure 6: active bans behind serve's list
//   BENCH_PUSH_ATTACKS=40        figure 8: attacks per mode (each lands on two hosts)
//   BENCH_FIREWALL_BANS=100000   figure 9: active bans a firewall resync loads (and 10 % more a poll adds)
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import { join } from 'node:path'
import { adminConnection, MYSQL_ADMIN_URL, mysqlReachable } from '../test/setup/mariadb.js'
import { ROOT } from '../test/setup/programs.js'
import { add2dbCost } from './add2db-cost.js'
import { add2dbSilent } from './add2db-silent.js'
import { createBenchDb, type BenchDb, type Dialect } from './central.js'
import { catchUp } from './catch-up.js'
import { pollScale } from './poll-scale.js'
import { propagation } from './propagation.js'
import { pushBench } from './push.js'
import { readdbThroughput } from './readdb-throughput.js'
import { serveBench } from './serve.js'
import { firewallBench } from './firewall.js'
import { beginShutdown, cleanupAll, defer, haveTimeBin, isShuttingDown, progress, round, sleep } from './util.js'

type Row = { figure: string; value: string; target: string; met: string }

const figures = new Set((process.env.BENCH_FIGURES ?? '1,2,3,4,5,7,8,9').split(',').map((s) => s.trim()))
const ATTACKS = Number(process.env.BENCH_ATTACKS ?? 100)
const SCALE = Number(process.env.BENCH_SCALE ?? 1_000_000)
const SERVE_BANS = Number(process.env.BENCH_SERVE_BANS ?? 100_000)
const CATCHUP = Number(process.env.BENCH_CATCHUP ?? 100_000)
/** Figure 4: the fleet's schedule, and the fallback schedule with push wake-ups (issue 9). */
const SCHEDULE_S = 5
const PUSH_FALLBACK_S = 60
const PUSH_ATTACKS = Number(process.env.BENCH_PUSH_ATTACKS ?? 40)
const FIREWALL_BANS = Number(process.env.BENCH_FIREWALL_BANS ?? 100_000)
const SMALL_FLEET = 3

// Ctrl-C / SIGTERM: undo everything at once, let the measurement that was running fail
// (anything it still creates is undone as soon as it registers), then exit 130. A second
// signal exits at once.
let interrupted: Promise<void> | undefined
let running: Promise<number> | undefined
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (interrupted !== undefined) process.exit(130)
    progress(`${signal}: cleaning up (again to quit at once)`)
    beginShutdown()
    interrupted = (async () => {
      await cleanupAll()
      await Promise.race([running?.catch(() => undefined), sleep(30_000)])
      await cleanupAll()
    })().finally(() => process.exit(130))
  })
}

async function main(): Promise<number> {
  const started = Date.now()
  const dir = mkdtempSync(join(os.tmpdir(), 'f2b-bench-'))
  defer(`remove ${dir}`, () => rmSync(dir, { recursive: true, force: true }))

  const dialect = await chooseDialect()
  const notes: string[] = []
  if (dialect === 'sqlite' && process.env.BENCH_DIALECT !== 'sqlite') {
    notes.push(`MariaDB/MySQL NOT reachable at ${MYSQL_ADMIN_URL}: every figure ran against an SQLite file instead`)
    progress(`*** ${notes[0]} ***`)
  }
  if (!haveTimeBin()) notes.push('/usr/bin/time is missing (apt-get install time): peak RSS figures are unavailable')
  const machine = {
    cpus: os.cpus().length,
    cpuModel: os.cpus()[0]?.model,
    memoryGb: round(os.totalmem() / 2 ** 30, 1),
    loadavg1mAtStart: round(os.loadavg()[0]!, 2),
    loadavg1mAtEnd: NaN,
    node: process.version,
    database: dialect === 'mysql' ? await mysqlVersion() : 'SQLite (better-sqlite3)',
    fail2ban: await fail2banVersion(),
  }

  const results: Record<string, unknown> = {}
  const errors: Record<string, string> = {}
  const attempt = async (key: string, n: string, work: () => Promise<unknown>) => {
    if (!figures.has(n) || isShuttingDown()) return
    try {
      results[key] = await work()
    } catch (err) {
      errors[key] = (err as Error).stack ?? String(err)
      progress(`figure ${n} FAILED: ${(err as Error).message}`)
    }
  }
  const withDb = async <T>(label: string, work: (db: BenchDb) => Promise<T>): Promise<T> => {
    const db = await createBenchDb(dialect, label, dir)
    try {
      return await work(db)
    } finally {
      await db.drop()
    }
  }
  await attempt('propagation', '1', () => withDb('fleet', (db) => propagation(db, dir, { attacks: ATTACKS, minGapMs: 300, maxGapMs: 1700 })))
  await attempt('add2db', '2', () => withDb('add2db', (db) => add2dbCost(db, dir, { warmup: 3, runs: 20 })))
  await attempt('readdbThroughput', '3', async () => readdbThroughput(dialect, dir, { bans: 10_000, rounds: 3 }))
  await attempt('pollScale', '4', async () =>
    pollScale(dialect, dir, {
      sizes: [
        { bans: 1000, hosts: 1000 },
        { bans: SCALE, hosts: 1000 },
        { bans: SCALE, hosts: SMALL_FLEET },
      ],
      idleRuns: 21,
      pendingRuns: 5,
      pending: 100,
      fleetSessions: 8,
    }),
  )
  await attempt('add2dbSilent', '5', () => add2dbSilent(dir, { runs: 20 }))

  await attempt('serve', '6', () => withDb('serve', (db) => serveBench(db, dir, { bans: SERVE_BANS, hosts: 50, concurrency: 8, scrapers: 2, seconds: 10 })))
  await attempt('catchUp', '7', async () => catchUp(dialect, dir, { bans: CATCHUP }))
  await attempt('push', '8', () => withDb('push', (db) => pushBench(db, dir, { attacks: PUSH_ATTACKS, minGapMs: 300, maxGapMs: 1200 })))

  await attempt('firewall', '9', () => withDb('firewall', (db) => firewallBench(db, dir, { bans: FIREWALL_BANS, added: Math.round(FIREWALL_BANS / 10) })))

  if (interrupted !== undefined) return 130
  machine.loadavg1mAtEnd = round(os.loadavg()[0]!, 2)
  const rows = table(results as never, errors)
  const totalS = round((Date.now() - started) / 1000, 0)
  const out = { date: new Date().toISOString(), durationS: totalS, machine, dialect, notes, table: rows, figures: results, errors }
  writeFileSync(join(ROOT, 'bench/results.json'), `${JSON.stringify(out, null, 2)}\n`)
  print(rows, results as never, notes, machine, totalS)
  return Object.keys(errors).length > 0 ? 1 : 0
}

async function chooseDialect(): Promise<Dialect> {
  const forced = process.env.BENCH_DIALECT
  if (forced === 'sqlite' || forced === 'mysql') return forced
  return (await mysqlReachable()) ? 'mysql' : 'sqlite'
}

async function mysqlVersion(): Promise<string> {
  const c = await adminConnection()
  try {
    const [rows] = await c.query('SELECT VERSION() AS v')
    return `MySQL/MariaDB ${(rows as { v: string }[])[0]?.v}`
  } finally {
    await c.end()
  }
}

async function fail2banVersion(): Promise<string> {
  const { execFileSync } = await import('node:child_process')
  try {
    return execFileSync('fail2ban-client', ['--version'], { encoding: 'utf8' }).trim().split('\n')[0] ?? ''
  } catch {
    return 'not found'
  }
}

// ---------------------------------------------------------------- output

const s1 = (ms: number) => `${(ms / 1000).toFixed(2)} s`
const yes = (ok: boolean) => (ok ? 'yes' : 'NO')

type Results = {
  propagation?: Awaited<ReturnType<typeof propagation>>
  add2db?: Awaited<ReturnType<typeof add2dbCost>>
  add2dbSilent?: Awaited<ReturnType<typeof add2dbSilent>>
  readdbThroughput?: Awaited<ReturnType<typeof readdbThroughput>>
  pollScale?: Awaited<ReturnType<typeof pollScale>>
  serve?: Awaited<ReturnType<typeof serveBench>>
  catchUp?: Awaited<ReturnType<typeof catchUp>>
  push?: Awaited<ReturnType<typeof pushBench>>
  firewall?: Awaited<ReturnType<typeof firewallBench>>
}

function table(r: Results, errors: Record<string, string>): Row[] {
  const rows: Row[] = []
  const failed = (key: string, figure: string) => {
    if (errors[key]) rows.push({ figure, value: `FAILED: ${errors[key]!.split('\n')[0]}`, target: '', met: 'NO' })
  }
  const p = r.propagation
  if (p) {
    const all = p.missing.length === 0
    rows.push({ figure: `1. propagation A→B, p50 (${p.banned}/${p.attacks} attacks)`, value: s1(p.p50Ms), target: '', met: '' })
    rows.push({ figure: '1. propagation A→B, p99', value: s1(p.p99Ms), target: `< ${s1(p.targetP99Ms)} (schedule 5 s + 1 s)`, met: yes(all && p.p99Ms < p.targetP99Ms) })
    rows.push({ figure: '1. propagation A→B, max', value: s1(p.maxMs), target: '', met: all ? '' : `${p.missing.length} never banned` })
  } else failed('propagation', '1. propagation A→B')
  const a = r.add2db
  if (a) {
    rows.push({
      figure: `2. add2db wall time, no daemon on the host (median of ${a.runs})`,
      value: `${a.add2dbMsMedian} ms = ${a.ratio}× node -e 0 (${a.nodeMsMedian} ms)`,
      target: '≤ 1.5× node -e 0',
      met: yes(a.ratio <= a.targetRatio),
    })
    rows.push({
      figure: `2. add2db wall time, handed to readdb --daemon (median of ${a.runs}; ${a.handedOver} of ${a.runs + a.warmup} taken by the daemon)`,
      value: `${a.daemonMsMedian} ms = ${a.daemonRatio}× node -e 0 (pair by pair ${a.daemonPairRatio}×)`,
      target: '≤ 1.2× node -e 0',
      met: yes(a.daemonRatio <= a.daemonTargetRatio),
    })
    rows.push({
      figure: '2. add2db peak RSS (median)',
      value: a.add2dbRssMbMedian === null ? 'n/a' : `${a.add2dbRssMbMedian} MB (node -e 0: ${a.nodeRssMbMedian} MB)`,
      target: '< 60 MB',
      met: a.add2dbRssMbMedian === null ? '?' : yes(a.add2dbRssMbMedian < a.targetRssMb),
    })
  } else failed('add2db', '2. add2db')
  const t = r.readdbThroughput
  if (t) {
    rows.push({
      figure: `3. readdb one-shot, ${t.bans.toLocaleString('en')} pending: process time (median of ${t.rounds})`,
      value: s1(t.process.wallMsMedian),
      target: '< 2 s',
      met: yes(t.process.wallMsMedian < t.targetMs),
    })
    rows.push({ figure: '3.   same, nothing following the shared log', value: s1(t.processWithoutFail2ban.wallMsMedian), target: '(informative)', met: '' })
    rows.push({
      figure: '3.   same poll in-process (pollOnce)',
      value: `${s1(t.inProcess.pollMs)}, ${t.inProcess.queries} queries${t.inProcess.rowsRead === null ? '' : `, ${t.inProcess.rowsRead.toLocaleString('en')} rows read`}`,
      target: '',
      met: '',
    })
    const a = t.inProcessAfterAnalyze
    rows.push({
      figure: '3.   same in-process, after ANALYZE TABLE',
      value: `${s1(a.pollMs)}, ${a.queries} queries${a.rowsRead === null ? '' : `, ${a.rowsRead.toLocaleString('en')} rows read`}`,
      target: '(informative)',
      met: '',
    })
    rows.push({ figure: '3.   readdb peak RSS (max)', value: Number.isFinite(t.process.peakRssMbMax) ? `${t.process.peakRssMbMax} MB` : 'n/a', target: '', met: '' })
    rows.push({ figure: '3.   fail2ban has all banned, from readdb start', value: s1(t.process.fail2banAllBannedFromStartMsMedian), target: '(informative)', met: '' })
  } else failed('readdbThroughput', '3. readdb 10,000 pending')
  const sc = r.pollScale
  if (sc) {
    const base = sc.sizes[0]!
    const label = (x: { bans: number; hosts: number }) => `${x.bans.toLocaleString('en')} bans, ${x.hosts.toLocaleString('en')} hosts`
    for (const x of sc.sizes) {
      const compared = x !== base
      rows.push({
        figure: `4. idle poll, ${label(x)}`,
        value: cost(x.idle),
        target: compared ? `same as at ${base.bans.toLocaleString('en')} bans` : '',
        met: compared ? yes(sameCost(base.idle, x.idle)) : '',
      })
    }
    for (const x of sc.sizes) {
      rows.push({ figure: `4. poll with ${sc.pendingPerPoll} pending, ${label(x)}`, value: cost(x.pending), target: x !== base ? '(informative)' : '', met: '' })
    }
    // The database's load for a fleet of that size: per-poll queries × polls per second.
    const big = sc.sizes.find((x) => x.fleetRound !== undefined && x.bans === Math.max(...sc.sizes.map((y) => y.bans)))
    if (big?.fleetRound) {
      const f = big.fleetRound
      const perPoll = big.idle.queries
      const qps = (interval: number) => Math.round((f.hosts * perPoll) / interval)
      rows.push({
        figure: `4. ${f.hosts.toLocaleString('en')} hosts polling every ${SCHEDULE_S} s, ${big.bans.toLocaleString('en')} bans: database load`,
        value: `${qps(SCHEDULE_S).toLocaleString('en')} queries/s (${perPoll} per idle poll × ${f.hosts / SCHEDULE_S} polls/s, derived); all ${f.hosts.toLocaleString('en')} polling once took ${s1(f.ms)} = ${f.pollsPerSecond} polls/s, ${f.queriesPerSecond.toLocaleString('en')} queries/s (${f.sessions} sessions, one process)`,
        target: `a round within ${SCHEDULE_S} s`,
        met: yes(f.ms < SCHEDULE_S * 1000 && f.examined === 0),
      })
      rows.push({
        figure: `4.   same with push wake-ups, fallback poll every ${PUSH_FALLBACK_S} s`,
        value: `${qps(PUSH_FALLBACK_S).toLocaleString('en')} queries/s (derived), plus the polls that pushes wake`,
        target: '(informative)',
        met: '',
      })
    }
  } else failed('pollScale', '4. poll cost at scale')
  const q = r.add2dbSilent
  if (q) {
    rows.push({
      figure: `5. add2db, database silent: first run (timeoutSeconds ${q.timeoutSeconds})`,
      value: s1(q.firstMs),
      target: `≈ ${q.timeoutSeconds} s (it waits once)`,
      met: '',
    })
    rows.push({
      figure: `5. add2db, database silent: following runs (median / max of ${q.runs})`,
      value: `${q.followingMsMedian} / ${q.followingMsMax} ms`,
      target: `< ${q.targetFollowingMs} ms`,
      met: yes(q.followingMsMedian < q.targetFollowingMs),
    })
  } else failed('add2dbSilent', '5. add2db, database silent')
  const sv = r.serve
  if (sv) {
    const lat = (p: { p50Ms: number; p99Ms: number; errors: number }) => `p50 ${p.p50Ms} ms, p99 ${p.p99Ms} ms${p.errors ? `, ${p.errors} errors` : ''}`
    const mb = (sv.listBytes / 1e6).toFixed(1)
    rows.push({
      figure: `6. serve /v1/bans.txt after a change: read from the database (${sv.bans.toLocaleString('en')} active bans, ${mb} MB)`,
      value: `p50 ${sv.render.p50Ms} ms, max ${sv.render.maxMs} ms (${(sv.renderAddressesPerSecond / 1e3).toFixed(0)}k addresses/s)`,
      target: '< 2 s (well inside a minute-long pull cycle)',
      met: yes(sv.render.maxMs < 2000),
    })
    rows.push({
      figure: `6.   the unchanged list, full download, ${sv.concurrency} clients`,
      value: `${sv.list.perSecond} req/s, ${lat(sv.list)}`,
      target: '≥ 17 req/s (1,000 edge hosts, one pull a minute each)',
      met: yes(sv.list.perSecond >= 17 && sv.list.errors === 0),
    })
    rows.push({
      figure: `6.   answered 304 (If-None-Match), ${sv.concurrency} clients`,
      value: `${sv.notModified.perSecond} req/s, ${lat(sv.notModified)}`,
      target: '≥ 200 req/s',
      met: yes(sv.notModified.perSecond >= 200 && sv.notModified.errors === 0),
    })
    rows.push({
      figure: `6. serve /metrics (${sv.hosts} hosts, ${sv.bans.toLocaleString('en')} active bans): one read of the fleet`,
      value: `${sv.fleetReadMs} ms (f2b_central_fleet_read_seconds)`,
      target: "< 10 s (Prometheus's default scrape timeout)",
      met: yes(sv.fleetReadMs < 10_000),
    })
    rows.push({
      figure: `6.   scrapes, ${sv.scrapers} scrapers (a read serves the next 10 s)`,
      value: `${sv.metrics.perSecond} req/s, ${lat(sv.metrics)}`,
      target: '',
      met: sv.metrics.errors === 0 ? '' : 'NO',
    })
    rows.push({
      figure: '6. serve peak RSS (VmHWM) over all of it',
      value: `${sv.peakRssMb} MB (idle ${sv.idleRssMb} MB; after the renders ${sv.render.peakRssMb} MB; phases ${sv.list.peakRssMb} / ${sv.notModified.peakRssMb} / ${sv.metrics.peakRssMb} MB)`,
      target: '< 200 MB, and flat as the list grows (never held whole)',
      met: yes(sv.peakRssMb < 200),
    })
  } else failed('serve', '6. serve')
  const cu = r.catchUp
  if (cu) {
    const n = cu.bans.toLocaleString('en')
    rows.push({
      figure: `7. new host, ${n} active bans: all banned by its fail2ban`,
      value: `${s1(cu.readdb.allBannedMs)} through readdb vs ${s1(cu.direct.allBannedMs)} for ${n} lines written straight to the log = ${cu.ratio}×`,
      target: `≤ ${cu.targetRatio}×`,
      met: yes(cu.ratio <= cu.targetRatio),
    })
    const cpu = (ms: number | null) => (ms === null ? 'n/a' : s1(ms))
    const rss = (mb: number | null) => (mb === null ? 'n/a' : `${mb} MB`)
    rows.push({
      figure: `7.   readdb one-shot as the units start it (its launcher's V8 flags): process time, CPU, peak RSS`,
      value: `${s1(cu.readdb.processMs)}, CPU ${cpu(cu.readdb.cpuMs)}, ${rss(cu.readdb.peakRssMb)}`,
      target: `≤ ${cu.targetRssMb} MB`,
      met: cu.readdb.peakRssMb === null ? '?' : yes(cu.readdb.peakRssMb <= cu.targetRssMb),
    })
    const y = cu.v8Defaults
    rows.push({ figure: '7.   same as `node readdb.js` (V8 defaults)', value: `${s1(y.processMs)}, CPU ${cpu(y.cpuMs)}, ${rss(y.peakRssMb)}`, target: '(informative)', met: '' })
    const record = cu.transactions.f2b_record_decisions
    rows.push({
      figure: `7.   longest transaction (batches of ${cu.batchSize})`,
      value: `${cu.longestTransactionMs} ms${record ? ` (${record.count} batches: median ${record.medianMs} ms, p99 ${record.p99Ms} ms)` : ''}`,
      target: '< 1 s',
      met: yes(cu.longestTransactionMs < 1000),
    })
  } else failed('catchUp', '7. new host catch-up')
  const pu = r.push
  if (pu) {
    for (const m of pu.modes) {
      const x = pu.results[m.name]
      if (!x) continue
      const ms = (v: { p50: number; p99: number }) => `p50 ${s1(v.p50)}, p99 ${s1(v.p99)}`
      const what = `${m.name}, schedule ${m.schedule === '* * * * * *' ? '1 s' : '60 s'}`
      const complete = x.missing === 0 && x.doubleBans === 0
      const note = complete ? '' : ` (${x.missing} never banned, ${x.doubleBans} banned twice)`
      rows.push({
        figure: `8. A's ban → B's and C's ban, ${what} (${x.samples} bans on 3 hosts)`,
        value: ms(x.banToBanMs) + note,
        target: m.name === 'push' ? `p99 < ${s1(pu.targets.banToBanP99Ms)}` : '(side by side)',
        met: m.name === 'push' ? yes(complete && x.banToBanMs.p99 < pu.targets.banToBanP99Ms) : '',
      })
      rows.push({
        figure: `8.   attack's last log line on A → B's and C's ban, ${what}`,
        value: ms(x.lineToBanMs),
        target: m.name === 'push' ? `p99 < ${s1(pu.targets.lineToBanP99Ms)}` : '(side by side)',
        met: m.name === 'push' ? yes(complete && x.lineToBanMs.p99 < pu.targets.lineToBanP99Ms) : '',
      })
    }
    const fc = pu.fail2banClient
    rows.push({
      figure: '8.   one fail2ban-client call (set JAIL banip IP), median / max',
      value: `${fc.banipMsMedian} / ${fc.banipMsMax} ms (ping ${fc.pingMsMedian} ms)`,
      target: '(informative)',
      met: '',
    })
    rows.push({
      figure: "8.   the same on fail2ban's socket (readdb's hand-over), median / max",
      value: `${fc.socketBanipMsMedian} / ${fc.socketBanipMsMax} ms`,
      target: '(informative)',
      met: '',
    })
  } else failed('push', '8. push')
  const fw = r.firewall
  if (fw) {
    const n = fw.bans.toLocaleString('en')
    const mb = (x: number | null) => (x === null ? 'n/a' : `${x} MB`)
    for (const b of ['nftables', 'ipset'] as const) {
      const x = fw[b]
      rows.push({
        figure: `9. firewall ${b}: readdb --resync loading ${n} bans into empty sets`,
        value: `${s1(x.load.ms)}, peak RSS ${mb(x.load.peakRssMb)} (${b === 'nftables' ? 'nft' : 'ipset'} ${mb(x.load.toolPeakRssMb)})`,
        target: '< 2 s, < 150 MB',
        met: yes(x.load.ms < fw.targetResyncMs && (x.load.peakRssMb ?? 0) < fw.targetRssMb),
      })
      rows.push({
        figure: `9.   the same resync with the sets already right (drift ${String(x.inSync.line?.drift)})`,
        value: `${s1(x.inSync.ms)}, peak RSS ${mb(x.inSync.peakRssMb)} (tool ${mb(x.inSync.toolPeakRssMb)})`,
        target: '(informative)',
        met: '',
      })
      rows.push({
        figure: `9.   first poll of the ${n} (stamped, already in the sets: a one-shot readdb, no resync before it)`,
        value: `${s1(x.firstPoll.ms)}, peak RSS ${mb(x.firstPoll.peakRssMb)}`,
        target: '(informative)',
        met: '',
      })
      rows.push({
        figure: `9.   a poll adding ${fw.added.toLocaleString('en')} to the set of ${n}`,
        value: `${s1(x.pollAdding.ms)}, peak RSS ${mb(x.pollAdding.peakRssMb)} (tool ${mb(x.pollAdding.toolPeakRssMb)}); ${x.entriesAfter.toLocaleString('en')} entries after`,
        target: '(informative)',
        met: '',
      })
    }
  } else failed('firewall', '9. firewall mode')
  return rows
}

type Cost = { queries: number; msMedian: number; rowsRead: number | null }

function cost(c: Cost): string {
  return `${c.queries} queries, ${c.msMedian} ms${c.rowsRead === null ? '' : `, ${c.rowsRead} rows read`}`
}

/**
 * Same cost: the same number of queries, the same work in the server (rows read, within 10 %
 * or 10 rows, where MySQL counts them), and time within 2× (or 2 ms) of the small database's,
 * a loose bound because milliseconds are what a busy machine blurs.
 */
function sameCost(small: Cost, big: Cost): boolean {
  const rows = small.rowsRead === null || big.rowsRead === null || big.rowsRead <= Math.max(small.rowsRead * 1.1, small.rowsRead + 10)
  return big.queries === small.queries && rows && big.msMedian <= Math.max(small.msMedian * 2, small.msMedian + 2)
}

function print(rows: Row[], r: Results, notes: string[], machine: Record<string, unknown>, totalS: number): void {
  const cols = ['figure', 'value', 'target', 'met'] as const
  const head: Row = { figure: 'figure', value: 'measured', target: 'target', met: 'met?' }
  const width = cols.map((c) => Math.max(...[head, ...rows].map((x) => x[c].length)))
  const line = (x: Row) =>
    cols
      .map((c, i) => x[c].padEnd(width[i]!))
      .join(' │ ')
      .trimEnd()
  const o: string[] = ['']
  o.push(
    `f2b-central bench — ${machine.database}, ${machine.fail2ban}, Node ${machine.node}, ${machine.cpus} CPUs, load ${machine.loadavg1mAtStart} at start / ${machine.loadavg1mAtEnd} at end, ${totalS} s in all`,
  )
  for (const n of notes) o.push(`NOTE: ${n}`)
  o.push('')
  o.push(line(head))
  o.push(width.map((w) => '─'.repeat(w)).join('─┼─'))
  for (const x of rows) o.push(line(x))
  o.push('')
  if (r.propagation) {
    const bk = Object.entries(r.propagation.fail2banBackends)
      .map(([k, v]) => `${k}: ${v}`)
      .join(', ')
    o.push(
      `1. where the latency goes (p50 / p99 / max, ms). fail2ban backends ${bk}; ban state from ${r.propagation.banStateSource}; readdb polls that did work: median ${r.propagation.daemon.pollMsMedian} ms`,
    )
    for (const [k, v] of Object.entries(r.propagation.stagesMs)) o.push(`   ${k.padEnd(56)} ${String(v.p50).padStart(6)} ${String(v.p99).padStart(6)} ${String(v.max).padStart(6)}`)
  }
  if (r.readdbThroughput) {
    const t = r.readdbThroughput
    o.push(
      `3. the 10,000-ban poll (batchSize ${t.batchSize}, shared jail backend ${t.sharedJailBackend}), medians of ${t.rounds}: process ${t.process.wallMsMedian} ms = poll ${t.process.pollMsMedian} ms (as readdb logs it) + ${t.process.startupAndExitMsMedian} ms start/connect/exit`,
    )
    o.push(
      `   (each round: ${t.process.rounds.map((x) => x.wallMs).join(', ')} ms); with nothing following the log: ${t.processWithoutFail2ban.rounds.map((x) => x.wallMs).join(', ')} ms`,
    )
    o.push(
      `   in-process ${t.inProcess.pollMs} ms = database ${t.inProcess.dbMs} ms (${t.inProcess.queries} queries) + ban state ${t.inProcess.banStateMs} ms (${t.inProcess.banStateReads} reads) + other ${t.inProcess.otherMs} ms (decide, lines, appends+fsync ≈ ${t.inProcess.appendProbeMs} ms, kysely)`,
    )
    o.push(
      `   queries by kind: ${Object.entries(t.inProcess.byKind)
        .map(([k, v]) => `${k} ${v.count}× ${v.ms} ms`)
        .join('; ')}`,
    )
    if (Array.isArray(t.inProcess.fetchPlan)) o.push(`   plan of the fetch (EXPLAIN): ${t.inProcess.fetchPlan.join(' → ')}`)
    const a = t.inProcessAfterAnalyze
    o.push(`   after ANALYZE TABLE: ${a.pollMs} ms = database ${a.dbMs} ms; fetch ${a.byKind['select bans+join (fetch)']?.ms ?? '?'} ms in all`)
    if (Array.isArray(a.fetchPlan)) o.push(`   plan of the fetch then: ${a.fetchPlan.join(' → ')}`)
  }
  if (r.pollScale) {
    for (const s of r.pollScale.sizes) {
      const kinds = (k: Record<string, { count: number; ms: number }>) =>
        Object.entries(k)
          .map(([n, v]) => `${n}${v.count > 1 ? ` ${v.count}×` : ''} ${v.ms}`)
          .join(', ')
      o.push(`4. at ${s.bans.toLocaleString('en')} bans, ${s.hosts.toLocaleString('en')} hosts, median ms per poll by query — idle: ${kinds(s.idle.byKind)}`)
      o.push(`   ${r.pollScale.pendingPerPoll} pending: ${kinds(s.pending.byKind)}`)
      if (Array.isArray(s.fetchPlan)) o.push(`   plan of the fetch (EXPLAIN): ${s.fetchPlan.join(' → ')}`)
    }
  }
  if (r.catchUp) {
    const c = r.catchUp
    o.push(
      `5. catch-up of ${c.bans.toLocaleString('en')}: readdb's poll ${c.readdb.pollMs} ms as it logs it (process ${c.readdb.processMs} ms); its fail2ban had banned all ${c.readdb.fail2banAfterExitMs} ms after readdb exited; fail2ban alone took ${c.direct.allBannedMs} ms`,
    )
  }
  if (r.pollScale)
    o.push(
      `4. loaded: ${r.pollScale.sizes.map((s) => `${s.bans.toLocaleString('en')} bans/${s.hosts.toLocaleString('en')} hosts (${(s.rows.ban_status ?? 0).toLocaleString('en')} status rows) in ${s1(s.loadMs)}`).join(', ')}`,
    )
  if (r.push) {
    for (const [mode, x] of Object.entries(r.push.results)) {
      o.push(
        `8. where the latency goes, ${mode} (p50 / p99 / max, ms); polls on B and C that did work: ${x.pollsThatDidWork}, median ${x.pollMsMedian} ms; A's daemon took ${x.takenByDaemonOnA} of A's ${r.push.attacks} reports from add2db; A's jail follows its log with ${x.aJailBackend}`,
      )
      for (const [k, v] of Object.entries(x.stagesMs)) o.push(`   ${k.padEnd(60)} ${String(v.p50).padStart(6)} ${String(v.p99).padStart(6)} ${String(v.max).padStart(6)}`)
    }
  }
  o.push(`results: bench/results.json`)
  process.stdout.write(`${o.join('\n')}\n`)
}

let code = 1
try {
  running = main()
  code = await running
} catch (err) {
  if (!interrupted) process.stderr.write(`bench failed: ${(err as Error).stack ?? err}\n`)
} finally {
  await cleanupAll()
}
if (interrupted !== undefined) await interrupted // exits 130 once its cleanup is done
process.exit(code)
