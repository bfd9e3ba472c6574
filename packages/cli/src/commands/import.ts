import { readFileSync } from 'node:fs'
import { parseHostName, parseJail } from '@f2b-central/core/ban/names'
import { F2bError, quote } from '@f2b-central/core/errors'
import { ExitCode } from '@f2b-central/core/exit-codes'
import { parseAddressList, type ListIssue } from '@f2b-central/core/fleet/address-list'
import { importAddresses } from '@f2b-central/core/fleet/import-list'
import { importLegacyTable, LEGACY_BANTIME, openLegacySource, parseLegacyUrl, type LegacyTarget } from '@f2b-central/core/fleet/legacy-import'
import { parseBantimeOption } from '@f2b-central/core/time/duration'
import { describeTarget } from '@f2b-central/core/db/open-database'
import { redactPassword } from '@f2b-central/core/config/database-url'
import { argValue, usage } from '../arg-value.js'
import { plural, print, printJson, warn } from '../output.js'
import { COMMON_OPTIONS, parseCommandArgs, withDatabase } from '../command-context.js'

const USAGE = `usage: f2b-central import FILE|- [--jail JAIL] [--as NAME] [--bantime DURATION] [--strict] [--json] [--config FILE]
       f2b-central import --legacy --from mysql://USER@HOST[:PORT]/DB [--password-file FILE] [--bantime DURATION] [--json] [--config FILE]
Stores a plain list of addresses (one a line, # comments, blank lines; - reads stdin) as bans.
  --jail JAIL        jail the bans are stored under (default: import)
  --as NAME          reporting host (default: host.name of the config)
  --bantime DURATION ban time (e.g. 1d, 25d, or permanent; default: bans.defaultBantime,
                     or 25d with --legacy, as the old scripts)
  --strict           any invalid line: exit 2 and store nothing
A CIDR is stored when it is one address (/32, /128); larger networks are skipped and counted.
Addresses already actively banned in the jail are not stored again.
--legacy copies the old Python scripts' MySQL table ip_table (created time, added_by, the
host_* status columns) into the central database. The password comes only from
--password-file (mode 0600); a password in --from is refused: a command line is visible to
every user and kept in shell history.`

// Invalid lines reported one by one before the summary; the rest are counted.
const MAX_REPORTED = 20

export async function run(argv: string[]): Promise<ExitCode> {
  const { values, positionals } = parseCommandArgs(
    'import',
    argv,
    {
      jail: { type: 'string', default: 'import' },
      as: { type: 'string' },
      bantime: { type: 'string' },
      strict: { type: 'boolean', default: false },
      legacy: { type: 'boolean', default: false },
      from: { type: 'string' },
      'password-file': { type: 'string' },
      ...COMMON_OPTIONS,
    },
    true,
  )
  if (values.help) {
    print(USAGE)
    return ExitCode.Ok
  }
  const bantime = values.bantime === undefined ? undefined : argValue('import', () => parseBantimeOption(values.bantime!, '--bantime'))
  if (values.legacy) {
    if (positionals.length > 0) throw usage('import', '--legacy reads --from, not a file')
    if (values.from === undefined) throw usage('import', '--legacy needs --from mysql://USER@HOST/DB')
    for (const opt of ['as', 'strict'] as const) if (values[opt] !== undefined && values[opt] !== false) throw usage('import', `--${opt} does not apply to --legacy`)
    const from = values.from
    const target = argValue('import', () => parseLegacyUrl(from, '--from'))
    return importLegacy(target, values['password-file'], bantime ?? LEGACY_BANTIME, values.json, values.config)
  }
  if (values.from !== undefined || values['password-file'] !== undefined) throw usage('import', '--from and --password-file go with --legacy')
  const [file, ...extra] = positionals
  if (file === undefined) throw usage('import', 'FILE is required (- reads stdin)')
  if (extra.length > 0) throw usage('import', `unexpected argument ${JSON.stringify(extra[0]?.slice(0, 40))}`)
  const jail = argValue('import', () => parseJail(values.jail))
  const as = values.as === undefined ? undefined : argValue('import', () => parseHostName(values.as!, '--as'))

  const list = parseAddressList(readInput(file))
  const source = file === '-' ? 'stdin' : file
  reportIssues(source, list.invalid, 'invalid')
  if (values.strict && list.invalid.length > 0) {
    throw usage('import', `${plural(list.invalid.length, 'invalid line')} in ${source} with --strict: nothing stored`)
  }
  const { result, reporter } = await withDatabase(values.config, async (central, config) => {
    const reporter = as ?? config.host.name
    const result = await importAddresses(central, { addresses: list.addresses.map((a) => a.ip), jail, reporter, bantime: bantime ?? config.bans.defaultBantime })
    return { result, reporter }
  })
  const summary = {
    source,
    jail,
    reporter,
    addresses: list.addresses.length,
    stored: result.stored,
    alreadyBanned: result.alreadyBanned,
    invalid: list.invalid.length,
    unsupported: list.unsupported.length,
    duplicates: list.duplicates,
    invalidLines: list.invalid,
    unsupportedLines: list.unsupported,
  }
  if (values.json) printJson(summary)
  else {
    print(`imported ${source} as jail ${jail} reported by ${reporter}: ${result.stored} stored, ${result.alreadyBanned} already banned`)
    print(
      `skipped: ${plural(list.invalid.length, 'invalid line')}, ${plural(list.unsupported.length, 'network')} larger than one address (unsupported for now), ${plural(list.duplicates, 'duplicate')}`,
    )
  }
  return ExitCode.Ok
}

function readInput(file: string): string {
  try {
    return readFileSync(file === '-' ? 0 : file, 'utf8')
  } catch (err) {
    // A --from URL given as FILE by mistake must not print its password.
    throw new F2bError(`import: cannot read ${file === '-' ? 'stdin' : redactPassword(file)}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`)
  }
}

function reportIssues(source: string, issues: readonly ListIssue[], what: string): void {
  for (const i of issues.slice(0, MAX_REPORTED)) warn(`import: ${source} line ${i.line}: ${what} ${quote(i.text, 60)}: ${i.problem}`)
  if (issues.length > MAX_REPORTED) warn(`import: ${source}: … and ${issues.length - MAX_REPORTED} more ${what} lines`)
}

async function importLegacy(target: LegacyTarget, passwordFile: string | undefined, bantime: number, json: boolean, configPath: string | undefined): Promise<ExitCode> {
  const where = describeTarget(target)
  const result = await withDatabase(configPath, async (central, config) => {
    const source = await openLegacySource(target, passwordFile, config.database.timeoutMs)
    try {
      return await importLegacyTable(source, central, { bantime, sourceName: where })
    } finally {
      await source.close()
    }
  })
  for (const i of result.invalid.slice(0, MAX_REPORTED)) warn(`import: ${where} ip_table row ${i.id}: ${i.problem}`)
  if (result.invalid.length > MAX_REPORTED) warn(`import: ${where}: … and ${result.invalid.length - MAX_REPORTED} more invalid rows`)
  for (const c of result.skippedColumns) warn(`import: ${where}: column ${c} does not name a valid host; its statuses were not imported`)
  if (json) printJson({ source: where, ...result })
  else {
    print(`imported ${where} ip_table: ${plural(result.rows, 'row')}, ${result.stored} stored, ${result.alreadyImported} already imported, ${result.invalid.length} invalid`)
    print(`hosts: ${result.hosts.join(', ') || '-'}; ${plural(result.statuses, 'host status', 'host statuses')} stored`)
  }
  return ExitCode.Ok
}
