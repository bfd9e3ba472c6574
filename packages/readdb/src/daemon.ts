import cron from 'node-cron'
import type { Logger } from './logger.js'

export interface DaemonOptions {
  /** A node-cron expression; readdb.schedule, checked when the config was loaded. */
  schedule: string
  tick: () => Promise<void>
  log: Logger
  /** Longest pause between attempts while polls fail, milliseconds. */
  maxBackoffMs: number
}

const FIRST_BACKOFF_MS = 1000

/**
 * Run `tick` on the cron schedule until SIGTERM or SIGINT, then wait for the running tick.
 * Never two ticks at once: a slow poll makes the next ticks skip, not pile up, and the first
 * tick it makes skip is logged (one warning per slow poll, not one per tick). While polls
 * fail (database or fail2ban gone), ticks are skipped for a doubling pause (1 s, 2 s, 4 s …
 * up to maxBackoffMs): one log line per failed attempt, one when it recovers.
 */
export function runDaemon({ schedule, tick, log, maxBackoffMs }: DaemonOptions): Promise<void> {
  let running: Promise<void> | undefined
  let runningSince = 0
  let skipLogged = false
  let backoffMs = 0
  let pausedUntil = 0
  let task: ReturnType<typeof cron.schedule> | undefined
  // Signals first: setting up the schedule takes a while, and a SIGTERM before the handler
  // is in place would kill the daemon instead of stopping it.
  const stopped = new Promise<void>((resolve) => {
    const stop = (signal: NodeJS.Signals): void => {
      log.info({ signal }, 'stopping')
      void Promise.resolve(task?.stop())
        .then(() => running)
        .then(() => resolve())
    }
    process.once('SIGTERM', stop)
    process.once('SIGINT', stop)
  })
  const runTick = (): void => {
    if (running !== undefined) {
      if (!skipLogged) {
        const seconds = Math.round((Date.now() - runningSince) / 1000)
        log.warn({ runningSeconds: seconds }, `tick skipped: previous poll still running for ${seconds}s`)
        skipLogged = true
      }
      return
    }
    if (Date.now() < pausedUntil) return
    runningSince = Date.now()
    skipLogged = false
    running = tick()
      .then(() => {
        if (backoffMs > 0) log.info('recovered: polls succeed again')
        backoffMs = 0
      })
      .catch((err: unknown) => {
        backoffMs = Math.min(maxBackoffMs, backoffMs === 0 ? FIRST_BACKOFF_MS : backoffMs * 2)
        pausedUntil = Date.now() + backoffMs
        log.error({ err: errorLine(err), retryInSeconds: backoffMs / 1000 }, 'poll failed')
      })
      .finally(() => {
        running = undefined
      })
  }
  task = cron.schedule(schedule, runTick, { noOverlap: true, name: 'readdb-poll' })
  runTick()
  return stopped
}

function errorLine(err: unknown): string {
  if (err instanceof Error) return 'hint' in err && err.hint ? `${err.message} (${String(err.hint)})` : err.message
  return String(err)
}
