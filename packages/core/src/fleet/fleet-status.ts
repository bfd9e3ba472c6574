import type { CentralDb } from '../db/db-adapter.js'
import { BanStatus } from '../schema/ban-status.js'
import { fromDbTime } from '../time/db-time.js'
import { readDatabaseNow } from './database-now.js'

/** One host's health as `f2b-central status` shows it. Times are ISO 8601 UTC. */
export interface HostHealth {
  readonly name: string
  readonly lastSeen: string
  /** Seconds between last_seen and the database's now. */
  readonly secondsSinceSeen: number
  /** Bans this host has not decided yet: stamped after its cursor or unstamped, without a decided status, plus its status-0 rows. */
  readonly pending: number
  /** Report time of the oldest pending ban, null when nothing is pending. */
  readonly oldestPendingAt: string | null
  readonly oldestPendingSeconds: number | null
  /** Status-3 rows updated within the last day. */
  readonly errorsLastDay: number
  /** Not seen for longer than the stale threshold. */
  readonly stale: boolean
}

export interface FleetStatus {
  /** The database's clock when the status was read. */
  readonly now: string
  readonly staleAfterSeconds: number
  readonly hosts: readonly HostHealth[]
  readonly staleHosts: number
  readonly hostsWithErrors: number
  /** No host stale and no host with errors in the last day. */
  readonly healthy: boolean
}

export interface ReadFleetStatusOptions {
  /** A host not seen for longer than this is stale; `status` defaults it to 5 minutes. */
  readonly staleAfterSeconds: number
}

const DAY = 86400

interface Tally {
  n: number
  oldest: string | null
}

/**
 * The fleet at a glance: every registered host with when it was last seen, what it still
 * has to decide and its recent errors. Four grouped queries, each driven from the small
 * hosts table through an index (`bans.seq` above the cursor, `ban_status (host_id,
 * status)`), so the cost follows what is pending and not the size of the history.
 */
export async function readFleetStatus(central: CentralDb, options: ReadFleetStatusOptions): Promise<FleetStatus> {
  const { db, adapter } = central
  const now = await readDatabaseNow(central)
  const hosts = await db.selectFrom('hosts').select(['id', 'name', 'last_seen']).orderBy('name').execute()

  const pendingAfterCursor = await db
    .selectFrom('hosts as h')
    .innerJoin('bans as b', (j) => j.onRef('b.seq', '>', 'h.cursor_seq'))
    .leftJoin('ban_status as s', (j) => j.onRef('s.ban_id', '=', 'b.id').onRef('s.host_id', '=', 'h.id'))
    .where((eb) => eb.or([eb('s.status', 'is', null), eb('s.status', '=', BanStatus.Pending)]))
    .groupBy('h.id')
    .select((eb) => ['h.id', eb.fn.countAll<number>().as('n'), eb.fn.min('b.created_at').as('oldest')])
    .execute()
  // Committed bans no poller has stamped yet: pending for every host that has not decided them.
  const pendingUnstamped = await db
    .selectFrom('hosts as h')
    .innerJoin('bans as b', (j) => j.on('b.seq', 'is', null))
    .leftJoin('ban_status as s', (j) => j.onRef('s.ban_id', '=', 'b.id').onRef('s.host_id', '=', 'h.id'))
    .where((eb) => eb.or([eb('s.status', 'is', null), eb('s.status', '=', BanStatus.Pending)]))
    .groupBy('h.id')
    .select((eb) => ['h.id', eb.fn.countAll<number>().as('n'), eb.fn.min('b.created_at').as('oldest')])
    .execute()
  // Retries: status 0 rows at or below the cursor (those above it were counted already).
  const retries = await db
    .selectFrom('hosts as h')
    .innerJoin('ban_status as s', (j) => j.onRef('s.host_id', '=', 'h.id').on('s.status', '=', BanStatus.Pending))
    .innerJoin('bans as b', 'b.id', 's.ban_id')
    .whereRef('b.seq', '<=', 'h.cursor_seq')
    .groupBy('h.id')
    .select((eb) => ['h.id', eb.fn.countAll<number>().as('n'), eb.fn.min('b.created_at').as('oldest')])
    .execute()
  const errors = await db
    .selectFrom('hosts as h')
    .innerJoin('ban_status as s', (j) => j.onRef('s.host_id', '=', 'h.id').on('s.status', '=', BanStatus.Error))
    .where('s.updated_at', '>=', adapter.nowPlusSeconds(-DAY))
    .groupBy('h.id')
    .select((eb) => ['h.id', eb.fn.countAll<number>().as('n')])
    .execute()

  const pending = new Map<number, Tally>()
  for (const r of [...pendingAfterCursor, ...pendingUnstamped, ...retries]) {
    const t = pending.get(Number(r.id)) ?? { n: 0, oldest: null }
    t.n += Number(r.n)
    const oldest = r.oldest === null ? null : String(r.oldest)
    if (oldest !== null && (t.oldest === null || fromDbTime(oldest) < fromDbTime(t.oldest))) t.oldest = oldest
    pending.set(Number(r.id), t)
  }
  const errorCount = new Map(errors.map((r) => [Number(r.id), Number(r.n)]))
  const ageOf = (text: string) => Math.max(0, (now.getTime() - fromDbTime(text).getTime()) / 1000)

  const health = hosts.map((h): HostHealth => {
    const p = pending.get(Number(h.id)) ?? { n: 0, oldest: null }
    const secondsSinceSeen = ageOf(h.last_seen)
    return {
      name: h.name,
      lastSeen: fromDbTime(h.last_seen).toISOString(),
      secondsSinceSeen,
      pending: p.n,
      oldestPendingAt: p.oldest === null ? null : fromDbTime(p.oldest).toISOString(),
      oldestPendingSeconds: p.oldest === null ? null : ageOf(p.oldest),
      errorsLastDay: errorCount.get(Number(h.id)) ?? 0,
      stale: secondsSinceSeen > options.staleAfterSeconds,
    }
  })
  const staleHosts = health.filter((h) => h.stale).length
  const hostsWithErrors = health.filter((h) => h.errorsLastDay > 0).length
  return {
    now: now.toISOString(),
    staleAfterSeconds: options.staleAfterSeconds,
    hosts: health,
    staleHosts,
    hostsWithErrors,
    healthy: staleHosts === 0 && hostsWithErrors === 0,
  }
}
