import type { Db } from '../db-adapter.js'

/**
 * The addresses this host applied (status 1) whose fleet ban expired in (`since`, `until`]
 * and that no other active ban still names. A range on `bans.expires_at` joined to the
 * status primary key: cost follows what expired, not history.
 */
export async function findExpiredApplied(db: Db, hostId: number, since: string, until: string): Promise<string[]> {
  const expired = await db
    .selectFrom('bans as b')
    .innerJoin('ban_status as s', (j) => j.onRef('s.ban_id', '=', 'b.id').on('s.host_id', '=', hostId))
    .select('b.ip')
    .where('s.status', '=', 1)
    .where('b.expires_at', '>', since)
    .where('b.expires_at', '<=', until)
    .execute()
  const candidates = [...new Set(expired.map((r) => r.ip))]
  if (candidates.length === 0) return []
  const active = await db
    .selectFrom('bans')
    .select('ip')
    .where('ip', 'in', candidates)
    .where('revoked_at', 'is', null)
    .where((eb) => eb.or([eb('expires_at', 'is', null), eb('expires_at', '>', until)]))
    .execute()
  const stillBanned = new Set(active.map((r) => r.ip))
  return candidates.filter((ip) => !stillBanned.has(ip))
}

/** Record that everything that ran out up to `until` has been taken out. */
export async function markSwept(db: Db, hostId: number, until: string): Promise<void> {
  await db.updateTable('hosts').set({ swept_until: until }).where('id', '=', hostId).execute()
}
