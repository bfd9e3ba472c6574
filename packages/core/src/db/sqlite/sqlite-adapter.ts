import { sql, type Transaction } from 'kysely'
import type { Database } from '../../schema/database.js'
import type { DbAdapter } from '../db-adapter.js'

const NOW = `strftime('%Y-%m-%d %H:%M:%f', 'now')`

function code(err: unknown): string | undefined {
  const e = err as { code?: unknown; cause?: unknown }
  if (typeof e?.code === 'string') return e.code
  return e?.cause ? code(e.cause) : undefined
}

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

  // Extended codes count too: in WAL mode a transaction that read before writing gets
  // SQLITE_BUSY_SNAPSHOT at once (no busy wait) when another writer committed in between.
  isRetryable: (err) => {
    const c = code(err) ?? ''
    return c.startsWith('SQLITE_BUSY') || c.startsWith('SQLITE_LOCKED')
  },
  isDuplicateKey: (err) => {
    const c = code(err)
    return c === 'SQLITE_CONSTRAINT_UNIQUE' || c === 'SQLITE_CONSTRAINT_PRIMARYKEY'
  },
  isMissingTable: (err) => err instanceof Error && /no such table/.test(err.message),
}
