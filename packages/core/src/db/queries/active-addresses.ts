import type { CentralDb } from '../db-adapter.js'
import { isActiveBan, isHeld } from './active-ban.js'

/** One actively banned address as stored (not yet re-validated), with when its last ban ends. */
export interface ActiveAddressRow {
  readonly ip: string
  /** The latest expiry of its active bans, as stored text. */
  readonly expiresAt: string | null
  /** At least one of its active bans is permanent. */
  readonly permanent: boolean
}

/** Every actively banned address once, whatever jail or reporter; held bans are not applied anywhere, so not listed. */
export async function selectActiveAddresses(central: CentralDb): Promise<ActiveAddressRow[]> {
  const { db, adapter } = central
  const rows = await db
    .selectFrom('bans as b')
    .select((eb) => [
      'b.ip',
      eb.fn.max('b.expires_at').as('expires_at'),
      eb.fn.max(eb.case().when('b.expires_at', 'is', null).then(1).else(0).end()).as('permanent'),
    ])
    .where(isActiveBan(adapter))
    .where((eb) => eb.not(isHeld()))
    .groupBy('b.ip')
    .execute()
  return rows.map((r) => ({ ip: r.ip, expiresAt: r.expires_at === null ? null : String(r.expires_at), permanent: Number(r.permanent) === 1 }))
}

/**
 * Which of `ips` an active, unheld ban still names: an unban that ends one ban must not take
 * an address out of a jail while another ban of it is still in force.
 */
export async function stillBanned(central: CentralDb, ips: readonly string[]): Promise<Set<string>> {
  const found = new Set<string>()
  const { db, adapter } = central
  for (let i = 0; i < ips.length; i += 500) {
    const rows = await db
      .selectFrom('bans as b')
      .select('b.ip')
      .where('b.ip', 'in', ips.slice(i, i + 500))
      .where(isActiveBan(adapter))
      .where((eb) => eb.not(isHeld()))
      .execute()
    for (const r of rows) found.add(r.ip)
  }
  return found
}
