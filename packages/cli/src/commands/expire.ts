import { ExitCode } from '@f2b-central/core/exit-codes'
import { expireBans } from '@f2b-central/core/db/queries/expire'
import { usage } from '../arg-value.js'
import { plural, print, printJson } from '../output.js'
import { COMMON_OPTIONS, parseCommandArgs, withDatabase } from '../command-context.js'

const USAGE = `usage: f2b-central expire [--batch-size N] [--json] [--config FILE]
Marks bans whose time ran out as expired (status 5) for every registered host that never
applied them (no status yet, or status 0), in batches of N bans per transaction (default 1000).
Run it with the operator account, e.g. daily from cron.`

export async function run(argv: string[]): Promise<ExitCode> {
  const { values } = parseCommandArgs('expire', argv, { 'batch-size': { type: 'string', default: '1000' }, ...COMMON_OPTIONS })
  if (values.help) {
    print(USAGE)
    return ExitCode.Ok
  }
  const batchSize = parseBatchSize('expire', values['batch-size'])
  const result = await withDatabase(values.config, (central) => expireBans(central, { batchSize }))
  if (values.json) printJson(result)
  else print(`expired ${plural(result.bans, 'ban')}: ${plural(result.statuses, 'host status', 'host statuses')} set to 5 (expired)`)
  return ExitCode.Ok
}

/** `--batch-size`: 1-50000. */
export function parseBatchSize(command: string, text: string): number {
  if (!/^[1-9][0-9]{0,4}$/.test(text) || Number(text) > 50000) throw usage(command, `invalid --batch-size ${JSON.stringify(text.slice(0, 40))}: expected 1-50000`)
  return Number(text)
}
