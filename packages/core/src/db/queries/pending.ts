import { BanStatus } from '../../schema/ban-status.js'
import type { Db, DbAdapter } from '../db-adapter.js'
import { asFlag, hasExpired, isRevoked } from './active-ban.js'

/** A ban a host still has to decide on, exactly as stored (not yet re-validated). */
export interface PendingBan {
  readonly id: number
  readonly seq: number
  readonly ip: string
  readonly jail: string
  readonly reporter: string
  /** The fleet ban's ban time in seconds; -1: permanent. */
  readonly bantime: number
  /** When the fleet ban ends (the database's clock, as stored text); null: permanent. */
  readonly expiresAt: string | null
  /** This host's current status row, if any. */
  readonly status: number | null
  /** The error stored with that row (a status-0 row keeps the last temporary failure). */
  readonly error: string | null
  /** Expired by the database's clock. */
  readonly expired: boolean
  /** Ended by an operator's unban. */
  readonly revoked: boolean
}

function pendingColumns(adapter: DbAdapter) {
  return ['b.id', 'b.seq', 'b.ip', 'b.jail', 'b.reporter_id', 'b.bantime', 'b.expires_at', asFlag(hasExpired(adapter)).as('expired'), asFlag(isRevoked()).as('revoked')] as const
}

type Row = {
  id: number
  seq: number | null
  ip: string
  jail: string
  reporter_id: number
  bantime: number
  expires_at: string | null
  expired: number
  revoked: number
  status: number | null
  error: string | null
}

/**
 * Reporter names in a second, tiny query rather than a join: with the hosts table in the
 * join, MariaDB (after a bulk load, before its statistics settle) started from `hosts` and
 * sorted a reporter's whole history instead of reading the `seq` range (measured by
 * `npm run bench`: 1,000,000 rows read for 100 pending bans).
 */
async function withReporters(db: Db, rows: Row[]): Promise<PendingBan[]> {
  const ids = [...new Set(rows.map((r) => Number(r.reporter_id)))]
  const names = new Map<number, string>()
  if (ids.length > 0) {
    for (const h of await db.selectFrom('hosts').select(['id', 'name']).where('id', 'in', ids).execute()) names.set(Number(h.id), h.name)
  }
  return rows.map((r) => ({
    id: Number(r.id),
    seq: Number(r.seq),
    ip: r.ip,
    jail: r.jail,
    // A ban whose reporter row vanished still gets decided; the empty name fails validation (status 3).
    reporter: names.get(Number(r.reporter_id)) ?? '',
    bantime: Number(r.bantime),
    expiresAt: r.expires_at === null ? null : String(r.expires_at),
    status: r.status === null ? null : Number(r.status),
    error: r.error ?? null,
    expired: Number(r.expired) === 1,
    revoked: Number(r.revoked) === 1,
  }))
}

/**
 * Bans stamped after this host's cursor, oldest stamp first, with the host's status if it
 * has one (the reporter already has 1). An index range on `seq` joined to the status
 * primary key: the cost follows what is new, not the size of the table.
 */
export async function fetchBansAfterCursor(db: Db, adapter: DbAdapter, hostId: number, cursorSeq: number, limit: number): Promise<PendingBan[]> {
  const rows = await db
    .selectFrom('bans as b')
    .leftJoin('ban_status as s', (j) => j.onRef('s.ban_id', '=', 'b.id').on('s.host_id', '=', hostId))
    .select([...pendingColumns(adapter), 's.status', 's.error'])
    .where('b.seq', '>', cursorSeq)
    .orderBy('b.seq')
    .limit(limit)
    .execute()
  return withReporters(db, rows)
}

/**
 * This host's status-0 rows with a ban id above `afterId`, by ban id: bans it left pending on
 * purpose (held locally, nearly expired) or after a temporary local failure, to retry. A
 * poll pages through all of them, so none is starved by the ones that stay pending.
 */
export async function fetchRetries(db: Db, adapter: DbAdapter, hostId: number, afterId: number, limit: number): Promise<PendingBan[]> {
  const rows = await db
    .selectFrom('ban_status as s')
    .innerJoin('bans as b', 'b.id', 's.ban_id')
    .select([...pendingColumns(adapter), 's.status', 's.error'])
    .where('s.host_id', '=', hostId)
    .where('s.status', '=', BanStatus.Pending)
    .where('s.ban_id', '>', afterId)
    .orderBy('s.ban_id')
    .limit(limit)
    .execute()
  return withReporters(db, rows)
}
