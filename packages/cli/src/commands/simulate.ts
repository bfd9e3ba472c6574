import { parseIp } from '@f2b-central/core/ban/ip-address'
import { ExitCode } from '@f2b-central/core/exit-codes'
import { cleanSimulatedBans, parseSimulateJail, recordSimulatedBan, SIMULATE_BANTIME, SIMULATE_JAIL } from '@f2b-central/core/fleet/simulate'
import { formatDuration, parseBantimeOption } from '@f2b-central/core/time/duration'
import { argValue, usage } from '../arg-value.js'
import { plural, print, printJson, shownTime } from '../output.js'
import { COMMON_OPTIONS, parseCommandArgs, withDatabase } from '../command-context.js'

const USAGE = `usage: f2b-central simulate IP [--jail JAIL] [--bantime DURATION] [--json] [--config FILE]
       f2b-central simulate --clean IP [--jail JAIL] [--json] [--config FILE]
Records a test ban of IP as this host (host.name), as add2db would, so you can watch it reach
the fleet (\`f2b-central bans show IP\`). Use a documentation address (192.0.2.x, 2001:db8::x).
  --jail JAIL        ${SIMULATE_JAIL} (default) or ${SIMULATE_JAIL}-<suffix>: the name marks simulated bans
  --bantime DURATION ban time of the test ban (default ${formatDuration(SIMULATE_BANTIME)})
  --clean            delete the simulated bans of IP (in JAIL) everywhere (operator account)`

export async function run(argv: string[]): Promise<ExitCode> {
  const { values, positionals } = parseCommandArgs(
    'simulate',
    argv,
    {
      jail: { type: 'string', default: SIMULATE_JAIL },
      bantime: { type: 'string' },
      clean: { type: 'boolean', default: false },
      ...COMMON_OPTIONS,
    },
    true,
  )
  if (values.help) {
    print(USAGE)
    return ExitCode.Ok
  }
  const [ipText, ...extra] = positionals
  if (ipText === undefined) throw usage('simulate', 'IP is required')
  if (extra.length > 0) throw usage('simulate', `unexpected argument ${JSON.stringify(extra[0]?.slice(0, 40))}`)
  if (values.clean && values.bantime !== undefined) throw usage('simulate', '--bantime does not apply to --clean')
  const ip = argValue('simulate', () => parseIp(ipText, 'address').text)
  const jail = argValue('simulate', () => parseSimulateJail(values.jail))
  const bantime = argValue('simulate', () => (values.bantime === undefined ? SIMULATE_BANTIME : parseBantimeOption(values.bantime, '--bantime')))
  if (values.clean) {
    const result = await withDatabase(values.config, (central) => cleanSimulatedBans(central, ip, jail))
    const note = 'hosts that applied it keep the local ban until its ban time ends, unless it is lifted with `f2b-central unban`'
    if (values.json) printJson({ ip, jail, deleted: result.bans, appliedBy: result.appliedBy, note })
    else {
      print(`deleted ${plural(result.bans, 'simulated ban')} of ${ip} (jail ${jail}) everywhere`)
      if (result.appliedBy.length > 0) print(`applied by ${result.appliedBy.join(', ')}: ${note}`)
    }
    return ExitCode.Ok
  }
  const ban = await withDatabase(values.config, async (central, config) => ({
    ...(await recordSimulatedBan(central, config.host.name, ip, jail, bantime)),
    reporter: config.host.name,
  }))
  if (values.json) printJson({ ip, jail, reporter: ban.reporter, banId: ban.banId, expiresAt: ban.expiresAt })
  else {
    print(`recorded simulated ban ${ban.banId}: ${ip} jail=${jail} reporter=${ban.reporter}, expires ${shownTime(ban.expiresAt, 'never')} UTC`)
    print(`watch it reach the fleet: f2b-central bans show ${ip}; remove it: f2b-central simulate --clean ${ip}${jail === SIMULATE_JAIL ? '' : ` --jail ${jail}`}`)
  }
  return ExitCode.Ok
}
