/**
 * Exit codes of every f2b-central program. Part of the contract: fail2ban, cron and
 * monitoring checks read them.
 */
export const ExitCode = {
  /** Done: the ban is stored, the poll ran, the command succeeded. */
  Ok: 0,
  /** Anything else: database or fail2ban unreachable, config or schema problem, timeout. */
  Failure: 1,
  /** Invalid argument or input, or wrong usage. Nothing was written. */
  Usage: 2,
  /** readdb only: another readdb holds this host's lock. Nothing was done. */
  AlreadyRunning: 3,
} as const
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode]
