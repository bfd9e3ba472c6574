import type { Migration } from 'kysely'
import type { SchemaDialect } from './schema-dialect.js'

/** `hosts.refused_bans`: how many of a host's reports the flood guard refused, for `status` and audits. */
export function floodGuardCount(_d: SchemaDialect): Migration {
  return {
    async up(db) {
      await db.schema
        .alterTable('hosts')
        .addColumn('refused_bans', 'bigint', (c) => c.notNull().defaultTo(0))
        .execute()
    },
    async down(db) {
      await db.schema.alterTable('hosts').dropColumn('refused_bans').execute()
    },
  }
}
