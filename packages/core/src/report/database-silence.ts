import { mkdirSync, readFileSync, renameSync, rmSync, unlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'

/**
 * The spool's note that the database stopped answering: `.database-silent` in the spool
 * directory, holding when an add2db last waited database.timeoutSeconds for it in vain
 * (first line, ISO 8601) and what it waited for. fail2ban runs a jail's actions one after
 * another, so while the note is fresh add2db spools at once instead of holding the jail for
 * another timeout; nothing is lost, the spool is shipped as after any outage. Any readdb or
 * add2db that reaches the database removes it (shipSpool).
 */
export const SILENCE_MARKER = '.database-silent'

/**
 * How long a note holds: six database timeouts (30 s with the default 5 s). Then one add2db
 * tries the database again, so a recovery is noticed even without readdb; while the database
 * stays silent, those tries hold fail2ban for at most one timeout in seven.
 */
export function probeIntervalMs(timeoutMs: number): number {
  return 6 * timeoutMs
}

/** Note that the database did not answer. Written whole (a temporary file renamed into place). */
export function noteSilence(dir: string, at: Date, what: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 })
  const tmp = join(dir, `${SILENCE_MARKER}.${process.pid}.tmp`)
  try {
    writeFileSync(tmp, `${at.toISOString()}\n${what}\n`, { mode: 0o600 })
    renameSync(tmp, join(dir, SILENCE_MARKER))
  } finally {
    rmSync(tmp, { force: true })
  }
}

/** When the database was last found silent, if a note says so and can be read. */
export function silentSince(dir: string): Date | undefined {
  try {
    const at = Date.parse(readFileSync(join(dir, SILENCE_MARKER), 'utf8').split('\n')[0] ?? '')
    return Number.isNaN(at) ? undefined : new Date(at)
  } catch {
    return undefined
  }
}

/** The database answered: the note goes. Throws only when it is there and cannot be removed. */
export function clearSilence(dir: string): void {
  try {
    unlinkSync(join(dir, SILENCE_MARKER))
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
  }
}

/**
 * Whether this add2db should spool without trying the database: the time of the silence while
 * the note is fresher than probeIntervalMs, else undefined. A run that finds the note stale
 * is the one that tries again, and renews the note first, so the runs beside it keep
 * spooling instead of all waiting together. A note from the future (the clock was set back)
 * counts as stale.
 */
export function skipSilentDatabase(dir: string, timeoutMs: number, now: Date, what: string): Date | undefined {
  const since = silentSince(dir)
  if (since === undefined) return undefined
  const age = now.getTime() - since.getTime()
  if (age >= 0 && age < probeIntervalMs(timeoutMs)) return since
  try {
    noteSilence(dir, now, what)
  } catch {
    // not renewed: the runs beside this one try the database too
  }
  return undefined
}
