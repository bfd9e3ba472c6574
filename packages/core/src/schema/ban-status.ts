/**
 * Status of one ban on one host (table ban_status, view ban_host_status). Part of the
 * contract: auditing queries and monitoring read these numbers.
 */
export const BanStatus = {
  /** Not yet applied by this host (also: no row yet), or held locally nearly expired: retried. */
  Pending: 0,
  /** Handed to the local fail2ban (the reporter gets 1 at insert time). */
  Added: 1,
  /** Local fail2ban already holds it with more than the recent-ban fraction of its ban time left. */
  AlreadyBanned: 2,
  /** Could not be applied; `error` says why. */
  Error: 3,
  /** Removed by an operator's unban. */
  Removed: 4,
  /** Expired before this host applied it. */
  Expired: 5,
  /** Skipped: the address is allowlisted. */
  Allowlisted: 6,
} as const
export type BanStatus = (typeof BanStatus)[keyof typeof BanStatus]

/** Statuses that mean the host enforces (or enforced) the ban: 1 added, 2 already banned. */
export const APPLIED_STATUSES: readonly number[] = [BanStatus.Added, BanStatus.AlreadyBanned]

const NAMES: Record<number, string> = {
  [BanStatus.Pending]: 'pending',
  [BanStatus.Added]: 'added',
  [BanStatus.AlreadyBanned]: 'already banned',
  [BanStatus.Error]: 'error',
  [BanStatus.Removed]: 'removed',
  [BanStatus.Expired]: 'expired',
  [BanStatus.Allowlisted]: 'allowlisted',
}

/** The word for a per-host ban status (README's status table), or `status N` for an unknown code. */
export function banStatusName(status: number): string {
  return NAMES[status] ?? `status ${status}`
}
