import { sql, type RawBuilder, type SqlBool } from 'kysely'
import type { DbAdapter } from '../db/db-adapter.js'

/**
 * The one definition of an active ban, for every operator query: not expired by the
 * database's clock (a permanent ban has no expiry) and not revoked by an operator's unban
 * (`bans.revoked_at`, migration 0002). `alias` is the name the query gives `bans`.
 */
export function isActiveBan(adapter: DbAdapter, alias = 'b'): RawBuilder<SqlBool> {
  const col = (c: string) => sql.ref(`${alias}.${c}`)
  return sql<SqlBool>`((${col('expires_at')} IS NULL OR ${col('expires_at')} > ${adapter.now()}) AND ${col('revoked_at')} IS NULL)`
}

/** True (1) for a ban whose expiry has passed by the database's clock; for a selected column. */
export function isExpiredBan(adapter: DbAdapter, alias = 'b'): RawBuilder<number> {
  const col = sql.ref(`${alias}.expires_at`)
  return sql<number>`CASE WHEN ${col} IS NOT NULL AND ${col} <= ${adapter.now()} THEN 1 ELSE 0 END`
}
