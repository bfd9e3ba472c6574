// Central databases for the benchmark: a fresh MariaDB database per figure (dropped at the
// end, whatever happens), or an SQLite file when MariaDB is not reachable.
import { randomBytes } from 'node:crypto'
import { join } from 'node:path'
import BetterSqlite3 from 'better-sqlite3'
import { QueryNode, SelectQueryNode, sql, type KyselyPlugin } from 'kysely'
import type { Connection } from 'mysql2/promise'
import { parseDatabaseUrl } from '@f2b-central/core/config/database-url'
import type { CentralDb } from '@f2b-central/core/db/db-adapter'
import { migrateToLatest } from '@f2b-central/core/db/migrate'
import { openDatabase } from '@f2b-central/core/db/open-database'
import { fetchBansAfterCursor } from '@f2b-central/core/db/queries/pending'
import { adminConnection, MYSQL_ADMIN_URL } from '../test/setup/mariadb.js'
import { defer } from './util.js'

export type Dialect = 'mysql' | 'sqlite'

export interface BenchDb {
  readonly dialect: Dialect
  readonly url: string
  readonly name: string
  /** Open through core (as the programs do), optionally counting queries. */
  open(onQuery?: (sql: string, ms: number) => void, connectionLimit?: number): Promise<CentralDb>
  /** Run one raw statement on a side connection (bulk loading); UTC session on MySQL. */
  exec(sql: string): Promise<void>
  /** Run one raw query and return its rows. */
  query<T = Record<string, unknown>>(sql: string): Promise<T[]>
  /** Drop it now rather than at the end of the run. */
  drop(): Promise<void>
}

/** Create an empty database, migrate it to the current schema, and register its removal. */
export async function createBenchDb(dialect: Dialect, label: string, dir: string): Promise<BenchDb> {
  let url: string
  let name: string
  let exec: (sql: string) => Promise<void>
  let query: <T>(sql: string) => Promise<T[]>
  let drop: () => Promise<void>
  if (dialect === 'mysql') {
    name = `f2b_bench_${process.pid}_${label}_${randomBytes(3).toString('hex')}`
    const admin = await adminConnection()
    try {
      await admin.query(`CREATE DATABASE \`${name}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin`)
    } finally {
      await admin.end()
    }
    drop = defer(`drop database ${name}`, async () => {
      const c = await adminConnection()
      try {
        await c.query(`DROP DATABASE IF EXISTS \`${name}\``)
      } finally {
        await c.end()
      }
    })
    const u = new URL(MYSQL_ADMIN_URL)
    u.pathname = `/${name}`
    url = u.toString()
    let side: Connection | undefined
    const conn = async () => {
      if (!side) {
        side = await adminConnection()
        await side.query(`USE \`${name}\``)
        await side.query(`SET time_zone = '+00:00'`)
        const s = side
        defer(`close side connection to ${name}`, () => s.end())
      }
      return side
    }
    exec = async (sql) => {
      await (await conn()).query(sql)
    }
    query = async <T>(sql: string) => (await (await conn()).query(sql))[0] as T[]
  } else {
    name = `${label}.sqlite`
    const path = join(dir, name)
    url = `sqlite:${path}`
    let side: BetterSqlite3.Database | undefined
    const conn = () => {
      if (!side) {
        side = new BetterSqlite3(path, { timeout: 10_000 })
        const s = side
        defer(`close ${path}`, () => void s.close())
      }
      return side
    }
    exec = async (sql) => void conn().exec(sql)
    query = async <T>(sql: string) => conn().prepare(sql).all() as T[]
    drop = async () => {} // the file goes with the run's directory
  }
  const open = (onQuery?: (sql: string, ms: number) => void, connectionLimit?: number) => openDatabase(parseDatabaseUrl(url), { timeoutMs: 10_000, onQuery, connectionLimit })
  const central = await open()
  try {
    await migrateToLatest(central)
  } finally {
    await central.close()
  }
  return { dialect, url, name, open, exec, query, drop }
}

/** Open and register the close; closing it early is fine (it runs once). */
export async function openTracked(db: BenchDb, onQuery?: (sql: string, ms: number) => void, connectionLimit?: number): Promise<CentralDb> {
  const central = await db.open(onQuery, connectionLimit)
  const close = defer(`close connection pool to ${db.name}`, () => central.close())
  return { db: central.db, adapter: central.adapter, close, abort: (reason) => central.abort(reason) }
}

/**
 * Bans as add2db stores them (the ban plus the reporter's status 1), many rows per INSERT,
 * left unstamped: the next poll stamps them.
 */
export async function insertPendingBans(central: CentralDb, reporterId: number, ips: readonly string[], chunk = 1000): Promise<void> {
  const { last } = await central.db
    .selectFrom('bans')
    .select((e) => e.fn.max('id').as('last'))
    .executeTakeFirstOrThrow()
  for (let i = 0; i < ips.length; i += chunk) {
    const rows = ips.slice(i, i + chunk).map((ip) => ({
      ip,
      jail: 'sshd',
      protocol: 'tcp',
      port: 'ssh',
      reporter_id: reporterId,
      bantime: 3600,
      expires_at: central.adapter.nowPlusSeconds(3600),
    }))
    await central.db.insertInto('bans').values(rows).execute()
  }
  await sql`INSERT INTO ban_status (host_id, ban_id, status) SELECT reporter_id, id, 1 FROM bans WHERE id > ${Number(last ?? 0)} AND reporter_id = ${reporterId}`.execute(
    central.db,
  )
}

/**
 * Stamp every unstamped ban (seq = id) and move ban_sequence to the top, as pollers would have
 * done while the bans came in one by one: a figure that measures a poll then does not also
 * measure stamping a bulk load (100,000 bans: about 10 s on MariaDB here).
 */
export async function stampAll(central: CentralDb): Promise<void> {
  await sql`UPDATE bans SET seq = id WHERE seq IS NULL`.execute(central.db)
  await sql`UPDATE ban_sequence SET value = (SELECT m FROM (SELECT MAX(seq) AS m FROM bans) AS top) WHERE id = 1`.execute(central.db)
}

/**
 * The database's plan for the poll's fetch (core's fetchBansAfterCursor, exactly as it builds
 * the query: a kysely plugin turns it into EXPLAIN and keeps the rows). MySQL only.
 */
export async function explainFetch(central: CentralDb, hostId: number, cursor: number, limit: number): Promise<unknown> {
  if (central.adapter.name !== 'mysql') return 'EXPLAIN captured on MySQL only'
  const plans: unknown[] = []
  const plugin: KyselyPlugin = {
    transformQuery: (args) => (SelectQueryNode.is(args.node) ? QueryNode.cloneWithExplain(args.node, undefined, undefined) : args.node),
    transformResult: async (args) => {
      plans.push(...args.result.rows)
      return args.result
    },
  }
  try {
    await fetchBansAfterCursor(central.db.withPlugin(plugin), central.adapter, hostId, cursor, limit)
  } catch (err) {
    return `EXPLAIN failed: ${(err as Error).message}`
  }
  return plans.map((p) => {
    const r = p as Record<string, unknown>
    return `${r.table}: type=${r.type} key=${r.key ?? '-'} rows=${r.rows} ${r.Extra ?? ''}`.trim()
  })
}

/**
 * Rows the server read for this session so far (sum of MySQL's Handler_read_* counters):
 * the work a poll does, free of the machine's noise. Meaningful with a one-connection pool
 * (every query on the same session). Null on SQLite.
 */
export async function handlerReads(central: CentralDb): Promise<number | null> {
  if (central.adapter.name !== 'mysql') return null
  const { rows } = await sql<{ Variable_name: string; Value: string }>`SHOW SESSION STATUS LIKE 'Handler_read%'`.execute(central.db)
  return rows.reduce((n, r) => n + Number(r.Value), 0)
}

/** Handler reads of `work` on a one-connection pool, less what the SHOW itself adds. */
export async function measureReads<T>(central: CentralDb, work: () => Promise<T>): Promise<{ value: T; rowsRead: number | null }> {
  const a = await handlerReads(central)
  const b = await handlerReads(central)
  const value = await work()
  const c = await handlerReads(central)
  if (a === null || b === null || c === null) return { value, rowsRead: null }
  return { value, rowsRead: c - b - (b - a) }
}
