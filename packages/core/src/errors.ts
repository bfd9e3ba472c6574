import { ExitCode } from './exit-codes.js'

/**
 * Base of every error f2b-central expects. `message` is one line naming the input and the
 * problem; `hint` is what to do next (often a command). Entry points print both and exit
 * with `exitCode`; anything that is not an F2bError is a bug.
 */
export class F2bError extends Error {
  readonly exitCode: ExitCode
  readonly hint: string | undefined
  constructor(message: string, options: { exitCode?: ExitCode; hint?: string; cause?: unknown } = {}) {
    super(message, { cause: options.cause })
    this.name = new.target.name
    this.exitCode = options.exitCode ?? ExitCode.Failure
    this.hint = options.hint
  }
}

/** A command-line argument is missing, unknown or malformed. Exit 2. */
export class UsageError extends F2bError {
  constructor(message: string, hint?: string) {
    super(message, { exitCode: ExitCode.Usage, hint })
  }
}

/** A value (address, jail, port …) failed validation. Exit 2 where it came from argv. */
export class InvalidValueError extends F2bError {
  readonly field: string
  constructor(field: string, value: string, problem: string) {
    super(`invalid ${field} ${quote(value)}: ${problem}`, { exitCode: ExitCode.Usage })
    this.field = field
  }
}

/** The config file is missing, unreadable or invalid. */
export class ConfigError extends F2bError {}

/** The database schema is missing, older or newer than this build. */
export class SchemaError extends F2bError {}

/** The database could not be reached or a query failed. */
export class DatabaseError extends F2bError {}

/**
 * The database refused the account, or the database (or SQLite file) named does not exist or
 * cannot be opened: unlike an outage, waiting will not fix it, an admin must.
 */
export class DatabaseAccessError extends DatabaseError {}

/** fail2ban could not be asked or its state could not be read. */
export class Fail2banError extends F2bError {}

/** An operation ran past its deadline. */
export class TimeoutError extends F2bError {}

/** nft, ipset, iptables or conntrack failed or did not answer (a temporary local failure: bans stay pending). */
export class FirewallError extends F2bError {}

/** Quote a value for an error message so control characters and length cannot forge output. */
export function quote(value: string, max = 80): string {
  const shown = value.length > max ? `${value.slice(0, max)}…` : value
  return JSON.stringify(shown)
}

/** Format an error for an entry point's one-line stderr output. */
export function describeError(err: unknown): string {
  if (err instanceof F2bError) return err.hint ? `${err.message} (${err.hint})` : err.message
  return `internal error, please report it: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`
}
