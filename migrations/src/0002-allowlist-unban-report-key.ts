import type { Kysely, Migration } from 'kysely'
import { createTable, type SchemaDialect } from './schema-dialect.js'

/**
 * - `bans.report_key`: an idempotency key made where the ban was first seen, so a ban shipped
 *   twice (from a host's spool after a crash) is stored once.
 * - `bans.revoked_at` / `revoked_by`: an operator's unban. Revoking also clears `seq`, so the
 *   ban is stamped again and every host's cursor meets it once more (see poll.ts).
 * - `allowlist`: addresses and networks never banned by the fleet, with a version row that
 *   readdb compares to reload it only when it changed.
 */
export function allowlistUnbanReportKey(d: SchemaDialect): Migration {
  const table = (db: Kysely<unknown>, name: string) => createTable(db, d, name)
  return {
    async up(db) {
      await db.schema.alterTable('bans').addColumn('report_key', 'varchar(64)').execute()
      await db.schema.alterTable('bans').addColumn('revoked_at', d.timestampType).execute()
      await db.schema.alterTable('bans').addColumn('revoked_by', 'varchar(253)').execute()
      await db.schema.createIndex('bans_report_key').on('bans').column('report_key').unique().execute()
      // The flood guard counts a reporter's recent bans.
      await db.schema.createIndex('bans_reporter_created').on('bans').columns(['reporter_id', 'created_at']).execute()

      await table(db, 'allowlist')
        .addColumn('id', d.idType, (c) => c.primaryKey().autoIncrement())
        .addColumn('network', 'varchar(49)', (c) => c.notNull().unique())
        .addColumn('reason', 'varchar(255)')
        .addColumn('added_by', 'varchar(253)', (c) => c.notNull())
        .addColumn('created_at', d.timestampType, (c) => c.notNull().defaultTo(d.nowDefault))
        .execute()
      await table(db, 'allowlist_version')
        .addColumn('id', 'integer', (c) => c.primaryKey())
        .addColumn('version', 'bigint', (c) => c.notNull())
        .execute()
      await db
        .insertInto('allowlist_version' as never)
        .values({ id: 1, version: 0 } as never)
        .execute()
    },
    async down(db) {
      await db.schema.dropTable('allowlist_version').execute()
      await db.schema.dropTable('allowlist').execute()
      await db.schema.dropIndex('bans_reporter_created').on('bans').execute()
      await db.schema.dropIndex('bans_report_key').on('bans').execute()
      for (const c of ['revoked_by', 'revoked_at', 'report_key']) await db.schema.alterTable('bans').dropColumn(c).execute()
    },
  }
}
