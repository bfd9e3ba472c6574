import { parseNetwork } from '@f2b-central/core/ban/network'
import { addAllowEntry } from '@f2b-central/core/db/queries/allowlist'
import { revokeBans } from '@f2b-central/core/db/queries/unban'
import { UsageError } from '@f2b-central/core/errors'
import { ExitCode } from '@f2b-central/core/exit-codes'
import { COMMON_OPTIONS, notifyFleet, parseCommandArgs, withDatabase } from '../command-context.js'

const USAGE = `usage: f2b-central unban ADDRESS|CIDR [--allow] [--reason TEXT] [--json] [--config FILE]
Ends the address's (or network's) active bans across the fleet. Every host's readdb takes it
out of its shared jail at its next poll and records status 4. --allow also adds it to the
central allowlist, so it is never banned by the fleet again.`

export async function run(argv: string[]): Promise<ExitCode> {
  const { values, positionals } = parseCommandArgs('unban', argv, { allow: { type: 'boolean', default: false }, reason: { type: 'string' }, ...COMMON_OPTIONS }, true)
  if (values.help) {
    process.stdout.write(`${USAGE}\n`)
    return ExitCode.Ok
  }
  if (positionals.length !== 1) throw new UsageError('unban: expected exactly one ADDRESS or CIDR', 'run `f2b-central unban --help`')
  const network = parseNetwork(positionals[0] ?? '', 'address')
  return withDatabase(values.config, async (central, config) => {
    const by = `operator@${config.host.name}`
    const revoked = await revokeBans(central, network, by)
    const allowed = values.allow ? await addAllowEntry(central, network, by, values.reason ?? 'unban --allow') : undefined
    if (revoked.bans > 0 || allowed === true) await notifyFleet(config)
    if (values.json) {
      process.stdout.write(`${JSON.stringify({ network: network.text, bansEnded: revoked.bans, addresses: revoked.addresses, allowlisted: allowed ?? false })}\n`)
    } else {
      process.stdout.write(
        `${network.text}: ended ${revoked.bans} active ban(s) of ${revoked.addresses.length} address(es); hosts take them out of their shared jail at their next poll\n`,
      )
      if (allowed !== undefined) process.stdout.write(`${network.text}: ${allowed ? 'added to' : 'already in'} the allowlist\n`)
    }
    return ExitCode.Ok
  })
}
