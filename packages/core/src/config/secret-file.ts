import { closeSync, constants, fsyncSync, openSync, writeSync } from 'node:fs'
import { readCheckedFile, type FileRule } from '../checked-file.js'
import { F2bError } from '../errors.js'

/**
 * A secret (a password file, a private key): a regular file, not a link, owned by root or the
 * running user, and nobody but its owner may access it (mode bits 0o077), as ssh demands of a
 * private key: a secret others can read may already have leaked, one others can write is theirs.
 */
export const SECRET_FILE_RULE = { forbiddenMode: 0o077, noFollow: true } as const satisfies Omit<FileRule, 'what'>

/**
 * The config file: owned by root or the running user, not writable by its group or by others,
 * and not readable by others (0o027; its group may read it). It says which commands run as
 * root (`fail2ban.client`), so whoever may write it owns the machine. It may be a link.
 */
export const CONFIG_FILE_RULE = { forbiddenMode: 0o027, noFollow: false } as const satisfies Omit<FileRule, 'what'>

/**
 * A file that decides whom f2b-central trusts but is no secret (database.tls.ca and .cert):
 * owned by root or the running user and writable by nobody else; anyone may read it.
 */
export const TRUSTED_FILE_RULE = { forbiddenMode: 0o022, noFollow: false } as const satisfies Omit<FileRule, 'what'>

/**
 * Read a secret whole under SECRET_FILE_RULE, checked on the descriptor it is read from.
 * `what` names the secret in messages (`database.passwordFile`, `--password-file`).
 *
 * Throws F2bError: `WHAT PATH is accessible to other users (mode 640); refusing to use it`
 * (hint: the chmod that fixes it), `WHAT PATH is owned by uid 65534 (not root); …`, `WHAT PATH
 * is a symbolic link; refusing to follow it`, or `WHAT: cannot read PATH: ENOENT`.
 */
export function readSecretFile(path: string, what: string): string {
  return readRuledFile(path, { what, ...SECRET_FILE_RULE })
}

/** A password file: readSecretFile without the one line break an editor leaves at the end. */
export function readPasswordFile(path: string, what: string): string {
  return readSecretFile(path, what).replace(/\r?\n$/, '')
}

/** Read a file under `rule`; a failing open or read becomes `WHAT: cannot read PATH: CODE`. */
export function readRuledFile(path: string, rule: FileRule): string {
  try {
    return readCheckedFile(path, rule)
  } catch (err) {
    if (err instanceof F2bError) throw err
    throw new F2bError(`${rule.what}: cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`)
  }
}

/**
 * Write a new secret file, mode 0600: O_EXCL and O_NOFOLLOW, so never through a symlink
 * someone planted and never over another file. Throws EEXIST when the file is there.
 */
export function writeNewSecretFile(path: string, secret: string): void {
  const fd = openSync(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600)
  try {
    writeSync(fd, `${secret}\n`)
    fsyncSync(fd)
  } finally {
    closeSync(fd)
  }
}
