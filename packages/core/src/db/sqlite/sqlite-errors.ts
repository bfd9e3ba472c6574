import { errorProperty, type DriverErrors } from '../driver-errors.js'

const code = (err: unknown): string => {
  const c = errorProperty(err, 'code')
  return typeof c === 'string' ? c : ''
}

const ownCode = (err: unknown): string => {
  const c = (err as { code?: unknown } | null)?.code
  return typeof c === 'string' ? c : ''
}

const ACCESS_CODES = new Set(['SQLITE_CANTOPEN', 'SQLITE_PERM', 'SQLITE_READONLY', 'SQLITE_AUTH'])

/** better-sqlite3's errors: SQLITE_… codes, extended ones included. */
export const sqliteErrors: DriverErrors = {
  isDriverError: (err) => ownCode(err).startsWith('SQLITE_'),
  // Extended codes count too: in WAL mode a transaction that read before writing gets
  // SQLITE_BUSY_SNAPSHOT at once (no busy wait) when another writer committed in between.
  isRetryable: (err) => code(err).startsWith('SQLITE_BUSY') || code(err).startsWith('SQLITE_LOCKED'),
  // One file on this machine: there is no other server to move to.
  isServerFailure: () => false,
  isDuplicateKey: (err) => code(err) === 'SQLITE_CONSTRAINT_UNIQUE' || code(err) === 'SQLITE_CONSTRAINT_PRIMARYKEY',
  // SQLite reports a missing table as a plain SQLITE_ERROR: its message is all there is.
  isMissingTable: (err) => err instanceof Error && /no such table/.test(err.message),
  isAccessDenied: (err) => ACCESS_CODES.has(ownCode(err)),
  // Plain SQLITE_BUSY is what the busy handler gives up with; the extended ones come at once.
  isNoAnswer: (err) => ownCode(err) === 'SQLITE_BUSY',
}
