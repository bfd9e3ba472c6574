import type { Db } from '../db-adapter.js'

/** Bans one host may report per minute before its further reports are held. */
export async function readFloodLimit(db: Db): Promise<number> {
  const row = await db.selectFrom('fleet_settings').select('max_bans_per_minute').where('id', '=', 1).executeTakeFirstOrThrow()
  return Number(row.max_bans_per_minute)
}

/** Set the fleet's flood limit (operator). */
export async function setFloodLimit(db: Db, perMinute: number): Promise<void> {
  await db.updateTable('fleet_settings').set({ max_bans_per_minute: perMinute }).where('id', '=', 1).execute()
}
