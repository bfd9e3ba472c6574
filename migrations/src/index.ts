import type { Migration } from 'kysely'
import { initialSchema } from './0001-initial-schema.js'
import { allowlistUnbanReportKey } from './0002-allowlist-unban-report-key.js'
import { floodGuardCount } from './0003-flood-guard-count.js'
import { hostAddresses } from './0004-host-addresses.js'
import { localExpirySweep } from './0005-local-expiry-sweep.js'
import { hostAccounts } from './0006-host-accounts.js'
import { heldBans } from './0007-held-bans.js'
import { firewallResync } from './0008-firewall-resync.js'
import type { SchemaDialect } from './schema-dialect.js'

export type { SchemaDialect } from './schema-dialect.js'

// A static list instead of kysely's FileMigrationProvider keeps the bundled bins working
// (no directory scan at run time). Names sort in the order they apply.
const migrationFactories: Record<string, (d: SchemaDialect) => Migration> = {
  '0001-initial-schema': initialSchema,
  '0002-allowlist-unban-report-key': allowlistUnbanReportKey,
  '0003-flood-guard-count': floodGuardCount,
  '0004-host-addresses': hostAddresses,
  '0005-local-expiry-sweep': localExpirySweep,
  '0006-host-accounts': hostAccounts,
  '0007-held-bans': heldBans,
  '0008-firewall-resync': firewallResync,
}

/** Every migration, by name, built for one database dialect. */
export function allMigrations(d: SchemaDialect): Record<string, Migration> {
  return Object.fromEntries(Object.entries(migrationFactories).map(([name, make]) => [name, make(d)]))
}

/** Names of the migrations this build knows, oldest first, for the schema-version check. */
export const knownMigrationNames: readonly string[] = Object.keys(migrationFactories).sort()
