import type { CentralDb } from '../db/db-adapter.js'
import { deleteBansExpiredBefore, type PurgeResult } from '../db/queries/purge.js'
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
  return deleteBansExpiredBefore(central, options.olderThanSeconds, options.batchSize ?? 1000)
}
