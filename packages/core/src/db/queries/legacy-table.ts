import { sql } from 'kysely'
import { F2bError } from '../../errors.js'
import type { CentralDb } from '../db-adapter.js'

/** The old Python scripts' table (shared/seeds/002): one row per ban, one `host_<name>` status column per host. */
export const LEGACY_TABLE = 'ip_table'
const REQUIRED_COLUMNS = ['id', 'added_by', 'created', 'jailname', 'protocol', 'port', 'ip'] as const

/** The columns of the old scripts' table, checked to be that table. */
export async function legacyColumns(source: CentralDb): Promise<string[]> {
  const { rows } = await sql<{
    name: string
  }>`SELECT COLUMN_NAME AS name FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ${LEGACY_TABLE} ORDER BY ORDINAL_POSITION`.execute(source.db)
  const names = rows.map((r) => String(r.name))
  if (names.length === 0) throw new F2bError(`the legacy database has no table ${LEGACY_TABLE}`, { hint: 'check the database name in --from' })
  const missing = REQUIRED_COLUMNS.filter((c) => !names.includes(c))
  if (missing.length > 0) throw new F2bError(`${LEGACY_TABLE} has no column ${missing.join(', ')}: not the old scripts' table`)
  return names
}

/** Every `added_by` value, as stored (validated by the caller). */
export async function legacyReporters(source: CentralDb): Promise<unknown[]> {
  const { rows } = await sql<{ added_by: unknown }>`SELECT DISTINCT added_by FROM ${sql.table(LEGACY_TABLE)}`.execute(source.db)
  return rows.map((r) => r.added_by)
}

/** One page of rows after `afterId`, in id order, as stored. */
export async function readLegacyPage(source: CentralDb, afterId: string | number, limit: number): Promise<Record<string, unknown>[]> {
  const { rows } = await sql<Record<string, unknown>>`SELECT * FROM ${sql.table(LEGACY_TABLE)} WHERE id > ${afterId} ORDER BY id LIMIT ${limit}`.execute(source.db)
  return rows
}
