// add2db: run by fail2ban for every ban. It imports only what an insert needs: no node-cron,
// no fail2ban readers, and the database driver of the configured dialect only.
import { parseBanReport, type BanReport } from '@f2b-central/core/ban/ban-report'
import { loadConfig, type Config } from '@f2b-central/core/config/load-config'
import { DatabaseAccessError, describeError, F2bError, SchemaError } from '@f2b-central/core/errors'
import { ExitCode } from '@f2b-central/core/exit-codes'
import { openNotifier } from '@f2b-central/core/notify/notifier'
import { newReportIdentity, noteDatabaseSilent, reportBan, spoolReport, type ReportIdentity } from '@f2b-central/core/report/report-ban'
import { parseAdd2dbArgs, USAGE } from './args.js'

// Beyond the database deadline: whatever happens, fail2ban's action thread gets its answer.
const BACKSTOP_EXTRA_MS = 2000
// The longest a wake-up over MQTT (notify.mqtt) waits on the broker: connect, publish, PUBACK.
const NOTIFY_BOUND_MS = 100

async function main(argv: string[]): Promise<ExitCode> {
  const args = parseAdd2dbArgs(argv)
  if (args.help) {
    process.stdout.write(`${USAGE}\n`)
    return ExitCode.Ok
  }
  const parsed = parseBanReport({ ip: args.ip ?? '', jail: args.jail ?? '', protocol: args.protocol, port: args.port, bantime: args.bantime })
  const config = loadConfig({ path: args.config })
  const ban = { ...parsed, bantime: parsed.bantime ?? config.bans.defaultBantime }
  const report = newReportIdentity()
  setTimeout(() => spoolAndExit(config, ban, report), config.database.timeoutMs + BACKSTOP_EXTRA_MS).unref()
  const outcome = await reportBan(config, ban, report)
  // fail2ban logs what an action prints: only what an admin should see.
  if (outcome.kind === 'allowlisted') process.stderr.write(`add2db: ${parsed.ip} is allowlisted (${outcome.by}); not reported\n`)
  if (outcome.kind === 'stored' && outcome.held) {
    process.stderr.write(
      `add2db: warning: ${parsed.ip} stored but held: ${config.host.name} is past the fleet's flood limit; other hosts apply it once an operator runs \`f2b-central bans release --reporter ${config.host.name}\`\n`,
    )
  }
  if (outcome.kind === 'stored' && outcome.spoolProblem) process.stderr.write(`add2db: warning: ban stored; not shipped from the spool: ${outcome.spoolProblem}\n`)
  // Committed: wake the fleet's daemons. A held ban is applied by nobody yet, so nobody is woken.
  if (outcome.kind === 'stored' && !outcome.held) {
    const notifier = await openNotifier(config, { mode: 'once', boundMs: NOTIFY_BOUND_MS, log: { warn: (line) => process.stderr.write(`add2db: warning: ${line}\n`) } })
    await notifier.bansChanged(outcome.banId)
  }
  if (outcome.kind === 'spooled') {
    // A database that is down is waited out (exit 0); one that needs an admin (unmigrated,
    // newer schema, account refused, no such database) is an error fail2ban logs as such,
    // though the ban is safe in the spool.
    const needsAdmin = outcome.cause instanceof SchemaError || outcome.cause instanceof DatabaseAccessError
    process.stderr.write(`add2db: ${needsAdmin ? 'error' : 'warning'}: ban kept in the local spool (${outcome.path}): ${outcome.reason}; the next add2db or readdb that reaches the database ships it\n`)
    return needsAdmin ? ExitCode.Failure : ExitCode.Ok
  }
  return ExitCode.Ok
}

// Last resort when even the deadline path is stuck (a starved machine, a hung disk): keep
// the ban in the spool under the same key, so a late insert and the spool never double it.
function spoolAndExit(config: Config, ban: BanReport, report: ReportIdentity): never {
  try {
    const path = spoolReport(config, ban, report)
    noteDatabaseSilent(config, `no answer from ${config.database.timeoutMs / 1000} s on, and add2db's last-resort timer fired`)
    exit(ExitCode.Ok, `add2db: warning: ban kept in the local spool (${path}): no answer from the database in time; the next add2db or readdb that reaches the database ships it`)
  } catch (err) {
    exit(ExitCode.Failure, `add2db: gave up: no answer from the database in time, and the spool failed: ${describeError(err)}`)
  }
}

function exit(code: ExitCode, message?: string): never {
  if (message) process.stderr.write(`${message}\n`)
  process.exit(code)
}

main(process.argv.slice(2)).then(
  (code) => exit(code),
  (err: unknown) => exit(err instanceof F2bError ? err.exitCode : ExitCode.Failure, `add2db: ${describeError(err)}`),
)
