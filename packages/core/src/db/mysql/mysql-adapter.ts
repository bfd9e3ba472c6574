import { sql, type RawBuilder, type Transaction } from 'kysely'
import type { Database } from '../../schema/database.js'
import type { DbAdapter } from '../db-adapter.js'

const ER_LOCK_WAIT_TIMEOUT = 1205
const ER_LOCK_DEADLOCK = 1213
const ER_NO_SUCH_TABLE = 1146
const ER_DUP_ENTRY = 1062

function errno(err: unknown): number | undefined {
  const e = err as { errno?: unknown; cause?: unknown }
  if (typeof e?.errno === 'number') return e.errno
  return e?.cause ? errno(e.cause) : undefined
}

/** MySQL 8 / MariaDB 10.6+. Sessions run with time_zone '+00:00' (see mysql-database.ts). */
export const mysqlAdapter: DbAdapter = {
  name: 'mysql',
  idType: 'bigint',
  timestampType: 'datetime(3)',
  nowDefault: sql`CURRENT_TIMESTAMP(3)`,
  tableOptions: sql`ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin`,

  now: (): RawBuilder<string> => sql<string>`CURRENT_TIMESTAMP(3)`,
  nowPlusSeconds: (seconds) => sql<string>`CURRENT_TIMESTAMP(3) + INTERVAL ${seconds} SECOND`,

  async selectUnstampedBanIds(trx: Transaction<Database>, limit) {
    // A row another transaction is still inserting is locked by it: SKIP LOCKED passes over
    // it instead of waiting, and a later stamper picks it up once it has committed.
    const rows = await trx
      .selectFrom('bans')
      .select('id')
      .where('seq', 'is', null)
      .orderBy('id')
      .limit(limit)
      .forUpdate()
      .skipLocked()
      .execute()
    return rows.map((r) => Number(r.id))
  },

  isRetryable: (err) => {
    const n = errno(err)
    return n === ER_LOCK_DEADLOCK || n === ER_LOCK_WAIT_TIMEOUT
  },
  isDuplicateKey: (err) => errno(err) === ER_DUP_ENTRY,
  isMissingTable: (err) => errno(err) === ER_NO_SUCH_TABLE,
}
