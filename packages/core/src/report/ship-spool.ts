import type { CentralDb } from '../db/db-adapter.js'
import { insertBan } from '../db/queries/bans.js'
import { readSpool, removeSpoolEntry } from './spool.js'

/**
 * Store every spooled ban (each keeps its key and first-seen time, so shipping twice stores
 * once), removing each file only after its ban is committed. Returns how many were shipped.
 * Entries that fail validation stay in place, to be looked at, and are never stored.
 */
export async function shipSpool(central: CentralDb, dir: string): Promise<number> {
  let shipped = 0
  for (const item of readSpool(dir)) {
    if (!('entry' in item)) continue
    const { key, host, reportedAt, ...ban } = item.entry
    // Its age, not its time: this host's clock may be off, but it measured both ends.
    await insertBan(central, host, null, ban, { reportKey: key, ageMs: Date.now() - Date.parse(reportedAt) })
    removeSpoolEntry(item.path)
    shipped++
  }
  return shipped
}
