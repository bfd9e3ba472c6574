import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, unlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'

/**
 * The spool's note that the MQTT broker did not take a wake-up: `.broker-down` in the spool
 * directory, holding when (ISO 8601, first line). add2db is one process per ban, so without
 * the note every ban during an outage would try the broker again (and say so in fail2ban's
 * log). While the note is fresh, runs skip the broker without a try and without a word; the
 * first run after it tries again (renewing it first, so the runs beside it keep skipping),
 * and one that gets through removes it: push resumes without a restart.
 */
export const BROKER_DOWN_MARKER = '.broker-down'

/** How long a note holds: a lost wake-up costs at most one readdb tick, so trying again often is not worth its cost. */
export const BROKER_RETRY_MS = 30_000

/** Whether to skip the broker now. A note from the future (the clock was set back) counts as stale. */
export function skipDownBroker(dir: string, now: Date): boolean {
  let at: number
  try {
    at = Date.parse(readFileSync(join(dir, BROKER_DOWN_MARKER), 'utf8').split('\n')[0] ?? '')
  } catch {
    return false
  }
  const age = now.getTime() - at
  if (!Number.isNaN(at) && age >= 0 && age < BROKER_RETRY_MS) return true
  try {
    noteBrokerDown(dir, now, 'retrying')
  } catch {
    // not renewed: the runs beside this one try the broker too
  }
  return false
}

/** Note the broker down; whether the note is new (the problem shows for the first time, and is worth a line). */
export function noteBrokerDown(dir: string, now: Date, reason: string): boolean {
  // A retry renewed the note before it tried: a retry that fails again is no news.
  const fresh = !existsSync(join(dir, BROKER_DOWN_MARKER))
  mkdirSync(dir, { recursive: true, mode: 0o700 })
  const tmp = join(dir, `${BROKER_DOWN_MARKER}.${process.pid}.tmp`)
  try {
    writeFileSync(tmp, `${now.toISOString()}\n${reason}\n`, { mode: 0o600 })
    renameSync(tmp, join(dir, BROKER_DOWN_MARKER))
  } finally {
    rmSync(tmp, { force: true })
  }
  return fresh
}

/** The broker took a wake-up: the note goes. Best effort. */
export function clearBrokerDown(dir: string): void {
  try {
    unlinkSync(join(dir, BROKER_DOWN_MARKER))
  } catch {
    // absent, or the next run removes it
  }
}
