// Figure 3: one poll that applies 10,000 pending bans (distinct addresses, reported by another
// host) to a real fail2ban: ban state from fail2ban's own database (`fail2ban.database`),
// lines into the shared jail's log. Default readdb.batchSize (1000).
//   a) the real one-shot `readdb` process on host C, whose fail2ban follows the shared log:
//      wall time, peak RSS; then how long until fail2ban has banned all 10,000 (informative);
//   c) interleaved with a), the same one-shot readdb on host D, whose shared log nothing
//      follows (a fail2ban-format state file): the poll with both CPUs to itself;
//   b) once, the same poll in-process on C (core's createHostPoll, as readdb runs it): queries issued (onQuery), rows
//      the server read, where its time goes, the database's plan for its fetch; and once more
//      after ANALYZE TABLE, because that plan depends on the table's statistics.
// Every round has a fresh central database holding exactly those 10,000 bans (and new
// addresses: C's fail2ban still holds the earlier ones).
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { loadConfig } from '@f2b-central/core/config/load-config'
import type { CentralDb } from '@f2b-central/core/db/db-adapter'
import { registerHost } from '@f2b-central/core/db/queries/hosts'
import type { BanStateReader } from '@f2b-central/core/fail2ban/ban-state'
import { openBanState } from '@f2b-central/core/fail2ban/open-ban-state'
import { createHostPoll } from '@f2b-central/core/poll/host-poll'
import type { PollResult } from '@f2b-central/core/poll/poll'
import { appendLines } from '@f2b-central/core/fail2ban/shared-log'
import { formatBanLine } from '@f2b-central/core/fail2ban/shared-log-line'
import { createFail2banStateDb } from '../scripts/fail2ban-state-db.mjs'
import type { Fail2banServer } from '../test/setup/fail2ban-server.js'
import { BIN, writeHostConfig } from '../test/setup/programs.js'
import { createBenchDb, explainFetch, insertPendingBans, measureReads, openTracked, type BenchDb, type Dialect } from './central.js'
import { startServers } from './propagation.js'
import { banTimes, checkInterrupted, jailBackends, median, progress, QueryCounter, round, runTimed, sleep } from './util.js'

const SHARED = 'f2b-central-shared'

interface ProcessRound {
  wallMs: number
  /** The poll's own time, as readdb logs it. */
  pollMs: number | null
  peakRssMb: number | null
  /** fail2ban's last ban of the round, from readdb's start / exit (host C only). */
  allBannedFromStartMs?: number
  allBannedFromExitMs?: number
}

export async function readdbThroughput(dialect: Dialect, dir: string, o: { bans: number; rounds: number }) {
  progress('figure 3: starting fail2ban on host C (shared jail)')
  const { servers, stops } = await startServers([
    {
      name: 'bench-c',
      shippedFiles: true,
      jails: (d) => `[${SHARED}]\nenabled = true\nlogpath = ${d}/shared.log\n`,
      beforeStart: (s) => writeFileSync(s.path('shared.log'), ''),
    },
  ])
  const c = servers[0]!
  const stateD = join(dir, 'bench-d-fail2ban.sqlite3')
  createFail2banStateDb(stateD)

  /**
   * A fresh central database holding exactly one set of pending bans (new addresses each
   * time: C's fail2ban still holds the earlier ones), reported by a third host; C and D are
   * registered with their cursors at 0, so each sees exactly this set.
   */
  let octet = 64
  const freshRound = async (label: string) => {
    const db = await createBenchDb(dialect, `throughput_${label}`, dir)
    const central = await openTracked(db)
    const reporter = await registerHost(central.db, central.adapter, 'bench-reporter', null)
    const hostC = await registerHost(central.db, central.adapter, 'bench-c', null)
    await registerHost(central.db, central.adapter, 'bench-d', null)
    const cfgC = writeHostConfig({
      dir,
      name: 'bench-c',
      dbUrl: db.url,
      sharedLog: c.path('shared.log'),
      fail2ban: { client: c.clientArgv(), database: c.dbFile, sharedJail: SHARED },
    })
    const cfgD = writeHostConfig({ dir, name: 'bench-d', dbUrl: db.url, fail2ban: { database: stateD } })
    const set = Array.from({ length: o.bans }, (_, i) => `100.${octet}.${i >> 8}.${i & 255}`)
    octet++
    await insertPendingBans(central, reporter.id, set)
    const done = async () => {
      await central.close()
      await db.drop()
    }
    return { db, central, hostC, cfgC, cfgD, set, done }
  }
  const runReaddb = async (cfg: string, label: string): Promise<ProcessRound & { startedAt: number; exitedAt: number }> => {
    const startedAt = Date.now()
    // The launcher executed, as the units and cron start it (its #! line's node flags count).
    const r = await runTimed([BIN.readdb, '--config', cfg], { timeoutMs: 120_000 })
    const exitedAt = Date.now()
    if (r.code !== 0) throw new Error(`readdb on ${label} failed (${r.code}): ${r.stderr}`)
    const logged = JSON.parse(r.stdout.trim().split('\n').pop() ?? '{}') as Partial<PollResult> & { ms?: number }
    if (logged.added !== o.bans) throw new Error(`readdb on ${label} added ${logged.added}, expected ${o.bans}: ${r.stdout}`)
    return { wallMs: round(r.ms, 0), pollMs: logged.ms ?? null, peakRssMb: r.maxRssKb !== null ? round(r.maxRssKb / 1024, 1) : null, startedAt, exitedAt }
  }

  const withF2b: ProcessRound[] = []
  const alone: ProcessRound[] = []
  for (let i = 0; i < o.rounds; i++) {
    progress(`figure 3: round ${i + 1}/${o.rounds}: one-shot readdb with ${o.bans} pending, on C (fail2ban follows the log) then on D (nothing does)`)
    const r = await freshRound(`r${i}`)
    const rc = await runReaddb(r.cfgC, 'C')
    const banned = await waitAllBanned(c, r.set, 90_000)
    withF2b.push({
      wallMs: rc.wallMs,
      pollMs: rc.pollMs,
      peakRssMb: rc.peakRssMb,
      allBannedFromStartMs: banned.last - rc.startedAt,
      allBannedFromExitMs: banned.last - rc.exitedAt,
    })
    const rd = await runReaddb(r.cfgD, 'D')
    alone.push({ wallMs: rd.wallMs, pollMs: rd.pollMs, peakRssMb: rd.peakRssMb })
    await r.done()
  }

  progress('figure 3: the same poll in-process on C (createHostPoll), counting queries')
  let r = await freshRound('inproc')
  const config = loadConfig({ path: r.cfgC, env: {} })
  const inProcess = await pollInProcess(r.db, r.central, c, config, r.hostC.id, r.set)
  await r.done()
  // Once more after ANALYZE TABLE: how much of it is the plan that the statistics of a young,
  // fast-filled table lead to.
  progress('figure 3: again in-process, after ANALYZE TABLE')
  r = await freshRound('analyzed')
  if (r.db.dialect === 'mysql') await r.db.query('ANALYZE TABLE hosts, bans, ban_status')
  else await r.db.exec('ANALYZE')
  const inProcessAnalyzed = await pollInProcess(r.db, r.central, c, loadConfig({ path: r.cfgC, env: {} }), r.hostC.id, r.set)
  await r.done()

  // How long the poll's appends take on this file system: the same lines, batch by batch.
  const lines = Array.from({ length: o.bans }, (_, i) => formatBanLine({ ip: `100.200.${i >> 8}.${i & 255}`, jail: 'sshd', reporter: 'bench-reporter', banId: i + 1 }, new Date()))
  const t = performance.now()
  for (let i = 0; i < lines.length; i += config.readdb.batchSize) appendLines(c.path('append-probe.log'), lines.slice(i, i + config.readdb.batchSize))
  const appendMs = performance.now() - t

  const backend = jailBackends(c.logFile)[SHARED] ?? 'unknown'
  await Promise.all(stops.map((s) => s()))

  const med = (xs: ProcessRound[], f: (x: ProcessRound) => number | null | undefined) => round(median(xs.map(f).filter((v): v is number => typeof v === 'number')), 0)
  return {
    bans: o.bans,
    rounds: o.rounds,
    batchSize: config.readdb.batchSize,
    banStateSource: 'fail2ban.database (bips table of the running fail2ban)',
    sharedJailBackend: backend,
    process: {
      wallMsMedian: med(withF2b, (x) => x.wallMs),
      pollMsMedian: med(withF2b, (x) => x.pollMs),
      startupAndExitMsMedian: med(withF2b, (x) => (x.pollMs === null ? null : x.wallMs - x.pollMs)),
      peakRssMbMax: Math.max(...withF2b.map((x) => x.peakRssMb ?? NaN)),
      fail2banAllBannedFromStartMsMedian: med(withF2b, (x) => x.allBannedFromStartMs),
      fail2banAllBannedFromExitMsMedian: med(withF2b, (x) => x.allBannedFromExitMs),
      rounds: withF2b,
    },
    processWithoutFail2ban: {
      wallMsMedian: med(alone, (x) => x.wallMs),
      pollMsMedian: med(alone, (x) => x.pollMs),
      rounds: alone,
    },
    inProcess: { ...inProcess, appendProbeMs: round(appendMs, 0) },
    inProcessAfterAnalyze: inProcessAnalyzed,
    targetMs: 2000,
  }
}

async function pollInProcess(db: BenchDb, central: CentralDb, c: Fail2banServer, config: ReturnType<typeof loadConfig>, hostId: number, set: string[]) {
  const counter = new QueryCounter()
  // One connection: every query of the poll on one session, for its Handler_read counters.
  const counted = await openTracked(db, counter.onQuery, 1)
  await counted.db.selectFrom('hosts').select('id').limit(1).execute() // connect outside the measurement
  const inner = openBanState(config.fail2ban)
  let banStateMs = 0
  let banStateReads = 0
  const banState: BanStateReader = {
    async read(list, now) {
      const s = performance.now()
      try {
        return await inner.read(list, now)
      } finally {
        banStateMs += performance.now() - s
        banStateReads++
      }
    },
  }
  const before = await central.db.selectFrom('hosts').select('cursor_seq').where('id', '=', hostId).executeTakeFirstOrThrow()
  const startedAt = Date.now()
  let pollMs = 0
  let q!: ReturnType<QueryCounter['stop']>
  const { value: result, rowsRead } = await measureReads(counted, async () => {
    counter.start()
    const t = performance.now()
    const { result: r } = await createHostPoll(config, counted, { banState })()
    pollMs = performance.now() - t
    q = counter.stop()
    return r
  })
  await counted.close()
  if (result.added !== set.length) throw new Error(`the host poll added ${result.added}, expected ${set.length}`)
  // The plan of the poll's first fetch (the rows are stamped now, as they were then).
  const fetchPlan = await explainFetch(central, hostId, Number(before.cursor_seq), config.readdb.batchSize)
  const banned = await waitAllBanned(c, set, 90_000).catch(() => undefined)
  return {
    pollMs: round(pollMs, 0),
    queries: q.queries,
    rowsRead,
    bansInTable: Number((await db.query<{ n: number }>('SELECT COUNT(*) AS n FROM bans'))[0]?.n),
    dbMs: round(q.dbMs, 0),
    banStateMs: round(banStateMs, 0),
    banStateReads,
    otherMs: round(pollMs - q.dbMs - banStateMs, 0),
    byKind: q.byKind,
    fetchPlan,
    result,
    fail2banAllBannedFromPollStartMs: banned ? banned.last - startedAt : null,
  }
}

/** Wait until fail2ban's log shows a shared-jail ban for every address; first and last ban times. */
async function waitAllBanned(server: Fail2banServer, list: readonly string[], timeoutMs: number): Promise<{ first: number; last: number }> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const times = banTimes(server.logFile, SHARED)
    const got = list.map((ip) => times.get(ip)).filter((x): x is number => x !== undefined)
    if (got.length === list.length) return { first: Math.min(...got), last: Math.max(...got) }
    checkInterrupted()
    if (Date.now() > deadline) throw new Error(`fail2ban banned ${got.length} of ${list.length} within ${timeoutMs} ms`)
    await sleep(250)
  }
}
