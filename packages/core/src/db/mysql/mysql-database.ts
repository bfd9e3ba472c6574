import { Kysely, MysqlDialect } from 'kysely'
import { createPool, type Pool, type PoolConnection, type PoolOptions } from 'mysql2'
import type { Socket } from 'node:net'
import type { DatabaseTarget, MysqlServer, MysqlTls } from '../../config/database-url.js'
import { DatabaseError } from '../../errors.js'
import type { Database } from '../../schema/database.js'
import type { CentralDb } from '../db-adapter.js'
import { queryLogger } from '../query-logger.js'
import { mysqlAdapter } from './mysql-adapter.js'
import { ServerList } from './server-list.js'

type MysqlTarget = Extract<DatabaseTarget, { kind: 'mysql' }>

export interface MysqlOpenOptions {
  onQuery?: (sql: string, ms: number) => void
  /** Connect timeout, lock-wait ceiling and TCP keepalive idle time, milliseconds. */
  timeoutMs: number
  /**
   * Longest a statement may run on the server (MariaDB max_statement_time, MySQL
   * max_execution_time, which bounds SELECTs only), milliseconds. Unset: no limit, which is
   * what migrations and operator commands need.
   */
  statementTimeoutMs?: number
  /** Pool size; add2db needs one connection. */
  connectionLimit?: number
}

/**
 * Open a MySQL/MariaDB database: UTC sessions, timestamps as strings, bounded waits, TLS when
 * configured; with several servers in database.url, the first that answers (server-list.ts).
 */
export async function openMysql(target: MysqlTarget, options: MysqlOpenOptions): Promise<CentralDb> {
  // Probes start after this long idle; how often and how many follow is the kernel's
  // (tcp_keepalive_intvl, tcp_keepalive_probes): a dead peer is noticed in minutes, not
  // hours. The poll deadline is what bounds a poll.
  const keepAliveMs = Math.max(1000, options.timeoutMs)
  // Loaded only with database.tls: node:tls costs every other add2db run several milliseconds.
  const tlsStream = target.tls ? (await import('./mysql-tls-stream.js')).openMysqlTlsStream : undefined
  const shared: PoolShared = { sessionSetup: sessionSettings(options), keepAliveMs, open: new Set<PoolConnection>() }
  const servers = new ServerList(
    target.servers,
    (server) => openServerPool(target, server, options, shared, target.tls && tlsStream ? tlsPoolOptions(server, target.tls, keepAliveMs, tlsStream) : {}),
    { describeError: (server, err) => tlsFailure(target, server, err) },
  )
  const db = new Kysely<Database>({ dialect: new MysqlDialect({ pool: servers }), log: queryLogger(options.onQuery) })
  const abort = (reason: Error): void => {
    for (const conn of shared.open) socketOf(conn).destroy(reason)
  }
  // A graceful end queues QUIT behind whatever a connection still runs: bounded, so a
  // program never hangs on its way out because the server stopped answering.
  const close = async (): Promise<void> => {
    const timer = setTimeout(() => abort(new DatabaseError('closing: the server did not answer')), options.timeoutMs)
    timer.unref()
    try {
      await db.destroy()
    } catch {
      // the connections were dropped instead
    } finally {
      clearTimeout(timer)
    }
  }
  return { db, adapter: mysqlAdapter, serverInUse: () => servers.inUse(), close, abort }
}

/** What the pools of every server share: the session's first statement, and the open connections (for abort). */
interface PoolShared {
  readonly sessionSetup: string
  readonly keepAliveMs: number
  readonly open: Set<PoolConnection>
}

/** One server's pool. With several servers, each may take its share of the deadline to connect, so that all are tried within it. */
function openServerPool(target: MysqlTarget, server: MysqlServer, options: MysqlOpenOptions, shared: PoolShared, tlsOptions: PoolOptions): Pool {
  const pool = createPool({
    host: server.host,
    port: server.port,
    user: target.user,
    password: target.password,
    database: target.database,
    charset: 'utf8mb4',
    connectTimeout: target.servers.length > 1 ? Math.max(1000, Math.floor(options.timeoutMs / target.servers.length)) : options.timeoutMs,
    connectionLimit: options.connectionLimit ?? 4,
    enableKeepAlive: true,
    keepAliveInitialDelay: shared.keepAliveMs,
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
  pool.on('connection', (conn) => {
    shared.open.add(conn)
    socketOf(conn).once('close', () => shared.open.delete(conn))
    // Queued before any query of the connection's first user. Should it fail, the session
    // would not be UTC: the connection is dropped, so no query runs in it.
    conn.query(shared.sessionSetup, (err) => {
      if (err) socketOf(conn).destroy(err)
    })
  })
  return pool
}

/**
 * What every session runs first: CURRENT_TIMESTAMP in UTC, and bounded waits for a row lock
 * (innodb_lock_wait_timeout) and for a table's metadata lock (lock_wait_timeout: a `LOCK
 * TABLES … WRITE` or an ALTER elsewhere; its default is a day on MariaDB, a year on MySQL).
 * With statementTimeoutMs, a statement time limit too, in each server's own dialect: MariaDB
 * runs the `/*M! … *\/` part and ignores the `/*!80000 … *\/` one (MySQL-only syntax, which
 * MariaDB skips for versions 5.7 to 9.x), MySQL 8 the other way round. Numbers only, inlined.
 */
function sessionSettings(options: MysqlOpenOptions): string {
  const lockWaitSeconds = Math.max(1, Math.ceil(options.timeoutMs / 1000))
  const base = `SET time_zone = '+00:00', innodb_lock_wait_timeout = ${lockWaitSeconds}, lock_wait_timeout = ${lockWaitSeconds}`
  if (options.statementTimeoutMs === undefined) return base
  const ms = Math.max(1, Math.ceil(options.statementTimeoutMs))
  return `${base} /*M! , max_statement_time = ${ms / 1000} */ /*!80000 , max_execution_time = ${ms} */`
}

/**
 * The connection's socket. Ending a query in flight takes destroying it: mysql2's own
 * destroy() only half-closes the socket and leaves queued queries waiting for an answer that
 * never comes, while a socket destroyed with an error fails every query on it with that error.
 */
function socketOf(conn: PoolConnection): Socket {
  return (conn as unknown as { stream: Socket }).stream
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
function tlsPoolOptions(server: MysqlServer, tls: MysqlTls, keepAliveMs: number, openMysqlTlsStream: typeof import('./mysql-tls-stream.js').openMysqlTlsStream): PoolOptions {
  const checkedName = tls.serverName ?? server.host
  const tlsStream = { host: server.host, port: server.port, keepAliveMs, checkedName, ca: tls.ca, cert: tls.cert, key: tls.key, rejectUnauthorized: tls.rejectUnauthorized }
  return { stream: () => openMysqlTlsStream(tlsStream) }
}

// A failed TLS handshake becomes a DatabaseError that says what to check, not a bare driver error.
function tlsFailure(target: MysqlTarget, server: MysqlServer, failure: unknown): unknown {
  const err = failure as NodeJS.ErrnoException
  const where = `database mysql://${target.user}@${server.host}:${server.port}/${target.database}`
  if (err.code === 'HANDSHAKE_SSL_ERROR') {
    return new DatabaseError(`${where}: TLS handshake failed: ${err.message}`, {
      cause: err,
      hint: "database.tls.ca must be the CA that signed the server's certificate, and the certificate must name the host in database.url (or database.tls.serverName)",
    })
  }
  if (err.code === 'HANDSHAKE_NO_SSL_SUPPORT') {
    return new DatabaseError(`${where}: database.tls is set but the server does not offer TLS`, { cause: err, hint: "configure the server's ssl_cert and ssl_key" })
  }
  return failure
}
