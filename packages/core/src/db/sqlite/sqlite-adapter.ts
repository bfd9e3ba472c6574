import { sql } from 'kysely'
import type { DbAdapter } from '../db-adapter.js'
import { directHostWrites } from '../queries/direct-host-writes.js'
import { sqliteErrors } from './sqlite-errors.js'

const NOW = `strftime('%Y-%m-%d %H:%M:%f', 'now')`

/**
 * SQLite through better-sqlite3: one writer at a time (busy_timeout waits for it), so a
 * transaction never sees another's uncommitted rows and no row locks exist.
 */
export const sqliteAdapter: DbAdapter = {
  name: 'sqlite',
  idType: 'integer',
  timestampType: 'text',
  nowDefault: sql.raw(`(${NOW})`),
  tableOptions: undefined,

  now: () => sql<string>`strftime('%Y-%m-%d %H:%M:%f', 'now')`,
  nowPlusSeconds: (seconds) => sql<string>`strftime('%Y-%m-%d %H:%M:%f', 'now', ${`${seconds} seconds`})`,

  // SQLite is one machine with no accounts: a host's writes are plain statements.
  get hostWrites() {
    return sqliteHostWrites
  },
  installRoutines: async () => undefined,
  accounts: undefined,

  ...sqliteErrors,
}

const sqliteHostWrites = directHostWrites(sqliteAdapter)
