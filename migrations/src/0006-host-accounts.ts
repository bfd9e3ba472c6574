import type { Migration } from 'kysely'
import { createTable, type SchemaDialect } from './schema-dialect.js'

/**
 * `host_accounts`: which database account speaks for which host (MySQL/MariaDB; SQLite has
 * no accounts and leaves it empty). Only the operator writes it (`f2b-central hosts add`);
 * the host routines read it to take the host from the session, never from an argument.
 */
export function hostAccounts(d: SchemaDialect): Migration {
  return {
    async up(db) {
      await createTable(db, d, 'host_accounts')
        .addColumn('account', 'varchar(80)', (c) => c.primaryKey())
        // Where the account may connect from, as in CREATE USER 'account'@'account_host'.
        .addColumn('account_host', 'varchar(255)', (c) => c.notNull())
        .addColumn('host_id', d.idType, (c) => c.notNull().references('hosts.id'))
        .addColumn('created_at', d.timestampType, (c) => c.notNull().defaultTo(d.nowDefault))
        .execute()
      await db.schema.createIndex('host_accounts_host').on('host_accounts').column('host_id').execute()
    },
    async down(db) {
      await db.schema.dropTable('host_accounts').execute()
    },
  }
}
