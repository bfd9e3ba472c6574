import type { CentralDb } from '../db-adapter.js'
import { isActiveBan, isHeld } from './active-ban.js'

/** One active ban as stored (not yet re-validated): what a firewall resync needs of it. */
export interface FirewallBanRow {
  readonly id: number
  readonly ip: string
  /** Stored text; null: permanent. */
  readonly expiresAt: string | null
}

/**
 * A page of active, unheld bans after id `afterId`, by id, judged at `asOf` (stored text, the
 * same moment for every page). One row per ban: the caller keeps each address's longest, which
 * costs less here than a GROUP BY with MAX over every active ban on MariaDB.
 */
export async function selectFirewallBanPage(central: CentralDb, q: { readonly asOf: string; readonly afterId: number; readonly size: number }): Promise<FirewallBanRow[]> {
  const { db, adapter } = central
  const rows = await db
    .selectFrom('bans as b')
    .select(['b.id', 'b.ip', 'b.expires_at'])
    .where('b.id', '>', q.afterId)
    .where(isActiveBan(adapter, 'b', q.asOf))
    .where((eb) => eb.not(isHeld()))
    .orderBy('b.id')
    .limit(q.size)
    .execute()
  return rows.map((r) => ({ id: Number(r.id), ip: r.ip, expiresAt: r.expires_at === null ? null : String(r.expires_at) }))
}
