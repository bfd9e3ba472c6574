import { BanStatus } from '../../schema/ban-status.js'
import type { CentralDb } from '../db-adapter.js'

/** A count per host, with the report time of the oldest ban counted (stored text). */
export interface HostTally {
  readonly hostId: number
  readonly n: number
  readonly oldest: string | null
}

/** A host's last firewall resync (migration 0008), as stored. */
export interface FirewallResyncRow {
  readonly backend: string
  readonly resyncedAt: string
  readonly entries: number
  readonly drift: number
  readonly driftTotal: number
}

/** Every registered host, by name, with its last firewall resync when it feeds kernel sets. */
export async function listHosts(central: CentralDb): Promise<{ id: number; name: string; lastSeen: string; cursorSeq: number; firewall: FirewallResyncRow | null }[]> {
  const rows = await central.db
    .selectFrom('hosts')
    .select(['id', 'name', 'last_seen', 'cursor_seq', 'firewall_backend', 'resynced_at', 'firewall_entries', 'resync_drift', 'drift_total'])
    .orderBy('name')
    .execute()
  return rows.map((h) => ({
    id: Number(h.id),
    name: h.name,
    lastSeen: String(h.last_seen),
    cursorSeq: Number(h.cursor_seq),
    firewall:
      h.firewall_backend === null || h.resynced_at === null
        ? null
        : {
            backend: h.firewall_backend,
            resyncedAt: String(h.resynced_at),
            entries: Number(h.firewall_entries ?? 0),
            drift: Number(h.resync_drift ?? 0),
            driftTotal: Number(h.drift_total),
          },
  }))
}

/** The last commit-order stamp handed out. */
export async function readSequence(central: CentralDb): Promise<number> {
  const row = await central.db.selectFrom('ban_sequence').select('value').where('id', '=', 1).executeTakeFirstOrThrow()
  return Number(row.value)
}

/**
 * What each host still has to decide, in three grouped queries, each driven from the small
 * hosts table through an index (`bans.seq` above the cursor, `ban_status (host_id,
 * status)`), so the cost follows what is pending and not the size of the history: bans
 * stamped after its cursor without a decided status, committed bans no poller has stamped
 * yet, and its status-0 retries at or below the cursor. A host may appear in several lists.
 */
export async function countPendingByHost(central: CentralDb): Promise<HostTally[]> {
  const { db } = central
  const afterCursor = await db
    .selectFrom('hosts as h')
    .innerJoin('bans as b', (j) => j.onRef('b.seq', '>', 'h.cursor_seq'))
    .leftJoin('ban_status as s', (j) => j.onRef('s.ban_id', '=', 'b.id').onRef('s.host_id', '=', 'h.id'))
    .where((eb) => eb.or([eb('s.status', 'is', null), eb('s.status', '=', BanStatus.Pending)]))
    .groupBy('h.id')
    .select((eb) => ['h.id', eb.fn.countAll<number>().as('n'), eb.fn.min('b.created_at').as('oldest')])
    .execute()
  // Held bans are unstamped too, but no host applies them until an operator releases them: not pending.
  const unstamped = await db
    .selectFrom('hosts as h')
    .innerJoin('bans as b', (j) => j.on('b.seq', 'is', null).on('b.held_at', 'is', null))
    .leftJoin('ban_status as s', (j) => j.onRef('s.ban_id', '=', 'b.id').onRef('s.host_id', '=', 'h.id'))
    .where((eb) => eb.or([eb('s.status', 'is', null), eb('s.status', '=', BanStatus.Pending)]))
    .groupBy('h.id')
    .select((eb) => ['h.id', eb.fn.countAll<number>().as('n'), eb.fn.min('b.created_at').as('oldest')])
    .execute()
  // Those above the cursor were counted already.
  const retries = await db
    .selectFrom('hosts as h')
    .innerJoin('ban_status as s', (j) => j.onRef('s.host_id', '=', 'h.id').on('s.status', '=', BanStatus.Pending))
    .innerJoin('bans as b', 'b.id', 's.ban_id')
    .whereRef('b.seq', '<=', 'h.cursor_seq')
    .groupBy('h.id')
    .select((eb) => ['h.id', eb.fn.countAll<number>().as('n'), eb.fn.min('b.created_at').as('oldest')])
    .execute()
  return [...afterCursor, ...unstamped, ...retries].map((r) => ({ hostId: Number(r.id), n: Number(r.n), oldest: r.oldest === null ? null : String(r.oldest) }))
}

/** Status-3 rows per host updated within the last `seconds`. */
export async function countRecentErrorsByHost(central: CentralDb, seconds: number): Promise<Map<number, number>> {
  const { db, adapter } = central
  const rows = await db
    .selectFrom('hosts as h')
    .innerJoin('ban_status as s', (j) => j.onRef('s.host_id', '=', 'h.id').on('s.status', '=', BanStatus.Error))
    .where('s.updated_at', '>=', adapter.nowPlusSeconds(-seconds))
    .groupBy('h.id')
    .select((eb) => ['h.id', eb.fn.countAll<number>().as('n')])
    .execute()
  return new Map(rows.map((r) => [Number(r.id), Number(r.n)]))
}

/** A host's bans kept pending by a temporary local failure, and the latest such error. */
export interface PendingErrors {
  readonly n: number
  readonly latestError: string
  /** When that error was recorded (stored text). */
  readonly latestAt: string
}

/**
 * Status-0 rows with an error per host (a full disk, fail2ban not answering: retried each
 * poll), driven from the hosts table through the `(host_id, status)` index like the counts
 * above, with the most recently recorded error: one grouped query, then one row per host
 * that has any.
 */
export async function pendingErrorsByHost(central: CentralDb): Promise<Map<number, PendingErrors>> {
  const { db } = central
  const groups = await db
    .selectFrom('hosts as h')
    .innerJoin('ban_status as s', (j) => j.onRef('s.host_id', '=', 'h.id').on('s.status', '=', BanStatus.Pending))
    .where('s.error', 'is not', null)
    .groupBy('h.id')
    .select((eb) => ['h.id', eb.fn.countAll<number>().as('n')])
    .execute()
  const out = new Map<number, PendingErrors>()
  for (const g of groups) {
    const hostId = Number(g.id)
    const row = await db
      .selectFrom('ban_status')
      .select(['error', 'updated_at'])
      .where('host_id', '=', hostId)
      .where('status', '=', BanStatus.Pending)
      .where('error', 'is not', null)
      .orderBy('updated_at', 'desc')
      .limit(1)
      .executeTakeFirst()
    if (row?.error) out.set(hostId, { n: Number(g.n), latestError: row.error, latestAt: String(row.updated_at) })
  }
  return out
}
