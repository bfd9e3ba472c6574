import { sql, type RawBuilder, type SqlBool } from 'kysely'
import type { DbAdapter } from '../db-adapter.js'

/**
 * The moment a predicate is evaluated at: the database's now (default; host clocks never
 * decide whether a ban is over), or a stored time such as the end of an expiry sweep's range.
 */
export type BanClock = RawBuilder<string> | string

function at(adapter: DbAdapter, clock: BanClock | undefined): RawBuilder<string> {
  if (clock === undefined) return adapter.now()
  return typeof clock === 'string' ? sql<string>`${clock}` : clock
}

function col(alias: string, column: string) {
  return sql.ref(`${alias}.${column}`)
}

/**
 * A ban's time ran out (a permanent ban has no expiry and never does). `alias` is the name
 * the query gives `bans`.
 */
export function hasExpired(adapter: DbAdapter, alias = 'b', clock?: BanClock): RawBuilder<SqlBool> {
  return sql<SqlBool>`(${col(alias, 'expires_at')} IS NOT NULL AND ${col(alias, 'expires_at')} <= ${at(adapter, clock)})`
}

/** An operator's unban ended it (`bans.revoked_at`, migration 0002). */
export function isRevoked(alias = 'b'): RawBuilder<SqlBool> {
  return sql<SqlBool>`(${col(alias, 'revoked_at')} IS NOT NULL)`
}

/**
 * The one definition of an active ban, for every query: neither expired by the database's
 * clock nor revoked by an operator's unban.
 */
export function isActiveBan(adapter: DbAdapter, alias = 'b', clock?: BanClock): RawBuilder<SqlBool> {
  const expires = col(alias, 'expires_at')
  return sql<SqlBool>`((${expires} IS NULL OR ${expires} > ${at(adapter, clock)}) AND ${col(alias, 'revoked_at')} IS NULL)`
}

/** A predicate as a 0/1 column, for rows that are read whatever their state. */
export function asFlag(predicate: RawBuilder<SqlBool>): RawBuilder<number> {
  return sql<number>`CASE WHEN ${predicate} THEN 1 ELSE 0 END`
}

/** Stored past its reporter's flood limit and not released yet: no other host applies it. */
export function isHeld(alias = 'b'): RawBuilder<SqlBool> {
  return sql<SqlBool>`(${col(alias, 'held_at')} IS NOT NULL)`
}
