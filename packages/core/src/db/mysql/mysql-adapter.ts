import { sql, type RawBuilder, type Transaction } from 'kysely'
import type { Database } from '../../schema/database.js'
import type { DbAdapter } from '../db-adapter.js'
import { mysqlErrors } from './mysql-errors.js'

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

  ...mysqlErrors,
}
