import { parseArgs, type ParseArgsConfig } from 'node:util'
import { loadConfig, type Config } from '@f2b-central/core/config/load-config'
import { asDatabaseError } from '@f2b-central/core/db/database-error'
import type { CentralDb } from '@f2b-central/core/db/db-adapter'
import { assertSchemaCurrent } from '@f2b-central/core/db/schema-version'
import { describeTarget, openDatabase } from '@f2b-central/core/db/open-database'
import { UsageError } from '@f2b-central/core/errors'
import { openNotifier } from '@f2b-central/core/notify/notifier'

/** Options every command takes: `--json` (where it prints data), `--config FILE`, `--help`. */
export const COMMON_OPTIONS = {
  json: { type: 'boolean', default: false },
  config: { type: 'string' },
  help: { type: 'boolean', short: 'h', default: false },
} as const

/** Parse a command's argv strictly; any problem is a UsageError naming the command. */
export function parseCommandArgs<O extends NonNullable<ParseArgsConfig['options']>>(command: string, argv: string[], options: O, allowPositionals = false) {
  try {
    return parseArgs({ args: argv, options, strict: true, allowPositionals })
  } catch (err) {
    throw new UsageError(`${command}: ${(err as Error).message.split('\n')[0]}`, `run \`f2b-central ${command} --help\``)
  }
}

/**
 * Run `work` against the configured, migrated database, closing it afterwards; driver
 * errors come out as one-line DatabaseErrors naming the database.
 */
export async function withDatabase<T>(configPath: string | undefined, work: (central: CentralDb, config: Config) => Promise<T>): Promise<T> {
  const config = loadConfig({ path: configPath })
  const central = await openDatabase(config.database.target, { timeoutMs: config.database.timeoutMs })
  try {
    await assertSchemaCurrent(central)
    return await work(central, config)
  } catch (err) {
    throw asDatabaseError(err, `database ${describeTarget(config.database.target)}`)
  } finally {
    await central.close()
  }
}

// An operator waits for the command anyway: a second for the broker, against add2db's 100 ms.
const NOTIFY_BOUND_MS = 1000

/**
 * Wake the fleet's `readdb --daemon`s after a committed change they act on (an unban, an
 * allowlist change), so they apply it now rather than at their next tick. Without
 * notify.mqtt it does nothing; a broker that does not take it is one warning on stderr.
 */
export async function notifyFleet(config: Config): Promise<void> {
  const notifier = await openNotifier(config, { mode: 'once', boundMs: NOTIFY_BOUND_MS, log: { warn: (line) => process.stderr.write(`f2b-central: warning: ${line}\n`) } })
  await notifier.bansChanged()
}
