import type { Migration } from 'kysely'
import type { SchemaDialect } from './schema-dialect.js'

/**
 * A host's last firewall resync (readdb's firewall mode, issue 13), where `f2b-central status`
 * reads it: the backend, when, how many entries the sets hold, how many the resync had to
 * change (drift: added, removed or with a wrong timeout), and the drift counted since the host
 * first resynced. NULL on hosts that feed no kernel set.
 */
export function firewallResync(d: SchemaDialect): Migration {
  return {
    async up(db) {
      await db.schema.alterTable('hosts').addColumn('firewall_backend', 'varchar(16)').execute()
      await db.schema.alterTable('hosts').addColumn('resynced_at', d.timestampType).execute()
      await db.schema.alterTable('hosts').addColumn('firewall_entries', 'integer').execute()
      await db.schema.alterTable('hosts').addColumn('resync_drift', 'integer').execute()
      await db.schema
        .alterTable('hosts')
        .addColumn('drift_total', 'bigint', (c) => c.notNull().defaultTo(0))
        .execute()
    },
    async down(db) {
      for (const c of ['drift_total', 'resync_drift', 'firewall_entries', 'resynced_at', 'firewall_backend']) await db.schema.alterTable('hosts').dropColumn(c).execute()
    },
  }
}
