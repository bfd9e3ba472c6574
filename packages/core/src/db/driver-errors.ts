/**
 * How one dialect's driver reports its errors. Each dialect folder implements it; nothing
 * outside a dialect folder names a driver's error codes.
 */
export interface DriverErrors {
  /** The error came from this driver (not from f2b-central itself, nor a bug). */
  isDriverError(err: unknown): boolean
  /**
   * A deadlock (on Galera also a certification conflict at COMMIT), lock wait timeout or busy
   * database, or a server failure: the transaction can simply be run again, from scratch
   * (after a server failure, on the next server of database.url).
   */
  isRetryable(err: unknown): boolean
  /**
   * The server cannot serve this session, though another one may: the connection was refused,
   * lost or timed out, the server is shutting down, or it is a Galera node outside the Primary
   * component (1047). The server list moves on to the next server (server-list.ts).
   */
  isServerFailure(err: unknown): boolean
  /** A unique key already holds this value. */
  isDuplicateKey(err: unknown): boolean
  /** The query failed because a table does not exist (an unmigrated database). */
  isMissingTable(err: unknown): boolean
  /** The account is refused or lacks a grant, the database named does not exist, or the file cannot be opened: only an admin can fix it. */
  isAccessDenied(err: unknown): boolean
  /**
   * The database gave no answer within its timeout (a connection never completed; SQLite: the
   * file stayed locked for the whole busy timeout), as opposed to one it refused at once: a
   * try right after would most likely wait as long.
   */
  isNoAnswer(err: unknown): boolean
}

/** An error's own property, or its cause's: Kysely and the drivers wrap errors. */
export function errorProperty(err: unknown, key: 'code' | 'errno'): unknown {
  const e = err as Record<string, unknown> | null | undefined
  if (e === null || typeof e !== 'object') return undefined
  if (e[key] !== undefined) return e[key]
  return e.cause ? errorProperty(e.cause, key) : undefined
}
