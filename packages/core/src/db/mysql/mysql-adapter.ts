import { sql, type RawBuilder } from 'kysely'
import type { DbAdapter } from '../db-adapter.js'
import { installHostRoutines } from './host-routines.js'
import { mysqlAccounts } from './mysql-accounts.js'
import { mysqlErrors } from './mysql-errors.js'
import { routineHostWrites } from './routine-host-writes.js'

/** MySQL 8 / MariaDB 10.6+. Sessions run with time_zone '+00:00' (see mysql-database.ts). */
export const mysqlAdapter: DbAdapter = {
  name: 'mysql',
  idType: 'bigint',
  timestampType: 'datetime(3)',
  nowDefault: sql`CURRENT_TIMESTAMP(3)`,
  tableOptions: sql`ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin`,

  now: (): RawBuilder<string> => sql<string>`CURRENT_TIMESTAMP(3)`,
  nowPlusSeconds: (seconds) => sql<string>`CURRENT_TIMESTAMP(3) + INTERVAL ${seconds} SECOND`,

  hostWrites: routineHostWrites,
  accounts: mysqlAccounts,
  installRoutines: installHostRoutines,

  ...mysqlErrors,
}
