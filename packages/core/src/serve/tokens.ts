import { createHash, randomBytes, timingSafeEqual } from 'node:crypto'
import { closeSync, constants, existsSync, fchownSync, fsyncSync, openSync, renameSync, rmSync, statSync, writeSync } from 'node:fs'
import { basename, dirname, join } from 'node:path'
import { readSecretFile } from '../config/secret-file.js'
import { F2bError, InvalidValueError, quote } from '../errors.js'

/**
 * Consumers' tokens for `f2b-central serve`, kept in `serve.tokensFile`: one line per token,
 * its name and the SHA-256 of the token, never the token itself.
 *
 * ```text
 * # f2b-central serve tokens: NAME sha256:HASH CREATED (f2b-central tokens add|list|remove)
 * router-1 sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08 2026-12-01T20:00:00.000Z
 * ```
 *
 * A token is 32 random bytes (base64url, after the prefix `f2bc_`), so a plain SHA-256 is
 * enough to store it: a slow hash (scrypt, bcrypt) protects guessable passwords, and nobody
 * guesses 256 random bits, while serve would pay the slow hash on every request.
 */
export interface TokenEntry {
  readonly name: string
  /** SHA-256 of the token, 32 bytes. */
  readonly hash: Buffer
  /** When `tokens add` made it (ISO 8601), as written; '' when the line has none. */
  readonly created: string
}

export const TOKEN_PREFIX = 'f2bc_'
const TOKEN_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/
const HASH = /^sha256:([0-9a-f]{64})$/
// base64url of 32 bytes is 43 characters; anything much longer is not one of ours.
const MAX_TOKEN = 256
const HEADER = '# f2b-central serve tokens: NAME sha256:HASH CREATED (f2b-central tokens add|list|remove)'

/** Validate a token's name: 1-64 of `A-Z a-z 0-9 _ . -`, starting with a letter or digit. */
export function parseTokenName(input: string, field = 'NAME'): string {
  if (!TOKEN_NAME.test(input)) throw new InvalidValueError(field, input, 'expected 1-64 characters of A-Z a-z 0-9 _ . - starting with a letter or digit')
  return input
}

/** A new token: the prefix and 32 random bytes in base64url (only `A-Z a-z 0-9 _ -`, safe in a header or a curl config). */
export function newToken(): string {
  return `${TOKEN_PREFIX}${randomBytes(32).toString('base64url')}`
}

export function hashToken(token: string): Buffer {
  return createHash('sha256').update(token, 'utf8').digest()
}

/** Parse the file's text; throws F2bError naming `path` and the line. Blank lines and `#` comments are skipped. */
export function parseTokensFile(text: string, path: string): TokenEntry[] {
  const entries: TokenEntry[] = []
  for (const [i, raw] of text.split('\n').entries()) {
    const line = raw.trim()
    if (line === '' || line.startsWith('#')) continue
    const [name = '', hash = '', created = '', ...extra] = line.split(/\s+/)
    const m = HASH.exec(hash)
    if (!TOKEN_NAME.test(name) || !m || extra.length > 0) {
      throw new F2bError(`serve.tokensFile ${path} line ${i + 1}: expected "NAME sha256:HASH [CREATED]", found ${quote(line, 40)}`, {
        hint: 'the file is written by `f2b-central tokens add`; remove the line or fix it',
      })
    }
    if (entries.some((e) => e.name === name)) throw new F2bError(`serve.tokensFile ${path} line ${i + 1}: the name ${name} is there twice`)
    entries.push({ name, hash: Buffer.from(m[1]!, 'hex'), created })
  }
  return entries
}

function formatTokensFile(entries: readonly TokenEntry[]): string {
  return `${[HEADER, ...entries.map((e) => `${e.name} sha256:${e.hash.toString('hex')}${e.created ? ` ${e.created}` : ''}`)].join('\n')}\n`
}

/** The file's entries, or none when it does not exist yet. Refuses a file others may read (readSecretFile). */
export function readTokensFile(path: string): TokenEntry[] {
  if (!existsSync(path)) return []
  return parseTokensFile(readSecretFile(path, 'serve.tokensFile'), path)
}

/**
 * Add a token named `name` and return it: the only time it is ever seen. Refuses a name the
 * file already has (remove it first: a name is one consumer).
 */
export function addToken(path: string, name: string, now = new Date()): string {
  parseTokenName(name)
  const entries = readTokensFile(path)
  if (entries.some((e) => e.name === name)) {
    throw new F2bError(`serve.tokensFile ${path}: a token named ${name} exists`, { hint: `\`f2b-central tokens remove ${name}\` first to replace it` })
  }
  const token = newToken()
  writeTokensFile(path, [...entries, { name, hash: hashToken(token), created: now.toISOString() }])
  return token
}

/** Remove the token named `name`; false when there is none. */
export function removeToken(path: string, name: string): boolean {
  const entries = readTokensFile(path)
  const kept = entries.filter((e) => e.name !== name)
  if (kept.length === entries.length) return false
  writeTokensFile(path, kept)
  return true
}

/**
 * Replace the file at once (a new file, fsync'd, renamed over the old one), so a serve that
 * re-reads it never sees half of it. The new file keeps the old one's owner and group (serve
 * runs as its own user, an admin runs `tokens` as root) and is mode 0600.
 */
function writeTokensFile(path: string, entries: readonly TokenEntry[]): void {
  const old = existsSync(path) ? statSync(path) : undefined
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.tmp`)
  rmSync(tmp, { force: true })
  const fd = openSync(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600)
  try {
    writeSync(fd, formatTokensFile(entries))
    if (old && (old.uid !== process.getuid?.() || old.gid !== process.getgid?.())) fchownSync(fd, old.uid, old.gid)
    fsyncSync(fd)
  } catch (err) {
    closeSync(fd)
    rmSync(tmp, { force: true })
    throw new F2bError(`serve.tokensFile ${path}: cannot write ${tmp}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`)
  }
  closeSync(fd)
  renameSync(tmp, path)
}

/**
 * The token in an `Authorization` header: `Bearer TOKEN`, or `Basic` with the token as the
 * password (what a browser's login prompt sends; the user name is ignored). Undefined for
 * anything else.
 */
export function presentedToken(header: string | undefined): string | undefined {
  if (header === undefined || header.length > 1024) return undefined
  const m = /^(Bearer|Basic)[ ]+([A-Za-z0-9._~+/=-]+)[ ]*$/i.exec(header)
  if (!m) return undefined
  if (m[1]!.toLowerCase() === 'bearer') return m[2]
  const decoded = Buffer.from(m[2]!, 'base64').toString('utf8')
  const colon = decoded.indexOf(':')
  return colon < 0 ? undefined : decoded.slice(colon + 1)
}

/**
 * The name of the entry `token` belongs to, or undefined. Every entry is compared, in constant
 * time (timingSafeEqual on the 32-byte hashes), whichever matches: how long a check takes
 * says nothing about how close a guess was, nor which entry it matched.
 */
export function matchToken(entries: readonly TokenEntry[], token: string | undefined): string | undefined {
  if (token === undefined || token.length === 0 || token.length > MAX_TOKEN) return undefined
  const hash = hashToken(token)
  let found: string | undefined
  for (const e of entries) if (timingSafeEqual(hash, e.hash) && found === undefined) found = e.name
  return found
}

/** What a TokenStore reports about its file: loaded (how many), missing, or refused (the error). */
export type TokenFileEvent = { kind: 'loaded'; count: number } | { kind: 'missing' } | { kind: 'refused'; error: F2bError }

/**
 * The tokens file as serve uses it: read at start, and again whenever it changes (its inode,
 * size or modification time; looked at no more than once a second), so `tokens add` and
 * `tokens remove` take effect without a restart. A file that cannot be used (other users may
 * read it, a malformed line) fails closed: no token is accepted until it is fixed.
 */
export class TokenStore {
  #entries: readonly TokenEntry[] = []
  #stamp = ''
  #checkedAt = 0
  readonly #path: string
  readonly #onChange: (event: TokenFileEvent) => void

  constructor(path: string, onChange: (event: TokenFileEvent) => void) {
    this.#path = path
    this.#onChange = onChange
  }

  /** Read the file now; throws its F2bError (loose permissions, a bad line) instead of failing closed, for the start. */
  load(): void {
    this.#checkedAt = Date.now()
    this.#stamp = this.#currentStamp()
    this.#entries = readTokensFile(this.#path)
    this.#onChange(this.#stamp === '' ? { kind: 'missing' } : { kind: 'loaded', count: this.#entries.length })
  }

  /** The name of the token's entry, or undefined (re-reading the file first when it changed). */
  match(token: string | undefined): string | undefined {
    this.#refresh()
    return matchToken(this.#entries, token)
  }

  #currentStamp(): string {
    try {
      const s = statSync(this.#path)
      return `${s.ino}:${s.size}:${s.mtimeMs}:${s.mode}`
    } catch {
      return ''
    }
  }

  #refresh(): void {
    const now = Date.now()
    if (now - this.#checkedAt < 1000) return
    this.#checkedAt = now
    const stamp = this.#currentStamp()
    if (stamp === this.#stamp) return
    this.#stamp = stamp
    try {
      this.#entries = readTokensFile(this.#path)
      this.#onChange(stamp === '' ? { kind: 'missing' } : { kind: 'loaded', count: this.#entries.length })
    } catch (err) {
      this.#entries = []
      this.#onChange({ kind: 'refused', error: err instanceof F2bError ? err : new F2bError(String(err)) })
    }
  }
}
