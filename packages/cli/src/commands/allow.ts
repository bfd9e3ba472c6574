import { parseNetwork } from '@f2b-central/core/ban/network'
import { addAllowEntry, listAllowlist, removeAllowEntry } from '@f2b-central/core/db/queries/allowlist'
import { UsageError } from '@f2b-central/core/errors'
import { ExitCode } from '@f2b-central/core/exit-codes'
import { COMMON_OPTIONS, notifyFleet, parseCommandArgs, withDatabase } from '../command-context.js'

const USAGE = `usage: f2b-central allow add ADDRESS|CIDR [--reason TEXT] [--config FILE]
       f2b-central allow remove ADDRESS|CIDR [--config FILE]
       f2b-central allow list [--json] [--config FILE]
The central allowlist: add2db does not report these addresses and readdb never applies
them (status 6), including bans stored before the entry was added. IPv4 and IPv6, single
addresses or networks. Run with an operator account: host accounts cannot change it.`

export async function run(argv: string[]): Promise<ExitCode> {
  const { values, positionals } = parseCommandArgs('allow', argv, { reason: { type: 'string' }, ...COMMON_OPTIONS }, true)
  if (values.help) {
    process.stdout.write(`${USAGE}\n`)
    return ExitCode.Ok
  }
  const [verb, target, ...extra] = positionals
  const wantsTarget = verb === 'add' || verb === 'remove'
  if (!verb || !['add', 'remove', 'list'].includes(verb) || (wantsTarget ? target === undefined || extra.length > 0 : target !== undefined)) {
    throw new UsageError('allow: expected `add ADDRESS|CIDR`, `remove ADDRESS|CIDR` or `list`', 'run `f2b-central allow --help`')
  }
  const network = wantsTarget ? parseNetwork(target ?? '', 'address') : undefined
  return withDatabase(values.config, async (central, config) => {
    if (verb === 'list') {
      const entries = await listAllowlist(central.db)
      if (values.json) process.stdout.write(`${JSON.stringify(entries)}\n`)
      else for (const e of entries) process.stdout.write(`${e.network}\t${e.createdAt}\t${e.addedBy}\t${e.reason ?? ''}\n`)
      return ExitCode.Ok
    }
    if (!network) throw new UsageError('allow: missing ADDRESS or CIDR')
    if (verb === 'add') {
      const added = await addAllowEntry(central, network, `operator@${config.host.name}`, values.reason ?? null)
      if (added) await notifyFleet(config)
      process.stdout.write(`${network.text}: ${added ? 'added to' : 'already in'} the allowlist\n`)
    } else {
      const removed = await removeAllowEntry(central, network)
      if (removed) await notifyFleet(config)
      process.stdout.write(`${network.text}: ${removed ? 'removed from' : 'was not in'} the allowlist\n`)
    }
    return ExitCode.Ok
  })
}
