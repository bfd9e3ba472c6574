import { randomUUID } from 'node:crypto'
import { closeSync, fsyncSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, unlinkSync, writeSync } from 'node:fs'
import { join } from 'node:path'
import { parseBanReport, parseBantime, type BanReport } from '../ban/ban-report.js'
import { parseHostName } from '../ban/names.js'
import { F2bError } from '../errors.js'

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
  const count = readdirSync(dir).filter((n) => n.endsWith(SUFFIX)).length
  if (count >= maxEntries) {
    throw new SpoolFullError(`spool ${dir} is full (${count} bans, spool.maxEntries ${maxEntries}); this ban is lost`, {
      hint: 'the database has been unreachable for long: fix it, then run readdb to ship the spool',
    })
  }
  const name = `${entry.reportedAt.replace(/[^0-9]/g, '')}-${entry.key}`
  const tmp = join(dir, `.${name}.tmp`)
  const fd = openSync(tmp, 'wx', 0o600)
  try {
    writeSync(fd, JSON.stringify(entry))
    fsyncSync(fd)
  } finally {
    closeSync(fd)
  }
  const path = join(dir, `${name}${SUFFIX}`)
  renameSync(tmp, path)
  const dirFd = openSync(dir, 'r')
  try {
    fsyncSync(dirFd)
  } finally {
    closeSync(dirFd)
  }
  return path
}

/** A spool file and what it holds, or why it cannot be shipped. */
export type SpoolItem = { readonly path: string; readonly entry: SpooledBan } | { readonly path: string; readonly problem: string }

/** Every spooled ban, oldest first, each re-validated (the spool is input like any other). */
export function readSpool(dir: string): SpoolItem[] {
  let names: string[]
  try {
    names = readdirSync(dir).filter((n) => n.endsWith(SUFFIX)).sort()
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return []
    throw err
  }
  return names.map((n) => readItem(join(dir, n)))
}

function readItem(path: string): SpoolItem {
  try {
    const raw = JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>
    const text = (k: string) => (typeof raw[k] === 'string' ? (raw[k] as string) : '')
    const ban: BanReport = { ...parseBanReport({ ip: text('ip'), jail: text('jail'), protocol: text('protocol'), port: text('port') }), bantime: parseBantime(String(raw.bantime)) }
    const key = text('key')
    if (!/^[0-9a-f-]{36}$/.test(key)) throw new Error(`bad key ${JSON.stringify(key)}`)
    const reportedAt = text('reportedAt')
    if (Number.isNaN(Date.parse(reportedAt))) throw new Error(`bad reportedAt ${JSON.stringify(reportedAt)}`)
    return { path, entry: { ...ban, key, host: parseHostName(text('host')), reportedAt } }
  } catch (err) {
    return { path, problem: (err as Error).message }
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
