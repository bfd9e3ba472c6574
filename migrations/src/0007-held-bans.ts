import type { Migration } from 'kysely'
import { createTable, type SchemaDialect } from './schema-dialect.js'

/**
 * Held bans: past the fleet's flood limit a host's further reports are stored with
 * `bans.held_at` set instead of being refused, and no poller stamps them (so no host applies
 * them) until an operator releases them (`f2b-central bans release`) or drops them. The limit
 * lives in the database (`fleet_settings`), where a stolen host account cannot change it.
 */
export function heldBans(d: SchemaDialect): Migration {
  return {
    async up(db) {
      await db.schema.alterTable('bans').addColumn('held_at', d.timestampType).execute()
      await db.schema.createIndex('bans_held').on('bans').columns(['held_at', 'reporter_id']).execute()
      await createTable(db, d, 'fleet_settings')
        .addColumn('id', 'integer', (c) => c.primaryKey())
        .addColumn('max_bans_per_minute', 'integer', (c) => c.notNull())
        .execute()
      await db
        .insertInto('fleet_settings' as never)
        .values({ id: 1, max_bans_per_minute: 1000 } as never)
        .execute()
    },
    async down(db) {
      await db.schema.dropTable('fleet_settings').execute()
      await db.schema.dropIndex('bans_held').on('bans').execute()
      await db.schema.alterTable('bans').dropColumn('held_at').execute()
    },
  }
}
