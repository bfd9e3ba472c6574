import type { CentralDb } from '../db-adapter.js'
import { withRetry } from '../retry.js'

export interface PurgeResult {
  readonly bans: number
  /** ban_status rows removed with them (by the foreign key's ON DELETE CASCADE). */
  readonly statuses: number
}

/**
 * Delete bans that expired more than `olderThanSeconds` ago by the database's clock, with
 * their host statuses (ON DELETE CASCADE; SQLite enforces it because openSqlite turns
 * `foreign_keys` on). Permanent bans never expire and are kept. One bounded batch per
 * transaction, so neither dialect holds the table for long.
 */
export async function deleteBansExpiredBefore(central: CentralDb, olderThanSeconds: number, batchSize: number): Promise<PurgeResult> {
  const { db, adapter } = central
  const cutoff = () => adapter.nowPlusSeconds(-olderThanSeconds)
  let bans = 0
  let statuses = 0
  for (;;) {
    const rows = await db.selectFrom('bans').select('id').where('expires_at', '<', cutoff()).orderBy('id').limit(batchSize).execute()
    const ids = rows.map((r) => Number(r.id))
    if (ids.length === 0) break
    const done = await withRetry(adapter, () =>
      db.transaction().execute(async (trx) => {
        const { n } = await trx
          .selectFrom('ban_status')
          .select((eb) => eb.fn.countAll<number>().as('n'))
          .where('ban_id', 'in', ids)
          .executeTakeFirstOrThrow()
        const deleted = await trx.deleteFrom('bans').where('id', 'in', ids).where('expires_at', '<', cutoff()).executeTakeFirst()
        return { bans: Number(deleted.numDeletedRows), statuses: Number(n) }
      }),
    )
    bans += done.bans
    statuses += done.statuses
    if (done.bans === 0) break
  }
  return { bans, statuses }
}
