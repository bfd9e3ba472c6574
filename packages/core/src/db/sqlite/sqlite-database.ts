import { closeSync, mkdirSync, openSync } from 'node:fs'
import { dirname } from 'node:path'
import BetterSqlite3 from 'better-sqlite3'
import { Kysely, SqliteDialect } from 'kysely'
import type { Database } from '../../schema/database.js'
import type { CentralDb } from '../db-adapter.js'
import { queryLogger } from '../query-logger.js'
import { sqliteAdapter } from './sqlite-adapter.js'

export interface SqliteOpenOptions {
  onQuery?: (sql: string, ms: number) => void
  /** How long to wait for another process's write lock, milliseconds. */
  timeoutMs: number
}

/**
 * Open (creating, mode 0600) an embedded database file. WAL lets pollers read while
 * add2db writes; synchronous=FULL because a reported ban must survive a power cut.
 */
export function openSqlite(path: string, options: SqliteOpenOptions): CentralDb {
  mkdirSync(dirname(path), { recursive: true })
  closeSync(openSync(path, 'a', 0o600))
  const sqlite = new BetterSqlite3(path, { timeout: options.timeoutMs })
  sqlite.pragma('journal_mode = WAL')
  sqlite.pragma('synchronous = FULL')
  sqlite.pragma('foreign_keys = ON')
  const db = new Kysely<Database>({ dialect: new SqliteDialect({ database: sqlite }), log: queryLogger(options.onQuery) })
  return { db, adapter: sqliteAdapter, close: () => db.destroy(), abort: () => undefined }
}
