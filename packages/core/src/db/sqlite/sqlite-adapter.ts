import { sql, type Transaction } from 'kysely'
import type { Database } from '../../schema/database.js'
import type { DbAdapter } from '../db-adapter.js'
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

  async selectUnstampedBanIds(trx: Transaction<Database>, limit) {
    const rows = await trx.selectFrom('bans').select('id').where('seq', 'is', null).orderBy('id').limit(limit).execute()
    return rows.map((r) => Number(r.id))
  },

  ...sqliteErrors,
}
