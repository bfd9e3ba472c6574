import { parseIp } from '@f2b-central/core/ban/ip-address'
import { parseHostName, parseJail } from '@f2b-central/core/ban/names'
import { parseNetwork } from '@f2b-central/core/ban/network'
import { ExitCode } from '@f2b-central/core/exit-codes'
import { readBanHistory, type BanHistory } from '@f2b-central/core/fleet/ban-history'
import { listActiveBans, type BanList } from '@f2b-central/core/fleet/ban-list'
import { parseTimeBound } from '@f2b-central/core/time/time-bound'
import { dbTimeToIso } from '@f2b-central/core/time/db-time'
import { readFloodLimit, setFloodLimit } from '@f2b-central/core/db/queries/fleet-settings'
import { dropHeldBans, listHeldBans, releaseHeldBans } from '@f2b-central/core/db/queries/held-bans'
import { argValue, usage } from '../arg-value.js'
import { plural, print, printJson, shown, shownText, shownTime, table } from '../output.js'
import { COMMON_OPTIONS, notifyFleet, parseCommandArgs, withDatabase } from '../command-context.js'

const USAGE = `usage: f2b-central bans [--ip ADDR|CIDR] [--jail JAIL] [--host NAME] [--since TIME] [--until TIME] [--limit N] [--json] [--config FILE]
       f2b-central bans show IP [--json] [--config FILE]
       f2b-central bans held [--json] | release --reporter HOST | drop --reporter HOST | limit [N]
Lists active bans (not expired, not revoked), newest first, with how many hosts applied each.
  --ip ADDR|CIDR     one address, or every address in a network (203.0.113.0/24, 2001:db8::/32)
  --jail JAIL        reported from this jail
  --host NAME        reported by this host
  --since TIME       reported at or after TIME: ISO time (UTC unless it has an offset) or a duration ago (1h, 2d)
  --until TIME       reported at or before TIME
  --limit N          at most N bans (default 100)
\`bans show IP\` prints the address's whole history: every ban and every host's status for it.
Past the fleet's flood limit (\`bans limit\`, default 1000 a minute per host) a host's further
reports are stored held: no other host applies them until \`bans release --reporter HOST\`
(then every host does) or \`bans drop --reporter HOST\` (deleted). \`bans held\` lists them.`

export async function run(argv: string[]): Promise<ExitCode> {
  const { values, positionals } = parseCommandArgs(
    'bans',
    argv,
    {
      ip: { type: 'string' },
      jail: { type: 'string' },
      host: { type: 'string' },
      since: { type: 'string' },
      until: { type: 'string' },
      limit: { type: 'string', default: '100' },
      reporter: { type: 'string' },
      ...COMMON_OPTIONS,
    },
    true,
  )
  if (values.help) {
    print(USAGE)
    return ExitCode.Ok
  }
  const [sub] = positionals
  if (sub === 'held' || sub === 'release' || sub === 'drop' || sub === 'limit') return runHeld(sub, positionals.slice(1), values)
  if (values.reporter !== undefined) throw usage('bans', '--reporter goes with `bans release` or `bans drop`')
  if (positionals.length > 0) {
    const [, ip, ...extra] = positionals
    if (sub !== 'show') throw usage('bans', `unknown subcommand ${JSON.stringify(sub?.slice(0, 40))}`)
    if (ip === undefined) throw usage('bans', '`bans show` needs an address')
    if (extra.length > 0) throw usage('bans', `unexpected argument ${JSON.stringify(extra[0]?.slice(0, 40))}`)
    const filters = (['ip', 'jail', 'host', 'since', 'until'] as const).filter((k) => values[k] !== undefined)
    if (filters.length > 0) throw usage('bans', `--${filters[0]} does not apply to \`bans show\``)
    const address = argValue('bans', () => parseIp(ip, 'address').text)
    const history = await withDatabase(values.config, (central) => readBanHistory(central, address))
    if (values.json) printJson(history)
    else printHistory(history)
    return ExitCode.Ok
  }
  const filter = argValue('bans', () => ({
    network: values.ip === undefined ? undefined : parseNetwork(values.ip, '--ip'),
    jail: values.jail === undefined ? undefined : parseJail(values.jail),
    reporter: values.host === undefined ? undefined : parseHostName(values.host, '--host'),
    since: values.since === undefined ? undefined : parseTimeBound(values.since, '--since'),
    until: values.until === undefined ? undefined : parseTimeBound(values.until, '--until'),
    limit: parseLimit(values.limit),
  }))
  const list = await withDatabase(values.config, (central) => listActiveBans(central, filter))
  if (values.json) printJson(list)
  else printList(list)
  return ExitCode.Ok
}

async function runHeld(
  sub: 'held' | 'release' | 'drop' | 'limit',
  rest: string[],
  values: { reporter?: string | undefined; json: boolean; config?: string | undefined },
): Promise<ExitCode> {
  if (sub === 'limit') {
    if (rest.length > 1) throw usage('bans', `unexpected argument ${JSON.stringify(rest[1]?.slice(0, 40))}`)
    const wanted = rest[0] === undefined ? undefined : parseFloodLimit(rest[0])
    const limit = await withDatabase(values.config, async (central) => {
      if (wanted !== undefined) await setFloodLimit(central.db, wanted)
      return readFloodLimit(central.db)
    })
    if (values.json) printJson({ maxBansPerMinute: limit })
    else print(`flood limit: ${limit} bans a minute per host; past it, reports are held`)
    return ExitCode.Ok
  }
  if (rest.length > 0) throw usage('bans', `unexpected argument ${JSON.stringify(rest[0]?.slice(0, 40))}`)
  if (sub === 'held') {
    const held = await withDatabase(values.config, (central) => listHeldBans(central))
    if (values.json) printJson(held.map((h) => ({ ...h, since: dbTimeToIso(h.since), newest: dbTimeToIso(h.newest) })))
    else if (held.length === 0) print('no held bans')
    else
      print(
        table(
          ['REPORTER', 'HELD', 'SINCE (UTC)', 'NEWEST (UTC)'],
          held.map((h) => [shown(h.reporter), String(h.count), shownTime(dbTimeToIso(h.since)), shownTime(dbTimeToIso(h.newest))]),
        ),
      )
    return ExitCode.Ok
  }
  if (values.reporter === undefined) throw usage('bans', `\`bans ${sub}\` needs --reporter HOST`)
  const reporter = argValue('bans', () => parseHostName(values.reporter ?? '', '--reporter'))
  const n = await withDatabase(values.config, async (central, config) => {
    if (sub !== 'release') return dropHeldBans(central, reporter)
    const released = await releaseHeldBans(central, reporter)
    if (released > 0) await notifyFleet(config)
    return released
  })
  if (values.json) printJson({ reporter, [sub === 'release' ? 'released' : 'dropped']: n })
  else print(sub === 'release' ? `${plural(n, 'held ban')} of ${reporter} released: every host applies them at its next poll` : `${plural(n, 'held ban')} of ${reporter} dropped`)
  return ExitCode.Ok
}

function parseFloodLimit(text: string): number {
  if (!/^[1-9][0-9]{0,6}$/.test(text)) throw usage('bans', `invalid limit ${JSON.stringify(text.slice(0, 40))}: expected 1-9999999 bans a minute`)
  return Number(text)
}

function parseLimit(text: string): number {
  if (!/^[1-9][0-9]{0,5}$/.test(text)) throw usage('bans', `invalid --limit ${JSON.stringify(text.slice(0, 40))}: expected 1-999999`)
  return Number(text)
}

function printList(list: BanList): void {
  if (list.bans.length === 0) {
    print('no active bans match')
    return
  }
  print(
    table(
      ['ID', 'ADDRESS', 'JAIL', 'REPORTER', 'REPORTED (UTC)', 'EXPIRES (UTC)', 'APPLIED'],
      list.bans.map((b) => [
        String(b.id),
        shown(b.ip),
        shown(b.jail),
        shown(b.reporter),
        shownTime(b.createdAt),
        shownTime(b.expiresAt, 'never'),
        `${b.appliedHosts}/${list.hostCount}`,
      ]),
    ),
  )
  print(`${plural(list.bans.length, 'active ban')}${list.truncated ? ' shown; more match (raise --limit or narrow the filter)' : ''}`)
}

function printHistory(h: BanHistory): void {
  if (h.bans.length === 0) {
    print(`${h.ip}: no bans recorded`)
    return
  }
  const active = h.bans.filter((b) => b.active).length
  print(`${h.ip}: ${plural(h.bans.length, 'ban')}, ${active} active`)
  for (const b of h.bans) {
    const state = b.revokedAt !== null ? `revoked ${shownTime(b.revokedAt)}` : b.active ? 'active' : 'expired'
    print(`\nban ${b.id}  jail ${shown(b.jail)}  reported by ${shown(b.reporter)} at ${shownTime(b.createdAt)}  expires ${shownTime(b.expiresAt, 'never')}  ${state}`)
    if (b.hosts.length > 0) {
      const rows = b.hosts.map((s) => [`  ${shown(s.host)}`, `${s.status} ${s.statusName}`, shownTime(s.updatedAt), s.error === null ? '' : shownText(s.error)])
      print(table(['  HOST', 'STATUS', 'UPDATED (UTC)', 'ERROR'], rows))
    }
  }
}
