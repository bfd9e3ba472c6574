import { closeSync, constants, fstatSync, lstatSync, openSync, readFileSync, type Stats } from 'node:fs'
import { F2bError } from './errors.js'

/**
 * Who may have written a file f2b-central acts on, and who may read it. The programs run as
 * root: a config, password, key or spool file someone else could have written is input from
 * that someone, so it is refused instead of used.
 */
export interface FileRule {
  /** Names the file in messages: `the config file`, `database.passwordFile`, `spool.dir`. */
  readonly what: string
  /**
   * Mode bits it must not have: 0o077 for a secret (nobody but its owner may read it, as ssh
   * demands of a private key), 0o027 for the config (its group may read it), 0o022 for what
   * only must not be changed by anyone else (a CA file, the spool directory, the shared log).
   */
  readonly forbiddenMode: number
  /**
   * Refuse a symbolic link as the path's last component instead of following it (O_NOFOLLOW).
   * For secrets and for files f2b-central writes into a directory: a link planted there must
   * not make root read or write the file it points to. The config file may be a link (config
   * management does that); the file it reaches is checked like any other.
   */
  readonly noFollow: boolean
  /** The hint when a link is refused. Default: name the file itself (it says how to find it). */
  readonly linkHint?: string
  /** What the path must be once opened. Default: a regular file. */
  readonly type?: 'file' | 'directory'
}

/** A file or directory refused by its FileRule: a link, the wrong owner, loose mode bits, not a regular file. */
export class UnsafeFileError extends F2bError {}

/**
 * Open `path` and check what was opened, on the descriptor (fstat), never the path before the
 * open: a file swapped in between cannot slip through. O_NONBLOCK keeps a FIFO planted in the
 * file's place from hanging the open (it is then refused as not a regular file); it changes
 * nothing for a regular file or a directory. Returns the descriptor (the caller closes it).
 *
 * Throws UnsafeFileError when the rule refuses the file; lets the open's own error (ENOENT,
 * EACCES) through as it is, so the caller words it.
 */
export function openCheckedFile(path: string, rule: FileRule, flags: number = constants.O_RDONLY, mode?: number): number {
  const typeFlag = rule.type === 'directory' ? constants.O_DIRECTORY : 0
  const noFollow = rule.noFollow ? constants.O_NOFOLLOW : 0
  let fd: number
  try {
    fd = openSync(path, flags | typeFlag | noFollow | constants.O_NONBLOCK, mode)
  } catch (err) {
    throw (rule.noFollow && isLinkError(err, path) ? linkRefused(path, rule) : err) as Error
  }
  try {
    refuseUnsafe(fstatSync(fd), path, rule)
    return fd
  } catch (err) {
    closeSync(fd)
    throw err
  }
}

/** openCheckedFile, then the whole file read from that same descriptor, as text. */
export function readCheckedFile(path: string, rule: FileRule): string {
  const fd = openCheckedFile(path, rule)
  try {
    return readFileSync(fd, 'utf8')
  } finally {
    closeSync(fd)
  }
}

/**
 * Throw UnsafeFileError when `st` (the fstat of an open descriptor) breaks `rule`: not the
 * type asked for, owned by anyone but root or this process's user, or with a forbidden mode
 * bit. One message names every problem; the hint is the chown and chmod that fix them all.
 */
export function refuseUnsafe(st: Stats, path: string, rule: FileRule): void {
  const dir = rule.type === 'directory'
  if (dir ? !st.isDirectory() : !st.isFile()) {
    throw new UnsafeFileError(`${rule.what} ${path} is not a ${dir ? 'directory' : 'regular file'}; refusing to use it`, {
      hint: `name a ${dir ? 'directory' : 'regular file'} in ${rule.what}`,
    })
  }
  const problems: string[] = []
  const fixes: string[] = []
  const self = process.getuid?.()
  // Without getuid (not POSIX) there is no owner to compare with.
  if (self !== undefined && st.uid !== 0 && st.uid !== self) {
    problems.push(`is owned by uid ${st.uid} (${self === 0 ? 'not root' : `neither root nor uid ${self}, which runs this`})`)
    fixes.push(`chown ${self === 0 ? 'root' : self} ${path}`)
  }
  const mode = st.mode & 0o777
  const loose = mode & rule.forbiddenMode
  if (loose !== 0) {
    problems.push(`${looseness(loose)} (mode ${octal(mode)})`)
    fixes.push(`chmod ${octal(mode & ~rule.forbiddenMode)} ${path}`)
  }
  if (problems.length > 0) throw new UnsafeFileError(`${rule.what} ${path} ${problems.join(' and ')}; refusing to use it`, { hint: fixes.join(' && ') })
}

// Any read or search bit for the group or others is "accessible"; write bits alone say who may write.
function looseness(bits: number): string {
  if ((bits & ~0o022) !== 0) return 'is accessible to other users'
  const who = [(bits & 0o020) !== 0 ? 'its group' : '', (bits & 0o002) !== 0 ? 'other users' : ''].filter((w) => w !== '')
  return `is writable by ${who.join(' and ')}`
}

function octal(mode: number): string {
  return mode.toString(8).padStart(3, '0')
}

// O_NOFOLLOW fails with ELOOP on a link, which is also the error of a real loop further up the path.
function isLinkError(err: unknown, path: string): boolean {
  if ((err as NodeJS.ErrnoException).code !== 'ELOOP') return false
  try {
    return lstatSync(path).isSymbolicLink()
  } catch {
    return false
  }
}

function linkRefused(path: string, rule: FileRule): UnsafeFileError {
  return new UnsafeFileError(`${rule.what} ${path} is a symbolic link; refusing to follow it`, {
    hint: rule.linkHint ?? `name the file itself in ${rule.what} (readlink -f ${path} says which)`,
  })
}
