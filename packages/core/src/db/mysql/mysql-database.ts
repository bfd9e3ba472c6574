import { Kysely, MysqlDialect, type MysqlPool } from 'kysely'
import { createPool, type PoolOptions } from 'mysql2'
import { connect, isIP, type Socket } from 'node:net'
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
export function openMysql(target: MysqlTarget, options: MysqlOpenOptions): CentralDb {
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
    ...(target.tls ? tlsPoolOptions(target, target.tls) : {}),
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
 * mysql2's TLS options, plus the one thing it gets wrong. It checks the certificate's name
 * (verifyIdentity) only against a host *name*: for `mysql://…@10.0.0.5/…` it sends no SNI and
 * Node falls back to checking the certificate against "localhost", which a certificate for
 * 10.0.0.5 fails and any certificate for localhost passes. So f2b-central opens the TCP
 * connection itself and tells mysql2 the name to check: `serverName` when set (sent as SNI
 * too), else the URL's host, name or address (an address is matched against the
 * certificate's IP subjectAltNames).
 */
function tlsPoolOptions(target: MysqlTarget, tls: MysqlTls): PoolOptions {
  const checkedHost = tls.serverName ?? target.host
  return {
    // mysql2 uses `host` only for SNI and the name check once `stream` opens the connection.
    host: checkedHost,
    stream: () => {
      const socket: Socket = connect({ host: target.host, port: target.port, noDelay: true, keepAlive: true })
      // Node checks the certificate against the socket's `_host` when no SNI name is set,
      // which it leaves empty for a connection to an address.
      if (isIP(checkedHost) !== 0) Object.assign(socket, { _host: checkedHost })
      return socket
    },
    ssl: {
      ca: tls.ca,
      cert: tls.cert,
      key: tls.key,
      rejectUnauthorized: tls.rejectUnauthorized,
      verifyIdentity: tls.rejectUnauthorized,
    },
  }
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
