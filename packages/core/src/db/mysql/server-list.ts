import type { MysqlPool, MysqlPoolConnection } from 'kysely'
import type { Pool, PoolConnection } from 'mysql2'
import type { MysqlServer } from '../../config/database-url.js'
import { F2bError, DatabaseError } from '../../errors.js'
import type { ServerInUse } from '../db-adapter.js'
import { markEveryServerTried, mysqlErrors } from './mysql-errors.js'

export interface ServerListOptions {
  /**
   * How long a server that failed is passed over, milliseconds (default 30 s): new
   * connections go to the next server meanwhile, then the first is tried again.
   */
  readonly skipMs?: number
  /** Turns a server's connection error into the error to report (TLS failures: a DatabaseError that says what to check). */
  readonly describeError?: (server: MysqlServer, err: unknown) => unknown
}

/** A Galera node's state as the probe of a new connection read it. */
interface NodeState {
  readonly galera: boolean
  /** wsrep_ready ON: the node accepts queries (else every statement fails with 1047). */
  readonly ready: boolean
  /** wsrep_local_state_comment: Synced, Donor/Desynced, Joining, Joined, … */
  readonly state: string
  readonly clusterSize: number
}

type Failure = { readonly server: string; readonly err: unknown }

// Galera's status, read on every new connection; an empty answer on MySQL, and a provider
// name of '' on a MariaDB without Galera.
const PROBE = "SHOW GLOBAL STATUS WHERE Variable_name IN ('wsrep_provider_name', 'wsrep_ready', 'wsrep_local_state_comment', 'wsrep_cluster_size')"

/**
 * The servers of `database.url` as one kysely pool: every connection goes to the first
 * server that answers, in the order of the list, and a server that fails is passed over for a
 * while (`skipMs`). Each server has its own mysql2 pool, created when first used.
 *
 * A server fails when connecting to it fails (refused, timed out, TLS, the account refused
 * there), when it is a Galera node that cannot serve (outside the Primary component, still
 * joining: it would answer every statement with 1047), or when a query on one of its
 * connections fails with a server failure (mysqlErrors.isServerFailure: the connection lost,
 * 1047). That query's error still reaches the caller, whose retry (withRetry: every
 * transaction is run again whole) then gets a connection to the next server; the failed
 * connection is destroyed rather than pooled.
 *
 * On Galera every session reads causally (`wsrep_sync_wait = 1`): a read waits until the
 * node has applied every transaction the cluster committed before it, on whichever node. A
 * Galera node that is ready but not Synced (a donor, a node catching up) is used only when
 * no Synced server answers.
 */
export class ServerList implements MysqlPool {
  readonly #servers: readonly MysqlServer[]
  readonly #openPool: (server: MysqlServer) => Pool
  readonly #skipMs: number
  readonly #describeError: (server: MysqlServer, err: unknown) => unknown
  readonly #pools: (Pool | undefined)[]
  readonly #skipUntil: number[]
  readonly #states: (NodeState | undefined)[]
  readonly #prepared = new WeakSet<PoolConnection>()
  readonly #broken = new WeakSet<PoolConnection>()
  readonly #wrapped = new WeakMap<PoolConnection, MysqlPoolConnection>()
  /** Why each server last failed; cleared when it answers again. */
  readonly #lastFailure: (string | undefined)[]
  #current = -1

  constructor(servers: readonly MysqlServer[], openPool: (server: MysqlServer) => Pool, options: ServerListOptions = {}) {
    this.#servers = servers
    this.#openPool = openPool
    this.#skipMs = options.skipMs ?? 30_000
    this.#describeError = options.describeError ?? ((_, err) => err)
    this.#pools = servers.map(() => undefined)
    this.#skipUntil = servers.map(() => 0)
    this.#states = servers.map(() => undefined)
    this.#lastFailure = servers.map(() => undefined)
  }

  getConnection(callback: (error: unknown, connection: MysqlPoolConnection) => void): void {
    const now = Date.now()
    const all = this.#servers.map((_, i) => i)
    // Servers that failed lately come last: tried only when none of the others answers.
    const order = [...all.filter((i) => this.#skipUntil[i]! <= now), ...all.filter((i) => this.#skipUntil[i]! > now)]
    const failures: Failure[] = []
    let fallback: { index: number; conn: PoolConnection } | undefined
    const done = (index: number, conn: PoolConnection) => {
      this.#current = index
      this.#skipUntil[index] = 0
      this.#lastFailure[index] = undefined
      callback(null, this.#wrap(index, conn))
    }
    const attempt = (k: number): void => {
      const index = order[k]
      if (index === undefined) {
        if (fallback) done(fallback.index, fallback.conn)
        else callback(markEveryServerTried(this.#combined(failures)), undefined as never)
        return
      }
      this.#pool(index).getConnection((err, conn) => {
        if (err) {
          this.#fail(index, failures, err)
          return attempt(k + 1)
        }
        this.#prepare(index, conn, (problem, synced) => {
          if (problem !== undefined) {
            conn.destroy()
            this.#fail(index, failures, problem)
            return attempt(k + 1)
          }
          if (synced) {
            fallback?.conn.release()
            return done(index, conn)
          }
          // Ready, but a donor or catching up: kept in case no Synced server answers.
          const reason = `Galera node ${this.#states[index]?.state ?? '?'}, not Synced`
          failures.push({ server: this.#name(index), err: new Error(reason) })
          this.#lastFailure[index] = reason
          if (fallback) conn.release()
          else fallback = { index, conn }
          attempt(k + 1)
        })
      })
    }
    attempt(0)
  }

  end(callback: (error: unknown) => void): void {
    const pools = this.#pools.filter((p): p is Pool => p !== undefined)
    let pending = pools.length
    let first: unknown
    if (pending === 0) {
      callback(undefined)
      return
    }
    for (const pool of pools) {
      pool.end((err) => {
        first ??= err ?? undefined
        if (--pending === 0) callback(first)
      })
    }
  }

  /** The server the last connection went to, and the servers before it in the list that failed; undefined before the first. */
  inUse(): ServerInUse | undefined {
    const i = this.#current
    if (i < 0) return undefined
    const state = this.#states[i]
    return {
      server: this.#name(i),
      position: i + 1,
      of: this.#servers.length,
      galera: state?.galera ? { state: state.state, clusterSize: state.clusterSize } : undefined,
      skipped: this.#lastFailure.flatMap((reason, j) => (j < i && reason !== undefined ? [{ server: this.#name(j), reason }] : [])),
    }
  }

  #pool(index: number): Pool {
    let pool = this.#pools[index]
    if (!pool) {
      pool = this.#openPool(this.#servers[index]!)
      this.#pools[index] = pool
    }
    return pool
  }

  #name(index: number): string {
    const { host, port } = this.#servers[index]!
    return `${host.includes(':') ? `[${host}]` : host}:${port}`
  }

  #fail(index: number, failures: Failure[], err: unknown): void {
    this.#skipUntil[index] = Date.now() + this.#skipMs
    const described = this.#describeError(this.#servers[index]!, err)
    failures.push({ server: this.#name(index), err: described })
    this.#lastFailure[index] = described instanceof Error ? described.message : String(described)
  }

  /**
   * A new connection: is the server a Galera node, and can it serve? Then causal reads for
   * the session. A pooled connection was probed when it was new. `synced` is false for a
   * Galera node that serves but is not Synced.
   */
  #prepare(index: number, conn: PoolConnection, next: (problem: unknown, synced: boolean) => void): void {
    if (this.#prepared.has(conn)) {
      const state = this.#states[index]
      next(undefined, !state?.galera || state.state === 'Synced')
      return
    }
    conn.query(PROBE, (err: unknown, rows: unknown) => {
      if (err) {
        // A server that cannot answer SHOW STATUS is not a Galera node we can judge: use it as it is.
        if (mysqlErrors.isServerFailure(err)) return next(err, false)
        this.#prepared.add(conn)
        return next(undefined, true)
      }
      const status = new Map((rows as { Variable_name: string; Value: string }[]).map((r) => [r.Variable_name.toLowerCase(), r.Value]))
      const galera = (status.get('wsrep_provider_name') ?? '') !== ''
      const state: NodeState = {
        galera,
        ready: status.get('wsrep_ready') === 'ON',
        state: status.get('wsrep_local_state_comment') ?? '',
        clusterSize: Number(status.get('wsrep_cluster_size') ?? 0),
      }
      this.#states[index] = state
      if (!galera) {
        this.#prepared.add(conn)
        return next(undefined, true)
      }
      if (!state.ready) return next(notReady(this.#name(index), state), false)
      conn.query('SET SESSION wsrep_sync_wait = 1', (setErr: unknown) => {
        if (setErr) return next(setErr, false)
        this.#prepared.add(conn)
        next(undefined, state.state === 'Synced')
      })
    })
  }

  #wrap(index: number, conn: PoolConnection): MysqlPoolConnection {
    const known = this.#wrapped.get(conn)
    if (known) return known
    const onError = (err: unknown) => {
      if (!err || !mysqlErrors.isServerFailure(err)) return
      this.#broken.add(conn)
      this.#skipUntil[index] = Date.now() + this.#skipMs
      this.#lastFailure[index] = err instanceof Error ? err.message : String(err)
    }
    const raw = conn as unknown as { query(sql: string, params: unknown[], cb?: (err: unknown, result: unknown) => void): unknown }
    const wrapped = {
      query(sql: string, params: unknown[], cb?: (err: unknown, result: never) => void) {
        if (cb === undefined) return raw.query(sql, params)
        raw.query(sql, params, (err, result) => {
          onError(err)
          cb(err, result as never)
        })
        return undefined
      },
      release: () => {
        if (this.#broken.has(conn)) conn.destroy()
        else conn.release()
      },
    } as MysqlPoolConnection
    this.#wrapped.set(conn, wrapped)
    return wrapped
  }

  /** One server: its error as it is. Several: one error naming every server and what each said. */
  #combined(failures: readonly Failure[]): unknown {
    if (this.#servers.length === 1 || failures.length === 1) return failures[0]?.err
    // The error to act on: one that waiting cannot fix (the account refused, TLS), else the last.
    const main = failures.find((f) => !mysqlErrors.isServerFailure(f.err))?.err ?? failures[failures.length - 1]?.err
    const message = `no server of ${failures.length} answered: ${failures.map((f) => `${f.server}: ${f.err instanceof Error ? f.err.message : String(f.err)}`).join('; ')}`
    if (main instanceof F2bError) return new DatabaseError(message, { cause: main, hint: main.hint })
    const source = main as { code?: unknown; errno?: unknown }
    return Object.assign(new Error(message, { cause: main }), { code: source?.code, errno: source?.errno })
  }
}

function notReady(server: string, state: NodeState): Error {
  // The code and number the node itself answers statements with, so that it counts as a server failure.
  return Object.assign(new Error(`Galera node not ready (${state.state || 'no state'}, wsrep_ready OFF): WSREP has not yet prepared node for application use`), {
    code: 'ER_UNKNOWN_COM_ERROR',
    errno: 1047,
    server,
  })
}
