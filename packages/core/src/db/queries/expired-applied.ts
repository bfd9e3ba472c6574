import { BanStatus } from '../../schema/ban-status.js'
import type { CentralDb, Db, DbAdapter } from '../db-adapter.js'
import type { HostRow } from '../host-writes.js'
import { isActiveBan } from './active-ban.js'

/**
 * The addresses this host applied (status 1) whose fleet ban expired in (`since`, `until`]
 * and that no other active ban still names. A range on `bans.expires_at` joined to the
 * status primary key: cost follows what expired, not history.
 */
export async function findExpiredApplied(db: Db, adapter: DbAdapter, hostId: number, since: string, until: string): Promise<string[]> {
  const expired = await db
    .selectFrom('bans as b')
    .innerJoin('ban_status as s', (j) => j.onRef('s.ban_id', '=', 'b.id').on('s.host_id', '=', hostId))
    .select('b.ip')
    .where('s.status', '=', BanStatus.Added)
    .where('b.expires_at', '>', since)
    .where('b.expires_at', '<=', until)
    .execute()
  const candidates = [...new Set(expired.map((r) => r.ip))]
  if (candidates.length === 0) return []
  const active = await db.selectFrom('bans as b').select('b.ip').where('b.ip', 'in', candidates).where(isActiveBan(adapter, 'b', until)).execute()
  const stillBanned = new Set(active.map((r) => r.ip))
  return candidates.filter((ip) => !stillBanned.has(ip))
}

/** Record that everything that ran out up to `until` has been taken out. */
export async function markSwept(central: CentralDb, host: HostRow, until: string): Promise<void> {
  await central.adapter.hostWrites.markSwept(central.db, host, until)
}
