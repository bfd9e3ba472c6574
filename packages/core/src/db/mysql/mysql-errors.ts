import { errorProperty, type DriverErrors } from '../driver-errors.js'

const ER_LOCK_WAIT_TIMEOUT = 1205
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

/** mysql2's errors: server errors (ER_…), protocol errors (PROTOCOL_…) and socket errors (ECONNREFUSED, ETIMEDOUT, …). */
export const mysqlErrors: DriverErrors = {
  isDriverError: (err) => /^(ER_|PROTOCOL_|E[A-Z]+$)/.test(ownCode(err) ?? ''),
  isRetryable: (err) => {
    const n = errno(err)
    return n === ER_LOCK_DEADLOCK || n === ER_LOCK_WAIT_TIMEOUT
  },
  isDuplicateKey: (err) => errno(err) === ER_DUP_ENTRY,
  isMissingTable: (err) => errno(err) === ER_NO_SUCH_TABLE,
  isAccessDenied: (err) => ACCESS_CODES.has(ownCode(err) ?? ''),
  // ETIMEDOUT: mysql2's connectTimeout, or the kernel's for a SYN never answered.
  isNoAnswer: (err) => NO_ANSWER_CODES.has(ownCode(err) ?? ''),
}
