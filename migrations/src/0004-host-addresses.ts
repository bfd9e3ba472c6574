import type { Migration } from 'kysely'
import { createTable, type SchemaDialect } from './schema-dialect.js'

/**
 * `host_addresses`: each registered host's own addresses, registered by its readdb, so the
 * fleet never bans one of its own members (part of the allowlist unless a host's config
 * turns it off). Writing one bumps `allowlist_version`, so pollers reload.
 */
export function hostAddresses(d: SchemaDialect): Migration {
  return {
    async up(db) {
      await createTable(db, d, 'host_addresses')
        .addColumn('host_id', d.idType, (c) => c.notNull().references('hosts.id').onDelete('cascade'))
        .addColumn('address', 'varchar(45)', (c) => c.notNull())
        .addColumn('created_at', d.timestampType, (c) => c.notNull().defaultTo(d.nowDefault))
        .addPrimaryKeyConstraint('host_addresses_pk', ['host_id', 'address'])
        .execute()
    },
    async down(db) {
      await db.schema.dropTable('host_addresses').execute()
    },
  }
}
