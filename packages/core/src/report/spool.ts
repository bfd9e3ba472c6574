import { randomUUID } from 'node:crypto'
import { closeSync, constants, fsyncSync, mkdirSync, openSync, readdirSync, renameSync, unlinkSync, writeSync } from 'node:fs'
import { join } from 'node:path'
import { parseBanReport, parseBantime, type BanReport } from '../ban/ban-report.js'
import { parseHostName } from '../ban/names.js'
import { openCheckedFile, readCheckedFile, type FileRule } from '../checked-file.js'
import { describeError, F2bError } from '../errors.js'

/** A ban add2db could not store, kept on disk until a run that reaches the database ships it. */
export interface SpooledBan extends BanReport {
  /** Idempotency key made when the ban was first seen: shipping it twice stores it once. */
  readonly key: string
  readonly host: string
  /** When fail2ban reported it (ISO 8601, UTC): kept as the ban's created_at. */
  readonly reportedAt: string
}

/** The spool holds its maximum: the database has been unreachable for long. */
export class SpoolFullError extends F2bError {}

const SUFFIX = '.ban.json'

/**
 * The spool directory: root (add2db, readdb) writes bans into it and ships what it finds
 * there as this host's reports, so nobody else may write it (owner root or the running user,
 * no write bit for group or others). It may be a link; the directory it reaches is checked.
 * Its parents are not: they are the admin's (/var/spool is root's).
 */
const SPOOL_DIR_RULE: FileRule = { what: 'spool.dir', forbiddenMode: 0o022, noFollow: false, type: 'directory' }

/** A spooled ban as add2db wrote it: a regular file, never a link (one to /etc/shadow must not be read as root). */
const SPOOL_ENTRY_RULE: FileRule = {
  what: 'spool entry',
  forbiddenMode: 0o022,
  noFollow: true,
  linkHint: 'add2db writes only regular files there: find out who made the link, then remove it',
}

/** A new idempotency key. */
export function newReportKey(): string {
  return randomUUID()
}

/**
 * Write one entry durably: a temporary file written and fsync'd, renamed into place, then
 * the directory fsync'd. One file per ban, so concurrent add2db runs never share a file.
 */
export function spoolBan(dir: string, entry: SpooledBan, maxEntries: number): string {
  mkdirSync(dir, { recursive: true, mode: 0o700 })
  const dirFd = openCheckedFile(dir, SPOOL_DIR_RULE)
  try {
    const count = readdirSync(dir).filter((n) => n.endsWith(SUFFIX)).length
    if (count >= maxEntries) {
      throw new SpoolFullError(`spool ${dir} is full (${count} bans, spool.maxEntries ${maxEntries}); this ban is lost`, {
        hint: 'the database has been unreachable for long: fix it, then run readdb to ship the spool',
      })
    }
    const name = `${entry.reportedAt.replace(/[^0-9]/g, '')}-${entry.key}`
    const tmp = join(dir, `.${name}.tmp`)
    // O_EXCL: a new file of its own, never one (or a link) someone put there; rename replaces
    // a link at the final name, it does not follow it.
    const fd = openSync(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600)
    try {
      writeSync(fd, JSON.stringify(entry))
      fsyncSync(fd)
    } finally {
      closeSync(fd)
    }
    const path = join(dir, `${name}${SUFFIX}`)
    renameSync(tmp, path)
    fsyncSync(dirFd)
    return path
  } finally {
    closeSync(dirFd)
  }
}

/** A spool file and what it holds, or why it cannot be shipped (`problem` names the file). */
export type SpoolItem = { readonly path: string; readonly entry: SpooledBan } | { readonly path: string; readonly problem: string }

/**
 * Every spooled ban, oldest first, each re-validated (the spool is input like any other).
 * A missing directory holds nothing. Throws UnsafeFileError when the directory is refused
 * (SPOOL_DIR_RULE): nothing in it is read then.
 */
export function readSpool(dir: string): SpoolItem[] {
  let dirFd: number
  try {
    dirFd = openCheckedFile(dir, SPOOL_DIR_RULE)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return []
    throw err
  }
  try {
    const names = readdirSync(dir)
      .filter((n) => n.endsWith(SUFFIX))
      .sort()
    return names.flatMap((n) => readItem(join(dir, n)))
  } finally {
    closeSync(dirFd)
  }
}

function readItem(path: string): SpoolItem[] {
  let text: string
  try {
    text = readCheckedFile(path, SPOOL_ENTRY_RULE)
  } catch (err) {
    // Another shipper (add2db and readdb both ship) took it first.
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return []
    return [{ path, problem: err instanceof F2bError ? describeError(err) : `spool entry ${path}: cannot read it: ${(err as NodeJS.ErrnoException).code ?? String(err)}` }]
  }
  try {
    let raw: Record<string, unknown>
    try {
      raw = JSON.parse(text) as Record<string, unknown>
    } catch {
      // Not V8's message: it quotes the text, and whatever the file holds stays out of the logs.
      throw new Error('not valid JSON')
    }
    if (typeof raw !== 'object' || raw === null) throw new Error('not a JSON object')
    const field = (k: string) => (typeof raw[k] === 'string' ? (raw[k] as string) : '')
    const ban: BanReport = {
      ...parseBanReport({ ip: field('ip'), jail: field('jail'), protocol: field('protocol'), port: field('port') }),
      bantime: parseBantime(String(raw.bantime)),
    }
    const key = field('key')
    if (!/^[0-9a-f-]{36}$/.test(key)) throw new Error(`bad key ${JSON.stringify(key.slice(0, 40))}`)
    const reportedAt = field('reportedAt')
    if (Number.isNaN(Date.parse(reportedAt))) throw new Error(`bad reportedAt ${JSON.stringify(reportedAt.slice(0, 40))}`)
    return [{ path, entry: { ...ban, key, host: parseHostName(field('host')), reportedAt } }]
  } catch (err) {
    return [{ path, problem: `spool entry ${path}: ${(err as Error).message}` }]
  }
}

/** Remove a shipped entry; another shipper may have removed it first. */
export function removeSpoolEntry(path: string): void {
  try {
    unlinkSync(path)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
  }
}
