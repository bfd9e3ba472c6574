import type { CentralDb } from '../db/db-adapter.js'
import { withRetry } from '../db/retry.js'
import { UsageError } from '../errors.js'
import { formatDuration } from '../time/duration.js'

export interface PurgeOptions {
  /** Keep bans that expired less than this many seconds ago. */
  readonly olderThanSeconds: number
  /** Allow a retention under one day (a typo such as `1h` for `1d` would erase the audit trail). */
  readonly force?: boolean
  /** Bans deleted per transaction. Default 1000. */
  readonly batchSize?: number
}

export interface PurgeResult {
  readonly bans: number
  /** ban_status rows removed with them (by the foreign key's ON DELETE CASCADE). */
  readonly statuses: number
}

/** Shortest retention `purge` accepts without `force`. */
export const MIN_RETENTION_SECONDS = 86400

/** Refuse a retention under one day unless forced (UsageError, exit 2): checked before anything is opened. */
export function checkRetention(olderThanSeconds: number, force: boolean): void {
  if (olderThanSeconds < MIN_RETENTION_SECONDS && !force) {
    throw new UsageError(`purge: --older-than ${formatDuration(olderThanSeconds)} is under 1 day`, 'add --force to purge bans that recent')
  }
}

/**
 * Delete bans that expired more than `olderThanSeconds` ago, with their host statuses (ON
 * DELETE CASCADE; SQLite enforces it because openSqlite turns `foreign_keys` on). Permanent
 * bans never expire and are kept. One bounded batch per transaction, so neither dialect
 * holds the table for long. Throws UsageError for a retention under a day unless `force`.
 */
export async function purgeBans(central: CentralDb, options: PurgeOptions): Promise<PurgeResult> {
  checkRetention(options.olderThanSeconds, options.force ?? false)
  const { db, adapter } = central
  const batchSize = options.batchSize ?? 1000
  const cutoff = () => adapter.nowPlusSeconds(-options.olderThanSeconds)
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
