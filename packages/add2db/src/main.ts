// add2db's full path: store the ban itself. The launcher (bin/add2db.cjs) loads this bundle
// only when the fast path (fast.ts, the hand-over to the local daemon) cannot be taken. It
// imports only what an insert needs: no node-cron, no fail2ban readers, and the database
// driver of the configured dialect only.
import { parseBanReport, type BanReport } from '@f2b-central/core/ban/ban-report'
import { loadConfig, type Config } from '@f2b-central/core/config/load-config'
import { describeError, F2bError } from '@f2b-central/core/errors'
import { ExitCode } from '@f2b-central/core/exit-codes'
import { openNotifier } from '@f2b-central/core/notify/notifier'
import { newReportIdentity, noteDatabaseSilent, reportBan, spoolReport, type ReportIdentity } from '@f2b-central/core/report/report-ban'
import { summarizeOutcome } from '@f2b-central/core/report/report-summary'
import { parseAdd2dbArgs, USAGE } from './args.js'
import { reportLines } from './report-lines.js'

// Beyond the database deadline: whatever happens, fail2ban's action thread gets its answer.
const BACKSTOP_EXTRA_MS = 2000
// The longest a wake-up over MQTT (notify.mqtt) waits on the broker: connect, publish, PUBACK.
const NOTIFY_BOUND_MS = 100

async function main(argv: string[], report: ReportIdentity): Promise<ExitCode> {
  const args = parseAdd2dbArgs(argv)
  if (args.help) {
    process.stdout.write(`${USAGE}\n`)
    return ExitCode.Ok
  }
  const parsed = parseBanReport({ ip: args.ip ?? '', jail: args.jail ?? '', protocol: args.protocol, port: args.port, bantime: args.bantime })
  const config = loadConfig({ path: args.config })
  const ban = { ...parsed, bantime: parsed.bantime ?? config.bans.defaultBantime }
  setTimeout(() => spoolAndExit(config, ban, report), config.database.timeoutMs + BACKSTOP_EXTRA_MS).unref()
  const outcome = await reportBan(config, ban, report)
  const { lines, code } = reportLines(parsed.ip, summarizeOutcome(outcome, config))
  for (const line of lines) process.stderr.write(`${line}\n`)
  // Committed: wake the fleet's daemons. A held ban is applied by nobody yet, so nobody is woken.
  if (outcome.kind === 'stored' && !outcome.held) {
    const notifier = await openNotifier(config, { mode: 'once', boundMs: NOTIFY_BOUND_MS, log: { warn: (line) => process.stderr.write(`add2db: warning: ${line}\n`) } })
    await notifier.bansChanged(outcome.banId)
  }
  return code
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

/**
 * Run add2db and exit. `report`: the identity the fast path already gave this report (its
 * key), when it tried the daemon first: a daemon that stored it after all makes this a no-op.
 */
export function runAdd2db(argv: string[], report: ReportIdentity = newReportIdentity()): void {
  main(argv, report).then(
    (code) => exit(code),
    (err: unknown) => exit(err instanceof F2bError ? err.exitCode : ExitCode.Failure, `add2db: ${describeError(err)}`),
  )
}
