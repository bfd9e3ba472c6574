import { Kysely, MysqlDialect, type MysqlPool } from 'kysely'
import { createPool, type PoolOptions } from 'mysql2'
import type { DatabaseTarget, MysqlTls } from '../../config/database-url.js'
import { DatabaseError } from '../../errors.js'
import type { Database } from '../../schema/database.js'
import type { CentralDb } from '../db-adapter.js'
import { queryLogger } from '../query-logger.js'
import { mysqlAdapter } from './mysql-adapter.js'

type MysqlTarget = Extract<DatabaseTarget, { kind: 'mysql' }>

export interface MysqlOpenOptions {
  onQuery?: (sql: string, ms: number) => void
  /** Connect timeout and lock-wait ceiling, milliseconds. */
  timeoutMs: number
  /** Pool size; add2db needs one connection. */
  connectionLimit?: number
}

/** Open a MySQL/MariaDB database: UTC sessions, timestamps as strings, bounded waits, TLS when configured. */
export async function openMysql(target: MysqlTarget, options: MysqlOpenOptions): Promise<CentralDb> {
  const tlsOptions = target.tls ? await tlsPoolOptions(target, target.tls) : {}
  const pool = createPool({
    host: target.host,
    port: target.port,
    user: target.user,
    password: target.password,
    database: target.database,
    charset: 'utf8mb4',
    connectTimeout: options.timeoutMs,
    connectionLimit: options.connectionLimit ?? 4,
    // Timestamps stay the text the database stored, identical to SQLite's.
    dateStrings: true,
    timezone: 'Z',
    supportBigNumbers: true,
    // Rows are read by mysql2's fixed parsers, not parsers it generates with new Function per
    // result shape: no code built from what the server sends, and nothing compiled at run
    // time that add2db's code cache (packages/add2db/bin/add2db.cjs) cannot hold.
    disableEval: true,
    ...tlsOptions,
  })
  const lockWaitSeconds = Math.max(1, Math.ceil(options.timeoutMs / 1000))
  pool.on('connection', (conn) => {
    // Every session computes CURRENT_TIMESTAMP in UTC and gives up on a row lock in bounded time.
    conn.query("SET time_zone = '+00:00', innodb_lock_wait_timeout = ?", [lockWaitSeconds])
  })
  // A failed TLS handshake becomes a DatabaseError that says what to check, not a bare driver error.
  const dialectPool: MysqlPool = {
    getConnection: (callback) => pool.getConnection((err, conn) => callback(err ? tlsFailure(target, err) : err, conn)),
    end: (callback) => pool.end(callback),
  }
  const db = new Kysely<Database>({ dialect: new MysqlDialect({ pool: dialectPool }), log: queryLogger(options.onQuery) })
  return { db, adapter: mysqlAdapter, close: () => db.destroy() }
}

/**
 * TLS by f2b-central's own stream (openMysqlTlsStream), not mysql2's `ssl`: mysql2 checks the
 * certificate's name only against a host *name* and takes no `checkServerIdentity` of ours,
 * so for `mysql://…@10.0.0.5/…` the check would fall to Node's private `socket._host` (else
 * "localhost", which any certificate for localhost passes). The stream checks the name with
 * `tls.checkServerIdentity` against the host meant: `serverName` when set (sent as SNI too),
 * else the URL's host, name or address (an address against the certificate's IP
 * subjectAltNames), before mysql2's credentials leave the process.
 */
async function tlsPoolOptions(target: MysqlTarget, tls: MysqlTls): Promise<PoolOptions> {
  // Loaded only with database.tls: node:tls costs every other add2db run several milliseconds.
  const { openMysqlTlsStream } = await import('./mysql-tls-stream.js')
  const tlsStream = { host: target.host, port: target.port, checkedName: tls.serverName ?? target.host, ca: tls.ca, cert: tls.cert, key: tls.key, rejectUnauthorized: tls.rejectUnauthorized }
  return { stream: () => openMysqlTlsStream(tlsStream) }
}

function tlsFailure(target: MysqlTarget, err: NodeJS.ErrnoException): NodeJS.ErrnoException | DatabaseError {
  const where = `database mysql://${target.user}@${target.host}:${target.port}/${target.database}`
  if (err.code === 'HANDSHAKE_SSL_ERROR') {
    return new DatabaseError(`${where}: TLS handshake failed: ${err.message}`, {
      cause: err,
      hint: "database.tls.ca must be the CA that signed the server's certificate, and the certificate must name the host in database.url (or database.tls.serverName)",
    })
  }
  if (err.code === 'HANDSHAKE_NO_SSL_SUPPORT') {
    return new DatabaseError(`${where}: database.tls is set but the server does not offer TLS`, { cause: err, hint: "configure the server's ssl_cert and ssl_key" })
  }
  return err
}
