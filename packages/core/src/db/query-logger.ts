import type { LogConfig } from 'kysely'

/** Kysely's log hook for an optional per-query callback; undefined keeps kysely's zero-cost default. */
export function queryLogger(onQuery: ((sql: string, ms: number) => void) | undefined): LogConfig | undefined {
  if (!onQuery) return undefined
  return (event) => onQuery(event.query.sql, event.queryDurationMillis)
}
