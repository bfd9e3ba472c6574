import { BanStatus } from '../../schema/ban-status.js'
import type { CentralDb } from '../db-adapter.js'

/** One reason a host could not apply bans (status 3), with how often and when last. */
export interface HostErrorReason {
  readonly host: string
  /** As stored (free text from the host: hostile until escaped). */
  readonly error: string | null
  readonly count: number
  /** Stored time text of the latest. */
  readonly last: string
  /** One of the addresses it failed on. */
  readonly example: string
}

/**
 * Errors (status 3) recorded since `since` (stored time text), grouped by host and reason,
 * the latest first; driven per host through the `ban_status (host_id, status)` index.
 */
export async function listRecentErrorReasons(central: CentralDb, since: string, limit: number): Promise<HostErrorReason[]> {
  const rows = await central.db
    .selectFrom('hosts as h')
    .innerJoin('ban_status as s', (j) => j.onRef('s.host_id', '=', 'h.id').on('s.status', '=', BanStatus.Error))
    .innerJoin('bans as b', 'b.id', 's.ban_id')
    .where('s.updated_at', '>=', since)
    .groupBy(['h.name', 's.error'])
    .select((eb) => ['h.name', 's.error', eb.fn.countAll<number>().as('n'), eb.fn.max('s.updated_at').as('last'), eb.fn.max('b.ip').as('example')])
    .orderBy('last', 'desc')
    .limit(limit)
    .execute()
  return rows.map((r) => ({ host: r.name, error: r.error, count: Number(r.n), last: String(r.last), example: String(r.example) }))
}
