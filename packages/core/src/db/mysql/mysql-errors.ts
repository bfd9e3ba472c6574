import { errorProperty, type DriverErrors } from '../driver-errors.js'

const ER_LOCK_WAIT_TIMEOUT = 1205
// Also Galera's certification failure: a conflicting write certified first on another node
// fails this transaction at COMMIT (or a replicated write aborts it), with the same code.
const ER_LOCK_DEADLOCK = 1213
const ER_NO_SUCH_TABLE = 1146
const ER_DUP_ENTRY = 1062

const NO_ANSWER_CODES = new Set(['ETIMEDOUT', 'PROTOCOL_SEQUENCE_TIMEOUT'])
const ACCESS_CODES = new Set(['ER_ACCESS_DENIED_ERROR', 'ER_DBACCESS_DENIED_ERROR', 'ER_TABLEACCESS_DENIED_ERROR', 'ER_COLUMNACCESS_DENIED_ERROR', 'ER_BAD_DB_ERROR'])

const errno = (err: unknown): number | undefined => {
  const n = errorProperty(err, 'errno')
  return typeof n === 'number' ? n : undefined
}

// Only the error itself, as mysql2 throws it: a wrapped error keeps its own meaning.
const ownCode = (err: unknown): string | undefined => {
  const c = (err as { code?: unknown } | null)?.code
  return typeof c === 'string' ? c : undefined
}

// The server cannot serve this session, and another server of database.url may:
// - 1047 ER_UNKNOWN_COM_ERROR: a Galera node outside the Primary component (or still joining),
//   "WSREP has not yet prepared node for application use";
// - 1053 ER_SERVER_SHUTDOWN, 1927 ER_CONNECTION_KILLED, 1040 ER_CON_COUNT_ERROR (too many connections);
// - 1180 ER_ERROR_DURING_COMMIT: a Galera node that lost the Primary component during COMMIT (not committed).
const SERVER_FAILURE_ERRNOS = new Set([1047, 1053, 1927, 1040, 1180])
// The connection failed or was lost: refused, unreachable, timed out, reset, closed.
const CONNECTION_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'EHOSTDOWN',
  'ENETUNREACH',
  'ENETDOWN',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'PROTOCOL_CONNECTION_LOST',
  'PROTOCOL_SEQUENCE_TIMEOUT',
  'PROTOCOL_ENQUEUE_AFTER_FATAL_ERROR',
  'PROTOCOL_ENQUEUE_AFTER_QUIT',
])

const EVERY_SERVER_TRIED = Symbol('f2b-central: every server of database.url was tried')

/**
 * Mark the error of a connection attempt that tried every server of database.url: running
 * the transaction again at once cannot help, so it is no longer a server failure to retry.
 */
export function markEveryServerTried<T>(err: T): T {
  if (err !== null && typeof err === 'object') Object.defineProperty(err, EVERY_SERVER_TRIED, { value: true })
  return err
}

const isServerFailure = (err: unknown): boolean => {
  if (err !== null && typeof err === 'object' && EVERY_SERVER_TRIED in err) return false
  const n = errno(err)
  if (n !== undefined && SERVER_FAILURE_ERRNOS.has(n)) return true
  const code = errorProperty(err, 'code')
  return typeof code === 'string' && CONNECTION_CODES.has(code)
}

/** mysql2's errors: server errors (ER_…), protocol errors (PROTOCOL_…) and socket errors (ECONNREFUSED, ETIMEDOUT, …). */
export const mysqlErrors: DriverErrors = {
  isDriverError: (err) => /^(ER_|PROTOCOL_|E[A-Z]+$)/.test(ownCode(err) ?? ''),
  isRetryable: (err) => {
    const n = errno(err)
    return n === ER_LOCK_DEADLOCK || n === ER_LOCK_WAIT_TIMEOUT || isServerFailure(err)
  },
  isServerFailure,
  isDuplicateKey: (err) => errno(err) === ER_DUP_ENTRY,
  isMissingTable: (err) => errno(err) === ER_NO_SUCH_TABLE,
  isAccessDenied: (err) => ACCESS_CODES.has(ownCode(err) ?? ''),
  // ETIMEDOUT: mysql2's connectTimeout, or the kernel's for a SYN never answered.
  isNoAnswer: (err) => NO_ANSWER_CODES.has(ownCode(err) ?? ''),
}
