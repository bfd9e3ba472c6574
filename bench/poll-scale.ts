// Figure 4: what a poll costs as the central database grows. 1,000 registered hosts and
// 1,000,000 bans (every ban stamped, seq = id; the reporter's status row for each; the polling
// host's own status row for each, as a host that has been polling all along has), every
// cursor at the top. Measured in-process with pollOnce, queries counted with onQuery, ban
// state from a fail2ban-format file (scripts/fail2ban-state-db.mjs) so fail2ban is not what
// is measured; the same at 1,000 bans, and 1,000,000 bans from a small fleet (3 hosts: the
// database plans the fetch differently), measured side by side, alternating. At 1,000 hosts,
// also one round of the whole fleet: every host polls once (idle), from a few sessions of this
// one process: an honest simulation of many hosts against one MariaDB, not many machines.
import { join } from 'node:path'
import type { CentralDb } from '@f2b-central/core/db/db-adapter'
import { SqliteBanState } from '@f2b-central/core/fail2ban/sqlite-ban-state'
import { pollOnce, type PollState } from '@f2b-central/core/poll/poll'
import { createFail2banStateDb } from '../scripts/fail2ban-state-db.mjs'
import { createBenchDb, explainFetch, insertPendingBans, measureReads, openTracked, type BenchDb, type Dialect } from './central.js'
import { median, progress, QueryCounter, round } from './util.js'

/** The polling host is the last one; host 2 reports the pending bans. */
const REPORTER_ID = 2
const hostName = (id: number) => `fleet-${String(id).padStart(4, '0')}`

export interface Size {
  bans: number
  hosts: number
}

interface Scale {
  bans: number
  hosts: number
  db: BenchDb
  central: CentralDb
  counter: QueryCounter
  banState: SqliteBanState
  sharedLog: string
  loadMs: number
  rows: Record<string, number>
  state: PollState
}

interface Sample {
  queries: number
  /** Rows the server read (Handler_read_*), MySQL only. */
  rowsRead: number | null
  ms: number
  dbMs: number
  byKind: Record<string, { count: number; ms: number }>
}

export async function pollScale(dialect: Dialect, dir: string, o: { sizes: Size[]; idleRuns: number; pendingRuns: number; pending: number; fleetSessions: number }) {
  const scales: Scale[] = []
  for (const { bans, hosts } of o.sizes) {
    progress(`figure 4: loading ${bans.toLocaleString('en')} bans, ${hosts.toLocaleString('en')} hosts`)
    const db = await createBenchDb(dialect, `scale${bans}x${hosts}`, dir)
    const t = performance.now()
    await load(db, bans, hosts)
    const loadMs = performance.now() - t
    const rows: Record<string, number> = {}
    for (const table of ['hosts', 'bans', 'ban_status']) rows[table] = Number((await db.query<{ n: number }>(`SELECT COUNT(*) AS n FROM ${table}`))[0]?.n)
    const counter = new QueryCounter()
    // One connection: every query of a poll on one session, for its Handler_read counters.
    const central = await openTracked(db, counter.onQuery, 1)
    const statePath = join(dir, `fail2ban-state-${bans}x${hosts}.sqlite3`)
    createFail2banStateDb(statePath)
    scales.push({ bans, hosts, db, central, counter, banState: new SqliteBanState(statePath), sharedLog: join(dir, `shared-${bans}x${hosts}.log`), loadMs, rows, state: {} })
  }

  const poll = async (s: Scale): Promise<Sample & { added: number; examined: number }> => {
    let ms = 0
    let q!: ReturnType<QueryCounter['stop']>
    const { value: r, rowsRead } = await measureReads(s.central, async () => {
      s.counter.start()
      const t = performance.now()
      // state carried from poll to poll, as readdb --daemon does
      const result = await pollOnce({
        central: s.central,
        hostName: hostName(s.hosts),
        machineId: null,
        banState: s.banState,
        sharedLog: s.sharedLog,
        recentBanFraction: 0.4,
        batchSize: 1000,
        state: s.state,
      })
      ms = performance.now() - t
      q = s.counter.stop()
      return result
    })
    return { queries: q.queries, rowsRead, ms, dbMs: q.dbMs, byKind: q.byKind, added: r.added, examined: r.examined }
  }

  progress(`figure 4: ${o.idleRuns} idle polls and ${o.pendingRuns} polls with ${o.pending} pending per size, alternating sizes`)
  for (const s of scales) {
    const warm = await poll(s) // connections, buffer pool
    if (warm.examined !== 0) throw new Error(`warm-up poll at ${s.bans} bans/${s.hosts} hosts was not idle: examined ${warm.examined}`)
  }
  const idle = new Map<Scale, Sample[]>(scales.map((s) => [s, []]))
  for (let i = 0; i < o.idleRuns; i++) {
    for (const s of scales) {
      const r = await poll(s)
      if (r.examined !== 0) throw new Error(`idle poll at ${s.bans} bans examined ${r.examined}`)
      idle.get(s)!.push(r)
    }
  }
  // The whole fleet polling once, before any ban is pending: every one of the 1,000 hosts
  // (its own name and state, as its daemon would), from `fleetSessions` sessions of this one
  // process against the one database, a warm-up round first. How long one round takes says how many hosts one server
  // keeps up with at a given schedule.
  const fleet = new Map<Scale, FleetRound>()
  for (const s of scales.filter((x) => x.hosts >= 1000)) fleet.set(s, await fleetRound(s, o.fleetSessions))
  const pending = new Map<Scale, Sample[]>(scales.map((s) => [s, []]))
  let next = 0
  for (let i = 0; i < o.pendingRuns; i++) {
    for (const s of scales) {
      const list = Array.from({ length: o.pending }, () => {
        const k = next++
        return `172.16.${k >> 8}.${k & 255}`
      })
      await insertPendingBans(s.central, REPORTER_ID, list)
      const r = await poll(s)
      if (r.added !== o.pending) throw new Error(`poll at ${s.bans} bans added ${r.added}, expected ${o.pending}`)
      pending.get(s)!.push(r)
    }
  }
  // The plan of the fetch for the last pending batch, at each size.
  const plans = new Map<Scale, unknown>()
  for (const s of scales) {
    const host = await s.central.db.selectFrom('hosts').select(['id', 'cursor_seq']).where('name', '=', hostName(s.hosts)).executeTakeFirstOrThrow()
    plans.set(s, await explainFetch(s.central, Number(host.id), Number(host.cursor_seq) - o.pending, 1000))
  }
  const summary = (xs: Sample[]) => ({
    queries: median(xs.map((x) => x.queries)),
    rowsRead: xs[0]?.rowsRead === null ? null : median(xs.map((x) => x.rowsRead!)),
    rowsReadMax: xs[0]?.rowsRead === null ? null : Math.max(...xs.map((x) => x.rowsRead!)),
    queriesMin: Math.min(...xs.map((x) => x.queries)),
    queriesMax: Math.max(...xs.map((x) => x.queries)),
    msMedian: round(median(xs.map((x) => x.ms)), 1),
    dbMsMedian: round(median(xs.map((x) => x.dbMs)), 1),
    ms: xs.map((x) => round(x.ms, 1)),
    // per kind of query: how many per poll, median ms per poll
    byKind: Object.fromEntries(
      [...new Set(xs.flatMap((x) => Object.keys(x.byKind)))].map((k) => [
        k,
        { count: median(xs.map((x) => x.byKind[k]?.count ?? 0)), ms: round(median(xs.map((x) => x.byKind[k]?.ms ?? 0)), 2) },
      ]),
    ),
  })
  const out = scales.map((s) => ({
    bans: s.bans,
    hosts: s.hosts,
    rows: s.rows,
    loadMs: round(s.loadMs, 0),
    idle: summary(idle.get(s)!),
    pending: summary(pending.get(s)!),
    fetchPlan: plans.get(s),
    fleetRound: fleet.get(s),
  }))
  for (const s of scales) await s.central.close()
  return { pendingPerPoll: o.pending, idleRuns: o.idleRuns, pendingRuns: o.pendingRuns, banState: 'fail2ban-format file (createFail2banStateDb), empty', sizes: out }
}

interface FleetRound {
  hosts: number
  sessions: number
  /** One idle poll by every host, once. */
  ms: number
  queries: number
  pollsPerSecond: number
  queriesPerSecond: number
  /** Polls that found work (none expected: every cursor is at the top). */
  examined: number
}

async function fleetRound(s: Scale, sessions: number): Promise<FleetRound> {
  progress(`figure 4: every one of ${s.hosts.toLocaleString('en')} hosts polls once (${sessions} sessions), at ${s.bans.toLocaleString('en')} bans`)
  const counter = new QueryCounter()
  const central = await openTracked(s.db, counter.onQuery, sessions)
  const states = new Map<number, PollState>()
  const round1 = async () => {
    let next = 1
    let examined = 0
    await Promise.all(
      Array.from({ length: sessions }, async () => {
        for (let id = next++; id <= s.hosts; id = next++) {
          const state = states.get(id) ?? {}
          states.set(id, state)
          const r = await pollOnce({
            central,
            hostName: hostName(id),
            machineId: null,
            banState: s.banState,
            sharedLog: s.sharedLog,
            recentBanFraction: 0.4,
            batchSize: 1000,
            state,
          })
          examined += r.examined
        }
      }),
    )
    return examined
  }
  await round1() // connections, every host's allowlist state
  counter.start()
  const t = performance.now()
  const examined = await round1()
  const ms = performance.now() - t
  const q = counter.stop()
  await central.close()
  return {
    hosts: s.hosts,
    sessions,
    ms: round(ms, 0),
    queries: q.queries,
    pollsPerSecond: round((s.hosts * 1000) / ms, 0),
    queriesPerSecond: round((q.queries * 1000) / ms, 0),
    examined,
  }
}

/** Bulk-load one size: INSERT … SELECT from a number sequence, no per-row round trips. */
async function load(db: BenchDb, n: number, hosts: number): Promise<void> {
  const seq = await sequenceSource(db, Math.max(n, hosts))
  const poller = hosts
  const upTo = (m: number) => `(SELECT seq FROM ${seq} WHERE seq <= ${m}) AS s`
  const sqlite = db.dialect === 'sqlite'
  const int = sqlite ? 'INTEGER' : 'SIGNED'
  const cat = (...parts: string[]) => (sqlite ? parts.join(' || ') : `CONCAT(${parts.join(', ')})`)
  const ts = (offsetExpr: string) => (sqlite ? `strftime('%Y-%m-%d %H:%M:%f', 'now', (${offsetExpr}) || ' seconds')` : `CURRENT_TIMESTAMP(3) + INTERVAL (${offsetExpr}) SECOND`)
  if (!sqlite) await db.exec('SET SESSION foreign_key_checks = 0, unique_checks = 0')
  await db.exec(
    `INSERT INTO hosts (id, name, cursor_seq) SELECT seq, ${sqlite ? `'fleet-' || printf('%04d', seq)` : `CONCAT('fleet-', LPAD(seq, 4, '0'))`}, ${n} FROM ${upTo(hosts)}`,
  )
  // created over the last n seconds, banned for a day; seq = id (all stamped)
  await db.exec(`INSERT INTO bans (id, seq, ip, jail, protocol, port, reporter_id, bantime, created_at, expires_at)
    SELECT seq, seq, ${cat(`'10.'`, '((seq >> 16) & 255)', `'.'`, '((seq >> 8) & 255)', `'.'`, '(seq & 255)')}, 'sshd', 'tcp', 'ssh', 1 + seq % ${hosts}, 86400,
      ${ts(`CAST(seq AS ${int}) - ${n}`)}, ${ts(`CAST(seq AS ${int}) - ${n} + 86400`)}
    FROM ${upTo(n)}`)
  // The reporter's own status (add2db writes it) and the polling host's status for every ban it has passed.
  await db.exec(`INSERT INTO ban_status (host_id, ban_id, status) SELECT 1 + seq % ${hosts}, seq, 1 FROM ${upTo(n)}`)
  await db.exec(`INSERT INTO ban_status (host_id, ban_id, status) SELECT ${poller}, seq, 1 FROM ${upTo(n)} WHERE 1 + seq % ${hosts} <> ${poller}`)
  await db.exec(`UPDATE ban_sequence SET value = ${n} WHERE id = 1`)
  if (process.env.BENCH_ANALYZE !== '0') {
    if (sqlite) await db.exec('ANALYZE')
    else await db.query('ANALYZE TABLE hosts, bans, ban_status')
  }
}

/** MariaDB's SEQUENCE engine table, or a numbers table built from a cross join of digits. */
async function sequenceSource(db: BenchDb, n: number): Promise<string> {
  if (db.dialect === 'mysql') {
    try {
      await db.query(`SELECT seq FROM seq_1_to_${n} LIMIT 1`)
      return `seq_1_to_${n}`
    } catch {
      // not MariaDB: fall through
    }
  }
  await db.exec('CREATE TABLE bench_digits (d INTEGER PRIMARY KEY)')
  await db.exec('INSERT INTO bench_digits (d) VALUES (0),(1),(2),(3),(4),(5),(6),(7),(8),(9)')
  await db.exec('CREATE TABLE bench_seq (seq BIGINT PRIMARY KEY)')
  const digits = Math.max(1, Math.ceil(Math.log10(n + 1)))
  const terms = Array.from({ length: digits }, (_, i) => `${10 ** i} * d${i}.d`).join(' + ')
  const from = Array.from({ length: digits }, (_, i) => `bench_digits d${i}`).join(' CROSS JOIN ')
  await db.exec(`INSERT INTO bench_seq (seq) SELECT 1 + ${terms} FROM ${from} WHERE ${terms} < ${n}`)
  return 'bench_seq'
}
