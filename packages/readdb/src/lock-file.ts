import { closeSync, mkdirSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs'
import { dirname } from 'node:path'
import { F2bError } from '@f2b-central/core/errors'

/** Another readdb holds the lock. */
export class AlreadyRunningError extends F2bError {}

/** A held lock; release() removes it. */
export interface HeldLock {
  readonly path: string
  release(): void
}

/**
 * Take the host's readdb lock: a pid file created with O_EXCL. A lock left by a process that
 * no longer exists (kill -9, power cut) is taken over; a live holder is an AlreadyRunningError.
 */
export function acquireLock(path: string): HeldLock {
  mkdirSync(dirname(path), { recursive: true, mode: 0o755 })
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(path, 'wx', 0o644)
      writeSync(fd, `${process.pid}\n`)
      closeSync(fd)
      return { path, release: () => releaseIfOurs(path) }
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') {
        throw new F2bError(`cannot create lock file ${path}: ${(err as Error).message}`, { hint: 'set readdb.lockFile to a writable path' })
      }
      const holder = readPid(path)
      if (holder !== undefined && isAlive(holder)) {
        throw new AlreadyRunningError(`readdb is already running on this host (pid ${holder}, lock file ${path})`, {
          hint: 'run either the daemon or the cron/timer poll, not both',
        })
      }
      removeStale(path)
    }
  }
  throw new AlreadyRunningError(`could not take the lock file ${path}: another readdb keeps taking it`)
}

function readPid(path: string): number | undefined {
  try {
    const pid = Number.parseInt(readFileSync(path, 'utf8').trim(), 10)
    return Number.isInteger(pid) && pid > 0 ? pid : undefined
  } catch {
    return undefined
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}

function removeStale(path: string): void {
  try {
    unlinkSync(path)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
  }
}

function releaseIfOurs(path: string): void {
  if (readPid(path) === process.pid) removeStale(path)
}
