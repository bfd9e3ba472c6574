import { BanStatus } from '../../schema/ban-status.js'
import type { CentralDb, Db, DbAdapter } from '../db-adapter.js'
import type { HostRow } from '../host-writes.js'
import { isActiveBan } from './active-ban.js'

const CHUNK = 500

/** A ban this host applied or found already banned (status 1 or 2) whose fleet ban ran out, as the sweep pages through them. */
export interface ExpiredApplied {
  readonly banId: number
  readonly ip: string
  /** When it ran out, as stored text. */
  readonly expiresAt: string
}

export interface ExpiredRange {
  /** Exclusive: the host's sweep mark. */
  readonly since: string
  /** Inclusive. */
  readonly until: string
  /** Continue after this one (the last of the previous page). */
  readonly after?: Pick<ExpiredApplied, 'banId' | 'expiresAt'>
}

/**
 * Up to `limit` bans this host applied (status 1) or found already banned (2: when that was
 * the shared jail, only the fleet put it there, for an earlier ban of the address whose own
 * end left it in because this one still named it) whose fleet ban expired in (`since`,
 * `until`], in (expires_at, id) order after `after`: a range on `bans.expires_at` (whose
 * index also orders by id) joined to the status primary key, so a page costs what it
 * returns, however many expired together.
 */
export async function findExpiredApplied(db: Db, hostId: number, range: ExpiredRange, limit: number): Promise<ExpiredApplied[]> {
  const { after } = range
  let query = db
    .selectFrom('bans as b')
    .innerJoin('ban_status as s', (j) => j.onRef('s.ban_id', '=', 'b.id').on('s.host_id', '=', hostId))
    .select(['b.id', 'b.ip', 'b.expires_at'])
    .where('s.status', 'in', [BanStatus.Added, BanStatus.AlreadyBanned])
    .where('b.expires_at', '>', range.since)
    .where('b.expires_at', '<=', range.until)
  if (after) {
    query = query.where((eb) => eb.or([eb('b.expires_at', '>', after.expiresAt), eb.and([eb('b.expires_at', '=', after.expiresAt), eb('b.id', '>', after.banId)])]))
  }
  const rows = await query.orderBy('b.expires_at').orderBy('b.id').limit(limit).execute()
  return rows.map((r) => ({ banId: Number(r.id), ip: r.ip, expiresAt: String(r.expires_at) }))
}

/** Of `ips`, those another ban still names that is active at `at`: they stay banned locally. */
export async function stillBannedAt(db: Db, adapter: DbAdapter, ips: readonly string[], at: string): Promise<Set<string>> {
  const out = new Set<string>()
  const wanted = [...new Set(ips)]
  for (let i = 0; i < wanted.length; i += CHUNK) {
    const rows = await db
      .selectFrom('bans as b')
      .select('b.ip')
      .where('b.ip', 'in', wanted.slice(i, i + CHUNK))
      .where(isActiveBan(adapter, 'b', at))
      .execute()
    for (const r of rows) out.add(r.ip)
  }
  return out
}

/** Record that everything that ran out up to `until` has been taken out. */
export async function markSwept(central: CentralDb, host: HostRow, until: string): Promise<void> {
  await central.adapter.hostWrites.markSwept(central.db, host, until)
}
