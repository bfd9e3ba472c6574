import type { CentralDb } from '../db-adapter.js'
import { isActiveBan, isHeld } from './active-ban.js'

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
