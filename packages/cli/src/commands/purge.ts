import { ExitCode } from '@f2b-central/core/exit-codes'
import { checkRetention, purgeBans } from '@f2b-central/core/fleet/purge'
import { formatDuration, parseDuration } from '@f2b-central/core/time/duration'
import { argValue, usage } from '../arg-value.js'
import { plural, print, printJson } from '../output.js'
import { parseBatchSize } from './expire.js'
import { COMMON_OPTIONS, parseCommandArgs, withDatabase } from '../command-context.js'

const USAGE = `usage: f2b-central purge --older-than DURATION [--force] [--batch-size N] [--json] [--config FILE]
Deletes bans that expired more than DURATION ago (e.g. 90d), with their host statuses, in
batches of N bans per transaction (default 1000). Permanent bans are kept. A DURATION under
1 day is refused unless --force is given. Run it with the operator account.`

export async function run(argv: string[]): Promise<ExitCode> {
  const { values } = parseCommandArgs('purge', argv, {
    'older-than': { type: 'string' },
    force: { type: 'boolean', default: false },
    'batch-size': { type: 'string', default: '1000' },
    ...COMMON_OPTIONS,
  })
  if (values.help) {
    print(USAGE)
    return ExitCode.Ok
  }
  if (values['older-than'] === undefined) throw usage('purge', '--older-than DURATION is required (e.g. --older-than 90d)')
  const olderThan = values['older-than']
  const olderThanSeconds = argValue('purge', () => parseDuration(olderThan, '--older-than'))
  checkRetention(olderThanSeconds, values.force)
  const batchSize = parseBatchSize('purge', values['batch-size'])
  const result = await withDatabase(values.config, (central) => purgeBans(central, { olderThanSeconds, force: values.force, batchSize }))
  if (values.json) printJson(result)
  else print(`purged ${plural(result.bans, 'ban')} that expired more than ${formatDuration(olderThanSeconds)} ago, with ${plural(result.statuses, 'host status', 'host statuses')}`)
  return ExitCode.Ok
}
