import { parseIp } from '../ban/ip-address.js'
import { parseHostName, parseJail, parsePort, parseProtocol } from '../ban/names.js'
import { parseDatabaseUrl, redactPassword, type DatabaseTarget } from '../config/database-url.js'
import { readPasswordFile } from '../config/secret-file.js'
import { asDatabaseError } from '../db/database-error.js'
import type { CentralDb } from '../db/db-adapter.js'
import { openDatabase } from '../db/open-database.js'
import { storeRecordedBans, type RecordedBan } from '../db/queries/bans.js'
import { resolveHostIds } from '../db/queries/hosts.js'
import { LEGACY_TABLE, legacyColumns, legacyReporters, readLegacyPage } from '../db/queries/legacy-table.js'
import { F2bError, InvalidValueError } from '../errors.js'
import { BanStatus } from '../schema/ban-status.js'
import { fromDbTime } from '../time/db-time.js'

export { LEGACY_TABLE }
/** The old scripts banned for about 25 days; without `--bantime` imported bans expire 25 days after `created`. */
export const LEGACY_BANTIME = 25 * 86400

export interface LegacyImportOptions {
  /** Seconds from `created` to expiry, or -1 for permanent. */
  readonly bantime: number
  /** Rows read and stored per transaction. Default 500. */
  readonly batchSize?: number
  /** Names the legacy database in errors. */
  readonly sourceName?: string
}

export interface LegacyRowIssue {
  /** The row's `id` in ip_table. */
  readonly id: string
  readonly problem: string
}

export interface LegacyImportResult {
  readonly rows: number
  readonly stored: number
  /** Rows already imported by an earlier run (same address, jail, reporter and time). */
  readonly alreadyImported: number
  readonly invalid: readonly LegacyRowIssue[]
  /** Host names taken from `added_by` and the `host_*` columns. */
  readonly hosts: readonly string[]
  /** host_* columns whose name is not a valid host name: their statuses are not imported. */
  readonly skippedColumns: readonly string[]
  /** Host statuses stored (1, 2 or 3; 0 means "not seen yet" and needs no row). */
  readonly statuses: number
}

/** The old scripts' database as `--from` names it: `mysql://user@host[:port]/db` (InvalidValueError otherwise). */
export type LegacyTarget = Extract<DatabaseTarget, { kind: 'mysql' }>

/**
 * Validate `--from`. `field` names the option in errors. A password in it is refused: a
 * command line is visible to every user of the machine (ps, /proc) and stays in shell
 * history, so the password comes only from `--password-file`. No message quotes the URL
 * with its password (redactPassword).
 */
export function parseLegacyUrl(url: string, field = '--from'): LegacyTarget {
  const shown = redactPassword(url)
  if (shown !== url) {
    throw new InvalidValueError(
      field,
      shown,
      'a password on the command line is visible to every user (ps) and kept in shell history; put it in a file (mode 0600) and pass --password-file FILE',
    )
  }
  let target
  try {
    target = parseDatabaseUrl(url, field)
  } catch (err) {
    throw new InvalidValueError(field, url, (err as Error).message.replace(`${field}: `, ''))
  }
  if (target.kind !== 'mysql') throw new InvalidValueError(field, url, 'the old scripts kept their table in MySQL: expected mysql://user@host/database')
  return target
}

/** Open the old scripts' database, the password (if the account has one) read from `passwordFile`, never from the command line. */
export async function openLegacySource(target: LegacyTarget, passwordFile: string | undefined, timeoutMs: number): Promise<CentralDb> {
  const password = passwordFile === undefined ? undefined : readPasswordFile(passwordFile, 'password file')
  return openDatabase({ ...target, password }, { timeoutMs, connectionLimit: 1 })
}

/** A row of the old table, validated: what becomes a ban, and each host's status by name. */
interface LegacyBan {
  readonly id: string
  readonly ip: string
  readonly jail: string
  readonly protocol: string
  readonly port: string
  readonly reporter: string
  readonly bantime: number
  readonly created: Date
  readonly statuses: ReadonlyMap<string, number>
}

/**
 * Copy the old scripts' `ip_table` into the central database: each row becomes a ban
 * (created time kept, expiry = created + bantime), hosts come from `added_by` and the
 * `host_<name>` columns (the old scripts named them after the hostname without dots and
 * hyphens, so `host_web1` is matched back to `added_by` `web-1`), and each column's value
 * 1, 2 or 3 becomes that host's status (0 is pending and needs no row). The reporter always
 * gets 1, as add2db gives it. Every value is validated like a new report; bad rows are
 * returned, not stored. Rows already imported are skipped, so the import can be re-run.
 *
 * Old `created` values are DATETIME without a zone; they are taken as UTC.
 */
export async function importLegacyTable(source: CentralDb, central: CentralDb, options: LegacyImportOptions): Promise<LegacyImportResult> {
  const batchSize = options.batchSize ?? 500
  // Driver errors from the old database say so, apart from the central database's.
  const read = <T>(work: Promise<T>): Promise<T> =>
    work.catch((err: unknown) => {
      throw asDatabaseError(err, `legacy database ${options.sourceName ?? ''}`.trim())
    })
  const columns = await read(legacyColumns(source))
  const reporters = await read(distinctReporters(source))
  const { hostColumns, skippedColumns } = mapHostColumns(columns, reporters)
  const hostNames = [...new Set([...reporters, ...hostColumns.values()])].sort()
  const hostIds = await resolveHostIds(central.db, hostNames)

  let rows = 0
  let stored = 0
  let alreadyImported = 0
  let statuses = 0
  const invalid: LegacyRowIssue[] = []
  let afterId: string | number = 0
  for (;;) {
    const page = await read(readLegacyPage(source, afterId, batchSize))
    const last = page[page.length - 1]
    if (!last) break
    afterId = last.id as string | number
    rows += page.length
    const bans: LegacyBan[] = []
    for (const row of page) {
      const mapped = mapRow(row, hostColumns, options.bantime)
      if ('problem' in mapped) invalid.push(mapped)
      else bans.push(mapped)
    }
    const done = await storeRecordedBans(
      central,
      bans.map((b) => toRecordedBan(b, hostIds)),
    )
    stored += done.stored
    alreadyImported += done.alreadyImported
    statuses += done.statuses
  }
  return { rows, stored, alreadyImported, invalid, hosts: hostNames, skippedColumns, statuses }
}

async function distinctReporters(source: CentralDb): Promise<string[]> {
  const names: string[] = []
  for (const value of await legacyReporters(source)) {
    if (value === null || value === undefined) continue
    try {
      names.push(parseHostName(String(value), 'added_by'))
    } catch {
      // reported per row
    }
  }
  return names
}

/** host_<name> column → host name: a reporter whose name without dots and hyphens is <name>, else <name> itself. */
function mapHostColumns(columns: readonly string[], reporters: readonly string[]) {
  const byStripped = new Map(reporters.map((r) => [r.replace(/[.-]/g, ''), r]))
  const hostColumns = new Map<string, string>()
  const skippedColumns: string[] = []
  for (const c of columns) {
    if (!c.startsWith('host_')) continue
    const suffix = c.slice('host_'.length)
    const name = byStripped.get(suffix) ?? suffix
    try {
      hostColumns.set(c, parseHostName(name, c))
    } catch {
      skippedColumns.push(c)
    }
  }
  return { hostColumns, skippedColumns }
}

function mapRow(row: Record<string, unknown>, hostColumns: ReadonlyMap<string, string>, bantime: number): LegacyBan | LegacyRowIssue {
  const id = String(row.id)
  try {
    if (row.added_by === null || row.added_by === undefined) throw new F2bError('added_by is empty')
    const reporter = parseHostName(String(row.added_by), 'added_by')
    const created = fromLegacyTime(row.created)
    const statuses = new Map<string, number>()
    for (const [column, host] of hostColumns) {
      const v = Number(row[column])
      if (v === BanStatus.Added || v === BanStatus.AlreadyBanned || v === BanStatus.Error) statuses.set(host, v)
    }
    statuses.set(reporter, BanStatus.Added)
    return {
      id,
      ip: parseIp(String(row.ip ?? '').trim(), 'ip').text,
      jail: parseJail(String(row.jailname ?? '')),
      protocol: parseProtocol(String(row.protocol ?? 'tcp')),
      port: parsePort(String(row.port ?? '0:65535')),
      reporter,
      bantime: bantime < 0 ? -1 : bantime,
      created,
      statuses,
    }
  } catch (err) {
    if (!(err instanceof F2bError)) throw err
    return { id, problem: err.message }
  }
}

function fromLegacyTime(value: unknown): Date {
  try {
    return fromDbTime(String(value))
  } catch {
    throw new InvalidValueError('created', String(value), 'not a date and time')
  }
}

function toRecordedBan(ban: LegacyBan, hostIds: ReadonlyMap<string, number>): RecordedBan {
  const reporterId = hostIds.get(ban.reporter)
  if (reporterId === undefined) throw new Error(`host ${ban.reporter} was not registered`)
  const otherStatuses = []
  for (const [host, status] of ban.statuses) {
    const hostId = hostIds.get(host)
    if (hostId === undefined || hostId === reporterId) continue
    otherStatuses.push({ hostId, status, error: status === BanStatus.Error ? `imported from the legacy ${LEGACY_TABLE} (row ${ban.id}): the old readdb recorded an error` : null })
  }
  const { ip, jail, protocol, port, bantime, reporter } = ban
  return { ip, jail, protocol, port, bantime, reporter, reporterId, reportedAt: ban.created, otherStatuses }
}
