import { BanStatus } from '../schema/ban-status.js'

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

/** Statuses that mean the host enforces (or enforced) the ban: 1 added, 2 already banned. */
export const APPLIED_STATUSES: readonly number[] = [BanStatus.Added, BanStatus.AlreadyBanned]
