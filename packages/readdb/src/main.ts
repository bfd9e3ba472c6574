import { isCronExpression } from '@f2b-central/core/config/cron-expression'
import { configPath, loadConfig, type Config } from '@f2b-central/core/config/load-config'
import { asDatabaseError } from '@f2b-central/core/db/database-error'
import { describeTarget, openDatabase } from '@f2b-central/core/db/open-database'
import { describeError, F2bError, UsageError } from '@f2b-central/core/errors'
import { createHostFirewall, type HostResync } from '@f2b-central/core/firewall/host-firewall'
import { ExitCode } from '@f2b-central/core/exit-codes'
import { createHostPoll } from '@f2b-central/core/poll/host-poll'
import type { PollResult } from '@f2b-central/core/poll/poll'
import { configIdentity, type ConfigIdentity } from '@f2b-central/core/report/handover/protocol'
import { parseReaddbArgs, USAGE } from './args.js'
import { runDaemon } from './daemon.js'
import { startHandover } from './handover.js'
import { acquireLock } from './lock-file.js'
import { createLogger, type Logger } from './logger.js'
import { openPush } from './push.js'

async function main(argv: string[]): Promise<ExitCode> {
  const args = parseReaddbArgs(argv)
  if (args.help) {
    process.stdout.write(`${USAGE}\n`)
    return ExitCode.Ok
  }
  // The config file's identity before it is read: an add2db that finds another one (the file
  // edited since) stores its bans itself instead of handing them to this daemon.
  const identity = args.daemon ? configIdentity(configPath({ path: args.config, env: process.env }), process.env) : undefined
  // readdb.schedule checked with node-cron's grammar, which the daemon runs it with.
  const config = loadConfig({ path: args.config, isCronExpression })
  const lock = await acquireLock(config.readdb.lockFile)
  try {
    if (args.resync && args.daemon) throw new UsageError('readdb: --resync is one run; a running daemon resyncs on SIGHUP', 'run `readdb --help`')
    if (args.resync && config.firewall === undefined)
      throw new UsageError('readdb --resync: the config has no firewall section', 'add firewall.backend (nftables or ipset); see README "Firewall mode"')
    return await run(config, identity, args.resync)
  } finally {
    lock.release()
  }
}

async function run(config: Config, identity: ConfigIdentity | undefined, resyncNow: boolean): Promise<ExitCode> {
  const log = createLogger()
  // No statement of a poll outlives the poll's own deadline, on the server either.
  const central = await openDatabase(config.database.target, { timeoutMs: config.database.timeoutMs, statementTimeoutMs: config.readdb.pollTimeoutSeconds * 1000 }).catch(
    (err: unknown) => {
      throw asDatabaseError(err, `database ${describeTarget(config.database.target)}`)
    },
  )
  // notify.mqtt: woken by the fleet's wake-ups (daemon), publishing the vallumd topics.
  const push = await openPush(config, log, identity !== undefined)
  try {
    const firewall = config.firewall === undefined ? undefined : createHostFirewall({ ...config, firewall: config.firewall }, central)
    const hostPoll = createHostPoll(config, central, { announce: push?.announce, ...(firewall ? { firewall: firewall.applier } : {}) })
    const spoolWarning = repeatedWarning(log, 'spool not shipped')
    const handOverWarning = repeatedWarning(log, 'bans not handed to the shared jail')
    if (resyncNow && firewall) {
      // `readdb --resync`: the sets made equal to the fleet's bans, and nothing else.
      const resync = await firewall.resyncIfDue({ force: true })
      if (resync) logResync(log, resync)
      return ExitCode.Ok
    }
    let forceResync = false
    const resyncWarning = repeatedWarning(log, 'firewall resync failed')
    const poll = async (): Promise<boolean> => {
      if (firewall) {
        // In the same tick as the poll, before it: the two never run at once. A resync that
        // fails (nft or ipset missing or refusing) does not hold the poll back: the shared jail,
        // where there is one, still takes the fleet's bans, and the poll keeps what the sets
        // could not take pending with the error. The resync stays due and runs again next tick.
        try {
          const resync = await firewall.resyncIfDue({ force: forceResync, start: identity !== undefined })
          forceResync = false
          resyncWarning(undefined)
          if (resync) logResync(log, resync)
        } catch (err) {
          resyncWarning(describeError(err))
        }
      }
      const started = performance.now()
      const { shipped, spoolProblem, result } = await hostPoll()
      if (shipped > 0) log.info({ shipped, spool: config.spool.dir }, 'shipped spooled bans')
      spoolWarning(spoolProblem)
      handOverWarning(result.handOverProblem)
      logPoll(log, result, performance.now() - started)
      return result.examined > 0 || result.endedLocally > 0 || shipped > 0
    }
    if (identity !== undefined) {
      // `systemctl reload` (SIGHUP): resync the sets at the next tick, as `readdb --resync` does for a one-shot run.
      if (firewall) process.on('SIGHUP', () => (forceResync = true))
      // A ban the daemon stored for add2db (the hand-over) wakes the fleet on the daemon's own
      // kept-open broker connection, as add2db's own store would on a connection of its own.
      const onStored = (banId: number): void => void push?.notifier.bansChanged(banId)
      // Before the first poll, so fail2ban's bans are taken from the start.
      const handover = await startHandover({ config, identity, central, log, onStored })
      log.info({ host: config.host.name, schedule: config.readdb.schedule, handover: handover.socketPath ?? null, push: config.notify.mqtt?.url ?? false }, 'started')
      try {
        await runDaemon({ schedule: config.readdb.schedule, tick: poll, log, maxBackoffMs: config.readdb.maxBackoffSeconds * 1000, wakeUps: push && ((wake) => push.onWake(wake)) })
      } finally {
        // Reports being stored finish before the database connection closes.
        await handover.close()
      }
    } else {
      await poll()
    }
    return ExitCode.Ok
  } finally {
    await push?.close()
    await central.close()
  }
}

// A daemon polls every few seconds: the same problem is logged when it first shows, when it
// changes, and then every ten minutes while it lasts, not at every poll.
const REPEAT_WARNING_MS = 10 * 60 * 1000

function repeatedWarning(log: Logger, msg: string): (problem: string | undefined) => void {
  let last: { problem: string; at: number } | undefined
  return (problem) => {
    if (problem === undefined) {
      last = undefined
      return
    }
    if (last?.problem === problem && Date.now() - last.at < REPEAT_WARNING_MS) return
    last = { problem, at: Date.now() }
    log.warn({ problem }, msg)
  }
}

// Every resync says what it changed: its drift is how far the kernel sets had moved from the fleet's bans.
function logResync(log: Logger, r: HostResync): void {
  const { rejectedSamples, ...counts } = r
  const line = { ...counts, ...(r.rejected > 0 ? { rejectedSamples: rejectedSamples.slice(0, 5) } : {}) }
  // One message for every resync (a monitor greps for it); a warning when stored values were left out.
  if (r.rejected > 0) log.warn({ ...line, problem: `left out ${r.rejected} stored value(s) that are no address or bannable network` }, 'firewall resync')
  else log.info(line, 'firewall resync')
}

// One line per poll that did something; an idle poll stays silent so cron mails nothing.
// A poll that kept bans back for a local problem says so at warn level, with the problem.
function logPoll(log: Logger, result: PollResult, ms: number): void {
  if (result.examined === 0 && result.endedLocally === 0) return
  if (result.firewallWarning !== undefined) log.warn({ problem: result.firewallWarning }, 'firewall: established connections not cut')
  if (result.localProblem !== undefined) log.warn({ ...result, ms: Math.round(ms) }, `poll: bans kept pending: ${result.localProblem}`)
  else log.info({ ...result, ms: Math.round(ms) }, 'poll')
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`readdb: ${describeError(err)}\n`)
    process.exit(err instanceof F2bError ? err.exitCode : ExitCode.Failure)
  },
)
