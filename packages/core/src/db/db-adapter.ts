import type { Kysely, RawBuilder, Transaction } from 'kysely'
import type { SchemaDialect } from '@f2b-central/migrations'
import type { Database } from '../schema/database.js'
import type { AccountAdmin } from './account-admin.js'
import type { DriverErrors } from './driver-errors.js'
import type { HostWrites } from './host-writes.js'

export type Db = Kysely<Database> | Transaction<Database>

/**
 * Every difference between MySQL/MariaDB and SQLite lives behind this interface (as kysely's
 * DialectAdapter does for its own differences). Queries call these methods; nothing else in
 * core asks which database it is talking to.
 */
export interface DbAdapter extends SchemaDialect, DriverErrors {
  readonly name: 'mysql' | 'sqlite'
  /** The database's current UTC time in the stored text form. */
  now(): RawBuilder<string>
  /** The database's current UTC time plus `seconds`. Expiry is computed by the database so host clocks do not matter. */
  nowPlusSeconds(seconds: number): RawBuilder<string>
  /** Every write a host makes: through the host routines on MySQL, plain statements on SQLite. */
  readonly hostWrites: HostWrites
  /** Database accounts for hosts (MySQL/MariaDB); undefined where the database has none (SQLite). */
  readonly accounts: AccountAdmin | undefined
  /** Install or replace the dialect's stored routines (migrate); nothing on SQLite. */
  installRoutines(db: Kysely<unknown>): Promise<void>
}

/** Which server of database.url a database is using, as `check` and `status` show it. */
export interface ServerInUse {
  /** `host:port`. */
  readonly server: string
  /** Its place in database.url's list (1: the first), and the list's length. */
  readonly position: number
  readonly of: number
  /** A Galera node: its state (Synced, Donor/Desynced, …) and the cluster's size; undefined otherwise. */
  readonly galera: { readonly state: string; readonly clusterSize: number } | undefined
  /** The servers passed over on the way to it, for the last connection made, and why. */
  readonly skipped: readonly { readonly server: string; readonly reason: string }[]
}

/** An open central database: the query builder, its dialect adapter, and how to close it. */
export interface CentralDb {
  readonly db: Kysely<Database>
  readonly adapter: DbAdapter
  /** The server in use (MySQL/MariaDB, once a query ran); undefined for SQLite or before any query. */
  serverInUse?(): ServerInUse | undefined
  close(): Promise<void>
  /**
   * Fail every query in flight now, with `reason`, and drop the connections they run on
   * (a deadline passed: nothing may keep waiting for the server). Later queries open new
   * connections. SQLite: nothing to do, its queries run synchronously and wait at most its
   * busy timeout.
   */
  abort(reason: Error): void
}
