import { describeServerInUse } from '@f2b-central/core/db/open-database'
import { ExitCode } from '@f2b-central/core/exit-codes'
import { readFleetStatus, type HostHealth } from '@f2b-central/core/fleet/fleet-status'
import { formatDuration, parseDuration } from '@f2b-central/core/time/duration'
import { argValue } from '../arg-value.js'
import { plural, print, printJson, shown, shownText, shownTime, table } from '../output.js'
import { COMMON_OPTIONS, parseCommandArgs, withDatabase } from '../command-context.js'

const USAGE = `usage: f2b-central status [--stale-after DURATION] [--json] [--config FILE]
The fleet at a glance: every host with when it was last seen, how many bans it has not
decided yet (and the oldest), how many of those a local failure keeps pending (a full
disk, fail2ban not answering: retried each poll) with the latest such error, and its
errors (status 3) in the last day; for a host in firewall mode, its kernel sets' entries
and the drift its last resync found (entries it had to add, remove or refresh) and in total. A host is STUCK when its cursor is past the last stamp
(it would skip bans) or when it is seen but a ban has waited for it longer than
--stale-after. Bans held past a reporter's flood limit are listed, and the database server
answering when database.url lists several (or it is a Galera node).
  --stale-after DURATION   a host not seen for longer is stale (default 5m; e.g. 90s, 10m, 1h)
Exit 1 when a host is stale, stuck, retrying or has errors (for a monitoring check), else 0.`

export async function run(argv: string[]): Promise<ExitCode> {
  const { values } = parseCommandArgs('status', argv, { 'stale-after': { type: 'string', default: '5m' }, ...COMMON_OPTIONS })
  if (values.help) {
    print(USAGE)
    return ExitCode.Ok
  }
  const staleAfterSeconds = argValue('status', () => parseDuration(values['stale-after'], '--stale-after'))
  const { status, server } = await withDatabase(values.config, async (central) => ({
    status: await readFleetStatus(central, { staleAfterSeconds }),
    server: central.serverInUse?.(),
  }))
  // The server answering, when database.url offers a choice or it is a cluster's node.
  const named = server && (server.of > 1 || server.galera) ? server : undefined
  if (values.json) printJson(named ? { ...status, server: named } : status)
  else if (status.hosts.length === 0) print('no hosts registered yet (a host registers with its first add2db or readdb run)')
  else {
    print(table(['HOST', 'LAST SEEN', 'PENDING', 'OLDEST PENDING', 'RETRYING', 'ERRORS 24H', 'STATE'], status.hosts.map(row)))
    for (const h of status.hosts) {
      const e = h.latestPendingError
      if (e) print(`${shown(h.name)}: ${h.pendingWithErrors} pending after a local failure; latest ${formatDuration(e.seconds)} ago: ${shownText(e.error)}`)
    }
    for (const h of status.hosts) {
      const f = h.firewall
      if (f)
        print(
          `${shown(h.name)}: ${shown(f.backend)} sets, ${plural(f.entries, 'entry', 'entries')}; last resync ${formatDuration(f.secondsSinceResync)} ago found drift ${f.drift} (${f.driftTotal} since the first)`,
        )
    }
    print(
      `${status.hosts.length} host${status.hosts.length === 1 ? '' : 's'}: ${status.staleHosts} stale (not seen for more than ${formatDuration(staleAfterSeconds)}), ` +
        `${status.hostsWithErrors} with errors in the last day, ${status.hostsRetrying} retrying after a local failure, ${status.stuckHosts} stuck`,
    )
    if (named) print(`database: ${describeServerInUse(named)}`)
    for (const h of status.held)
      print(
        `held: ${plural(h.count, 'ban')} from ${shown(h.reporter)} since ${shownTime(h.since)} (past the flood limit; \`f2b-central bans release --reporter ${shown(h.reporter)}\` or \`bans drop\`)`,
      )
  }
  return status.healthy ? ExitCode.Ok : ExitCode.Failure
}

function row(h: HostHealth): string[] {
  const state =
    [h.stale ? 'STALE' : '', h.cursorAhead || h.stalled ? 'STUCK' : '', h.pendingWithErrors > 0 ? 'RETRYING' : '', h.errorsLastDay > 0 ? 'ERRORS' : ''].filter(Boolean).join(',') ||
    'ok'
  return [
    shown(h.name),
    `${formatDuration(h.secondsSinceSeen)} ago`,
    String(h.pending),
    h.oldestPendingSeconds === null ? '-' : formatDuration(h.oldestPendingSeconds),
    String(h.pendingWithErrors),
    String(h.errorsLastDay),
    state,
  ]
}
