import { readFileSync, statSync } from 'node:fs'
import { F2bError } from '../errors.js'

/** Mode bits a secret must not have: any access by the group or by others, as ssh demands of a private key. */
const NOT_PRIVATE = 0o077

/**
 * Read a secret (a password file, a private key) whole, refusing it when anyone but its owner
 * may access it (mode bits 0o077): like ssh with a private key, a secret other users can
 * read is not used, since it may already have leaked. `what` names the secret in messages
 * (`database.passwordFile`, `--password-file`).
 *
 * Throws F2bError: `WHAT PATH is accessible to other users (mode 640); refusing to use it`
 * (hint: the chmod that fixes it), or `WHAT: cannot read PATH: ENOENT`.
 */
export function readSecretFile(path: string, what: string): string {
  try {
    refuseLoosePermissions(path, NOT_PRIVATE, what)
    return readFileSync(path, 'utf8')
  } catch (err) {
    if (err instanceof F2bError) throw err
    throw new F2bError(`${what}: cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`)
  }
}

/** A password file: readSecretFile without the one line break an editor leaves at the end. */
export function readPasswordFile(path: string, what: string): string {
  return readSecretFile(path, what).replace(/\r?\n$/, '')
}

/**
 * Refuse a file whose mode has any of the `forbidden` bits (0o077 for a secret; the config
 * file, which a group may read, takes 0o007). Throws F2bError with the chmod that fixes it;
 * lets a failing stat (ENOENT) through as it is.
 */
export function refuseLoosePermissions(path: string, forbidden: number, what: string): void {
  const mode = statSync(path).mode & 0o777
  if ((mode & forbidden) !== 0) {
    const wanted = (mode & ~forbidden).toString(8).padStart(3, '0')
    throw new F2bError(`${what} ${path} is accessible to other users (mode ${mode.toString(8).padStart(3, '0')}); refusing to use it`, {
      hint: `chmod ${wanted} ${path}`,
    })
  }
}
