import type { Kysely, RawBuilder, Transaction } from 'kysely'
import type { SchemaDialect } from '@f2b-central/migrations'
import type { Database } from '../schema/database.js'
import type { DriverErrors } from './driver-errors.js'

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
  /**
   * Ids of committed bans without a commit-order stamp, oldest first. Must not wait on a
   * transaction that is still inserting (MySQL: SKIP LOCKED); the caller holds the sequence lock.
   */
  selectUnstampedBanIds(trx: Transaction<Database>, limit: number): Promise<number[]>
}

/** An open central database: the query builder, its dialect adapter, and how to close it. */
export interface CentralDb {
  readonly db: Kysely<Database>
  readonly adapter: DbAdapter
  close(): Promise<void>
}
