import cron from 'node-cron'
import type { Logger } from './logger.js'
import { WakeGap } from './wake-gap.js'

export interface DaemonOptions {
  /** A node-cron expression; readdb.schedule, checked when the config was loaded. */
  schedule: string
  /** One poll; resolves to false when it found nothing to do (wake-ups that find nothing back off, wake-gap.ts). */
  tick: () => Promise<boolean>
  log: Logger
  /** Longest pause between attempts while polls fail, milliseconds. */
  maxBackoffMs: number
  /** Given the daemon's `wake` (push): each call asks for a poll now, between ticks. */
  wakeUps?: (wake: () => void) => void
}

const FIRST_BACKOFF_MS = 1000

/**
 * Run `tick` on the cron schedule until SIGTERM or SIGINT, then wait for the running tick.
 * Never two ticks at once: a slow poll makes the next ticks skip, not pile up, and the first
 * tick it makes skip is logged (one warning per slow poll, not one per tick). While polls
 * fail (database or fail2ban gone), ticks are skipped for a doubling pause (1 s, 2 s, 4 s …
 * up to maxBackoffMs): one log line per failed attempt, one when it recovers.
 *
 * With push (wakeUps), a wake-up starts a poll between ticks, under the same rule: never two
 * at once (one that comes during a poll runs right after it, however many came), at most one
 * per WakeGap (250 ms, longer while wake-up polls find nothing), and not during a backoff
 * pause. The schedule stays as it is: a lost wake-up delays a ban by one tick at most.
 */
export function runDaemon({ schedule, tick, log, maxBackoffMs, wakeUps }: DaemonOptions): Promise<void> {
  let running: Promise<void> | undefined
  let runningSince = 0
  let skipLogged = false
  // Push: a wake-up while a poll runs is kept for right after it; one that comes sooner than
  // the wake gap after the last start waits for that.
  const gap = new WakeGap()
  let woken = false
  let wakeTimer: NodeJS.Timeout | undefined
  let byWake = false
  let stopping = false
  let backoffMs = 0
  let pausedUntil = 0
  let task: ReturnType<typeof cron.schedule> | undefined
  // Signals first: setting up the schedule takes a while, and a SIGTERM before the handler
  // is in place would kill the daemon instead of stopping it.
  const stopped = new Promise<void>((resolve) => {
    const stop = (signal: NodeJS.Signals): void => {
      log.info({ signal }, 'stopping')
      stopping = true
      clearTimeout(wakeTimer)
      void Promise.resolve(task?.stop())
        .then(() => running)
        .then(() => resolve())
    }
    process.once('SIGTERM', stop)
    process.once('SIGINT', stop)
  })
  const runTick = (): void => {
    if (running !== undefined) {
      // A tick that meets a poll a wake-up started is no slow poll: nothing to warn about.
      if (byWake) return
      if (!skipLogged) {
        const seconds = Math.round((Date.now() - runningSince) / 1000)
        log.warn({ runningSeconds: seconds }, `tick skipped: previous poll still running for ${seconds}s`)
        skipLogged = true
      }
      return
    }
    if (Date.now() < pausedUntil) return
    start(false)
  }
  const start = (wakeUp: boolean): void => {
    runningSince = Date.now()
    skipLogged = false
    byWake = wakeUp
    log.debug({ by: wakeUp ? 'wake-up' : 'schedule' }, 'poll started')
    running = tick()
      .then((didWork) => {
        gap.afterPoll(wakeUp, didWork)
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
        if (woken) wake()
      })
  }
  const wake = (): void => {
    if (stopping) return
    woken = true
    if (running !== undefined || wakeTimer !== undefined) return
    // Failing polls back off whoever asks; the wake-up is kept for when the pause is over.
    const wait = Math.max(runningSince + gap.ms, pausedUntil) - Date.now()
    if (wait > 0) {
      wakeTimer = setTimeout(() => {
        wakeTimer = undefined
        wake()
      }, wait)
      return
    }
    woken = false
    start(true)
  }
  task = cron.schedule(schedule, runTick, { noOverlap: true, name: 'readdb-poll' })
  wakeUps?.(wake)
  runTick()
  return stopped
}

function errorLine(err: unknown): string {
  if (err instanceof Error) return 'hint' in err && err.hint ? `${err.message} (${String(err.hint)})` : err.message
  return String(err)
}
