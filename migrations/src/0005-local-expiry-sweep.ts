import { sql, type Migration } from 'kysely'
import type { SchemaDialect } from './schema-dialect.js'

/**
 * `hosts.swept_until`: up to when this host has taken fleet bans that ran out out of its
 * shared jail, so a local ban ends when the fleet's ban ends (fail2ban cannot take a ban
 * time from a log line). Existing hosts start from now: history is not swept.
 */
export function localExpirySweep(d: SchemaDialect): Migration {
  return {
    async up(db) {
      await db.schema.alterTable('hosts').addColumn('swept_until', d.timestampType).execute()
      await db
        .updateTable('hosts' as never)
        .set({ swept_until: sql`last_seen` } as never)
        .execute()
    },
    async down(db) {
      await db.schema.alterTable('hosts').dropColumn('swept_until').execute()
    },
  }
}
