import { createHash } from 'node:crypto'
import { closeSync, constants, fstatSync, ftruncateSync, mkdirSync, openSync, readdirSync, readFileSync, readlinkSync, unlinkSync, writeSync } from 'node:fs'
import { createServer, type Server } from 'node:net'
import { dirname, resolve } from 'node:path'
import { F2bError } from '@f2b-central/core/errors'
import { ExitCode } from '@f2b-central/core/exit-codes'

/** Another readdb holds the lock (exit 3: nothing was done). */
export class AlreadyRunningError extends F2bError {
  constructor(message: string, hint: string) {
    super(message, { exitCode: ExitCode.AlreadyRunning, hint })
  }
}

/** A held lock; release() gives it up and removes the PID file. */
export interface HeldLock {
  readonly path: string
  release(): void
}

const NAME_PREFIX = 'f2b-central-readdb:'
// sun_path is 108 bytes; an abstract name uses all but the leading NUL.
const MAX_NAME_BYTES = 107

/**
 * Take the host's readdb lock. The lock itself is a Linux abstract-namespace unix socket
 * named after the lock path: only one process can bind a name, and the kernel frees it the
 * moment that process ends however it ends (kill -9, OOM, power cut), so there is no stale
 * lock to take over and no PID to be reused. `path` then gets this process's PID, for
 * humans only (`cat /run/f2b-central/readdb.lock`): what it says never decides anything.
 *
 * Abstract names live in the network namespace, so two readdb exclude each other only in the
 * same one (the shipped units do not give readdb a namespace of its own). Any local user can
 * bind a name: if one does, the message says the holder is not a readdb of this user.
 */
export async function acquireLock(path: string): Promise<HeldLock> {
  const absolute = resolve(path)
  mkdirSync(dirname(absolute), { recursive: true, mode: 0o755 })
  const name = lockName(absolute)
  const server = createServer((socket) => socket.destroy())
  try {
    await new Promise<void>((ok, fail) => {
      server.once('error', fail)
      server.listen(`\0${name}`, () => {
        server.off('error', fail)
        ok()
      })
    })
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EADDRINUSE') throw heldBy(name, absolute)
    throw new F2bError(`cannot take the readdb lock for ${absolute}: ${(err as Error).message}`, { hint: 'readdb needs Linux and AF_UNIX sockets' })
  }
  // Not a reason to keep the event loop alive: the lock lasts as long as the process does.
  server.unref()
  try {
    writePid(absolute)
  } catch (err) {
    server.close()
    throw new F2bError(`cannot write the lock file ${absolute}: ${(err as Error).message}`, { hint: 'set readdb.lockFile to a writable path (a regular file, not a symlink)' })
  }
  return { path: absolute, release: () => release(absolute, server) }
}

/** The socket name for a lock path: the path itself where it fits, else its hash. */
export function lockName(absolutePath: string): string {
  const plain = `${NAME_PREFIX}${absolutePath}`
  if (Buffer.byteLength(plain) <= MAX_NAME_BYTES) return plain
  return `${NAME_PREFIX}sha256:${createHash('sha256').update(absolutePath).digest('hex')}`
}

// Opened without following a symlink, and without blocking on a FIFO: a planted link must
// not make root truncate another file.
function writePid(path: string): void {
  const fd = openSync(path, constants.O_WRONLY | constants.O_CREAT | constants.O_NOFOLLOW | constants.O_NONBLOCK, 0o644)
  try {
    if (!fstatSync(fd).isFile()) throw new Error('not a regular file')
    ftruncateSync(fd, 0)
    writeSync(fd, `${process.pid}\n`)
  } finally {
    closeSync(fd)
  }
}

// The PID file goes while the lock is still held, so it never names the next holder.
function release(path: string, server: Server): void {
  try {
    unlinkSync(path)
  } catch {
    // already gone, or a read-only place: it decides nothing
  }
  server.close()
}

function heldBy(name: string, path: string): AlreadyRunningError {
  const holder = socketHolder(name)
  if (holder !== undefined) {
    return new AlreadyRunningError(`readdb is already running on this host (pid ${holder}, lock file ${path})`, 'run either the daemon or the cron/timer poll, not both')
  }
  return new AlreadyRunningError(
    `the readdb lock for ${path} is held by a process this user cannot see: not a readdb of this user`,
    `find it with \`ss -xlp | grep '${NAME_PREFIX}'\` and stop it`,
  )
}

/**
 * The PID of a process of this user that has the abstract socket `name` open: its inode from
 * /proc/net/unix, then the process whose fd links to it. Only for the message; undefined
 * when it cannot be found (another user's process, hidden by ProtectProc=invisible or not).
 */
function socketHolder(name: string): number | undefined {
  try {
    const inodes = new Set<string>()
    for (const line of readFileSync('/proc/net/unix', 'utf8').split('\n')) {
      const fields = line.trim().split(/\s+/)
      // Num RefCount Protocol Flags Type St Inode Path. An abstract name shows as "@name", with
      // its NULs as "@" too (libuv binds the whole sun_path, so the name is padded with them).
      const shown = fields[7]
      if (shown?.startsWith(`@${name}`) && /^@*$/.test(shown.slice(name.length + 1)) && fields[6]) inodes.add(`socket:[${fields[6]}]`)
    }
    if (inodes.size === 0) return undefined
    for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
      if (Number(pid) === process.pid) continue
      let fds: string[]
      try {
        fds = readdirSync(`/proc/${pid}/fd`)
      } catch {
        continue
      }
      for (const fd of fds) {
        try {
          if (inodes.has(readlinkSync(`/proc/${pid}/fd/${fd}`))) return Number(pid)
        } catch {
          // the fd closed meanwhile
        }
      }
    }
  } catch {
    // no /proc
  }
  return undefined
}
