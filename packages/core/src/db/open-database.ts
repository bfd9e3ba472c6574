import type { DatabaseTarget } from '../config/database-url.js'
import { DatabaseAccessError } from '../errors.js'
import type { CentralDb, ServerInUse } from './db-adapter.js'

export interface OpenDatabaseOptions {
  timeoutMs: number
  /** MySQL: the longest a statement may run on the server (see MysqlOpenOptions); unset, no limit. */
  statementTimeoutMs?: number
  connectionLimit?: number
  /** Called for every query (kysely's log hook): benchmarks count queries with it. */
  onQuery?: (sql: string, ms: number) => void
}

/**
 * The one place that chooses a dialect. Each driver is imported only when used, so a
 * bundled add2db talking to MySQL never loads better-sqlite3, and the other way round.
 */
export async function openDatabase(target: DatabaseTarget, options: OpenDatabaseOptions): Promise<CentralDb> {
  if (target.kind === 'sqlite') {
    const { openSqlite } = await import('./sqlite/sqlite-database.js')
    try {
      return openSqlite(target.path, options)
    } catch (err) {
      throw new DatabaseAccessError(`cannot open SQLite database ${target.path}: ${(err as Error).message}`, {
        cause: err,
        hint: 'check database.url: it must name a file this user can create or write',
      })
    }
  }
  const { openMysql } = await import('./mysql/mysql-database.js')
  return openMysql(target, options)
}

/**
 * Describe a target for messages, never including the password. Several servers are listed
 * in braces: `mysql://f2b@{db1:3306,db2:3306}/f2b_central`.
 */
export function describeTarget(target: DatabaseTarget): string {
  if (target.kind === 'sqlite') return `sqlite:${target.path}`
  const servers = target.servers.map((s) => `${s.host.includes(':') ? `[${s.host}]` : s.host}:${s.port}`)
  return `mysql://${target.user}@${servers.length === 1 ? servers[0] : `{${servers.join(',')}}`}/${target.database}`
}

/**
 * The server in use, for `check` and `status`: `127.0.0.1:3312 (server 2 of 3 in database.url;
 * Galera node Synced, cluster of 3; passed over 127.0.0.1:3311: connect ECONNREFUSED)`.
 */
export function describeServerInUse(inUse: ServerInUse): string {
  const notes: string[] = []
  if (inUse.of > 1) notes.push(`server ${inUse.position} of ${inUse.of} in database.url`)
  if (inUse.galera) notes.push(`Galera node ${inUse.galera.state}, cluster of ${inUse.galera.clusterSize}`)
  if (inUse.skipped.length > 0) notes.push(`passed over ${inUse.skipped.map((s) => `${s.server}: ${s.reason}`).join(', ')}`)
  return notes.length > 0 ? `${inUse.server} (${notes.join('; ')})` : inUse.server
}
