import type { DriverErrors } from './driver-errors.js'

/**
 * Run `work` again when the database reports a deadlock, lock-wait timeout or busy file.
 * `work` must be a whole transaction, so a retry starts from scratch.
 */
export async function withRetry<T>(adapter: Pick<DriverErrors, 'isRetryable'>, work: () => Promise<T>, attempts = 5): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await work()
    } catch (err) {
      if (attempt >= attempts || !adapter.isRetryable(err)) throw err
      await new Promise((r) => setTimeout(r, 20 * 2 ** attempt + Math.random() * 20))
    }
  }
}
