import { DatabaseAccessError, DatabaseError, F2bError, TimeoutError } from '../errors.js'
import type { DriverErrors } from './driver-errors.js'
import { mysqlErrors } from './mysql/mysql-errors.js'
import { sqliteErrors } from './sqlite/sqlite-errors.js'

// Errors can come before a dialect is known (a connection refused), so both are asked.
const DRIVERS: readonly DriverErrors[] = [mysqlErrors, sqliteErrors]

/**
 * Turn an error the database driver threw into a DatabaseError that says where it happened
 * (DatabaseAccessError when only an admin can fix it); anything else (an F2bError, or a
 * bug) is returned unchanged.
 */
export function asDatabaseError(err: unknown, where: string): unknown {
  if (err instanceof F2bError) return err
  const driver = DRIVERS.find((d) => d.isDriverError(err))
  if (!driver) return err
  const Kind = driver.isAccessDenied(err) ? DatabaseAccessError : DatabaseError
  return new Kind(`${where}: ${(err as Error).message}`, {
    cause: err,
    hint: 'check that the database is reachable and the account\'s grants (README "Setting up a fleet")',
  })
}

/**
 * The database did not answer in time, as opposed to refusing or failing at once: a deadline
 * of ours passed (TimeoutError), or the driver gave up waiting (DriverErrors.isNoAnswer).
 * Takes the error as thrown or as asDatabaseError wrapped it.
 */
export function isNoAnswer(err: unknown): boolean {
  if (err instanceof TimeoutError) return true
  const raw = err instanceof DatabaseError && err.cause !== undefined ? err.cause : err
  return DRIVERS.some((d) => d.isDriverError(raw) && d.isNoAnswer(raw))
}
