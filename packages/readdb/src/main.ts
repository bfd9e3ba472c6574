import { isCronExpression } from '@f2b-central/core/config/cron-expression'
import { loadConfig, type Config } from '@f2b-central/core/config/load-config'
import { asDatabaseError } from '@f2b-central/core/db/database-error'
import { assertSchemaCurrent } from '@f2b-central/core/db/schema-version'
import { describeTarget, openDatabase } from '@f2b-central/core/db/open-database'
import { describeError, F2bError } from '@f2b-central/core/errors'
import { ExitCode } from '@f2b-central/core/exit-codes'
import { openBanState } from '@f2b-central/core/fail2ban/open-ban-state'
import { readMachineId } from '@f2b-central/core/machine-id'
import { ownAddresses } from '@f2b-central/core/own-addresses'
import { pollOnce, type PollResult, type PollState } from '@f2b-central/core/poll/poll'
import { Fail2banClient } from '@f2b-central/core/fail2ban/fail2ban-client'
import { shipSpool } from '@f2b-central/core/report-ban'
import { parseReaddbArgs, USAGE } from './args.js'
import { runDaemon } from './daemon.js'
import { acquireLock } from './lock-file.js'
import { createLogger, type Logger } from './logger.js'

async function main(argv: string[]): Promise<ExitCode> {
  const args = parseReaddbArgs(argv)
  if (args.help) {
    process.stdout.write(`${USAGE}\n`)
    return ExitCode.Ok
  }
  // readdb.schedule checked with node-cron's grammar, which the daemon runs it with.
  const config = loadConfig({ path: args.config, isCronExpression })
  const lock = acquireLock(config.readdb.lockFile)
  try {
    return await run(config, args.daemon)
  } finally {
    lock.release()
  }
}

async function run(config: Config, daemon: boolean): Promise<ExitCode> {
  const log = createLogger()
  const where = `database ${describeTarget(config.database.target)}`
  const central = await openDatabase(config.database.target, { timeoutMs: config.database.timeoutMs })
  try {
    const machineId = readMachineId()
    const banState = openBanState(config.fail2ban)
    const client = new Fail2banClient(config.fail2ban.client, config.fail2ban.timeoutMs)
    const { sharedJail, unbanAllJails } = config.fail2ban
    // Many addresses per call: fail2ban-client takes them all at once.
    const unban = async (ips: readonly string[]) => {
      await (unbanAllJails ? client.run('unban', ...ips) : client.run('set', sharedJail, 'unbanip', ...ips))
    }
    const state: PollState = {}
    let schemaChecked = false
    const poll = async (): Promise<void> => {
      const started = performance.now()
      // Checked on the first poll that reaches the database, so a daemon started while the
      // database is down waits for it instead of exiting.
      if (!schemaChecked) {
        await assertSchemaCurrent(central)
        schemaChecked = true
      }
      // Bans add2db had to keep locally while the database was away go first.
      const shipped = await shipSpool(central, config.spool.dir).catch((err: unknown) => {
        throw asDatabaseError(err, where)
      })
      if (shipped > 0) log.info({ shipped, spool: config.spool.dir }, 'shipped spooled bans')
      const result = await pollOnce({
        central,
        hostName: config.host.name,
        machineId,
        banState,
        sharedLog: config.fail2ban.sharedLog,
        recentBanFraction: config.fail2ban.recentBanFraction,
        batchSize: config.readdb.batchSize,
        localAllowlist: config.allowlist,
        fleetAddresses: config.host.allowFleetAddresses ? ownAddresses() : undefined,
        unban,
        endWithFleetBan: config.fail2ban.endWithFleetBan,
        state,
      }).catch((err: unknown) => {
        throw asDatabaseError(err, where)
      })
      logPoll(log, result, performance.now() - started)
    }
    if (daemon) {
      log.info({ host: config.host.name, schedule: config.readdb.schedule }, 'started')
      await runDaemon({ schedule: config.readdb.schedule, tick: poll, log, maxBackoffMs: config.readdb.maxBackoffSeconds * 1000 })
    } else {
      await poll()
    }
    return ExitCode.Ok
  } catch (err) {
    throw asDatabaseError(err, where)
  } finally {
    await central.close()
  }
}

// One line per poll that did something; an idle poll stays silent so cron mails nothing.
function logPoll(log: Logger, result: PollResult, ms: number): void {
  if (result.examined === 0 && result.endedLocally === 0) return
  log.info({ ...result, ms: Math.round(ms) }, 'poll')
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`readdb: ${describeError(err)}\n`)
    process.exit(err instanceof F2bError ? err.exitCode : ExitCode.Failure)
  },
)
