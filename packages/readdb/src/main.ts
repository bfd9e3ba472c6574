import { isCronExpression } from '@f2b-central/core/config/cron-expression'
import { loadConfig, type Config } from '@f2b-central/core/config/load-config'
import { asDatabaseError } from '@f2b-central/core/db/database-error'
import { describeTarget, openDatabase } from '@f2b-central/core/db/open-database'
import { describeError, F2bError } from '@f2b-central/core/errors'
import { ExitCode } from '@f2b-central/core/exit-codes'
import { createHostPoll } from '@f2b-central/core/poll/host-poll'
import type { PollResult } from '@f2b-central/core/poll/poll'
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
  const central = await openDatabase(config.database.target, { timeoutMs: config.database.timeoutMs }).catch((err: unknown) => {
    throw asDatabaseError(err, `database ${describeTarget(config.database.target)}`)
  })
  try {
    const hostPoll = createHostPoll(config, central)
    // A daemon polls every few seconds: a spool problem is logged when it appears or changes, not every poll.
    let spoolProblemsLogged = ''
    const poll = async (): Promise<void> => {
      const started = performance.now()
      const { shipped, spoolProblems, result } = await hostPoll()
      if (shipped > 0) log.info({ shipped, spool: config.spool.dir }, 'shipped spooled bans')
      const problems = spoolProblems.map((p) => p.problem).join('\n')
      if (problems !== spoolProblemsLogged) for (const p of spoolProblems) log.warn({ spool: config.spool.dir, path: p.path, problem: p.problem }, 'spool file not shipped')
      spoolProblemsLogged = problems
      logPoll(log, result, performance.now() - started)
    }
    if (daemon) {
      log.info({ host: config.host.name, schedule: config.readdb.schedule }, 'started')
      await runDaemon({ schedule: config.readdb.schedule, tick: poll, log, maxBackoffMs: config.readdb.maxBackoffSeconds * 1000 })
    } else {
      await poll()
    }
    return ExitCode.Ok
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
