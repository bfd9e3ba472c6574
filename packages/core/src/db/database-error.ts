import { DatabaseAccessError, DatabaseError, F2bError } from '../errors.js'

// Driver errors: mysql2 (ER_…, PROTOCOL_…, socket errors such as ECONNREFUSED) and better-sqlite3 (SQLITE_…).
const DRIVER_CODE = /^(ER_|SQLITE_|PROTOCOL_|E[A-Z]+$)/

// The account is refused or lacks a grant, or the database named does not exist.
const ACCESS_CODES = new Set([
  'ER_ACCESS_DENIED_ERROR',
  'ER_DBACCESS_DENIED_ERROR',
  'ER_TABLEACCESS_DENIED_ERROR',
  'ER_COLUMNACCESS_DENIED_ERROR',
  'ER_BAD_DB_ERROR',
  'SQLITE_CANTOPEN',
  'SQLITE_PERM',
  'SQLITE_READONLY',
  'SQLITE_AUTH',
])

/**
 * Turn an error the database driver threw into a DatabaseError that says where it happened;
 * anything else (an F2bError, or a bug) is returned unchanged.
 */
export function asDatabaseError(err: unknown, where: string): unknown {
  if (err instanceof F2bError) return err
  const code = (err as { code?: unknown } | null)?.code
  if (typeof code !== 'string' || !DRIVER_CODE.test(code)) return err
  const Kind = ACCESS_CODES.has(code) ? DatabaseAccessError : DatabaseError
  return new Kind(`${where}: ${(err as Error).message}`, {
    cause: err,
    hint: "check that the database is reachable and the account's grants (README \"Setting up a fleet\")",
  })
}
