import type { CentralDb } from '../db-adapter.js'
import { fromDbTime } from '../../time/db-time.js'

/** The database's current time: ages are measured against it, never against this host's clock. */
export async function readDatabaseNow(central: CentralDb): Promise<Date> {
  const row = await central.db.selectNoFrom(central.adapter.now().as('now')).executeTakeFirstOrThrow()
  return fromDbTime(String(row.now))
}
