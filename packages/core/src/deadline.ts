import { TimeoutError } from './errors.js'

/**
 * Reject with TimeoutError when `work` has not settled after `ms`. The work itself is not
 * cancelled: callers that must not hang (add2db inside fail2ban) exit after this rejects.
 */
export function withDeadline<T>(work: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new TimeoutError(`${what}: no answer within ${ms / 1000} s`, { hint: 'check that the database is reachable (`f2b-central check`)' })), ms)
    timer.unref()
  })
  return Promise.race([work, deadline]).finally(() => clearTimeout(timer))
}
