import { DatabaseError, F2bError } from '../errors.js'

// Driver errors: mysql2 (ER_…, PROTOCOL_…, socket errors such as ECONNREFUSED) and better-sqlite3 (SQLITE_…).
const DRIVER_CODE = /^(ER_|SQLITE_|PROTOCOL_|E[A-Z]+$)/

/**
 * Turn an error the database driver threw into a DatabaseError that says where it happened;
 * anything else (an F2bError, or a bug) is returned unchanged.
 */
export function asDatabaseError(err: unknown, where: string): unknown {
  if (err instanceof F2bError) return err
  const code = (err as { code?: unknown } | null)?.code
  if (typeof code !== 'string' || !DRIVER_CODE.test(code)) return err
  return new DatabaseError(`${where}: ${(err as Error).message}`, {
    cause: err,
    hint: "check that the database is reachable and the account's grants (README \"Setting up a fleet\")",
  })
}
