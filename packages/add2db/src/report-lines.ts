import { ExitCode } from '@f2b-central/core/exit-codes'
import type { ReportSummary } from '@f2b-central/core/report/handover/protocol'

/**
 * What add2db prints and exits with for a report, on either path (stored by itself or by the
 * daemon): fail2ban logs what an action prints, so only what an admin should see.
 */
export function reportLines(ip: string, summary: ReportSummary): { lines: string[]; code: ExitCode } {
  const lines: string[] = []
  if (summary.kind === 'allowlisted') lines.push(`add2db: ${ip} is allowlisted (${summary.by}); not reported`)
  if (summary.kind === 'stored' && summary.held) {
    lines.push(
      `add2db: warning: ${ip} stored but held: ${summary.host} is past the fleet's flood limit; other hosts apply it once an operator runs \`f2b-central bans release --reporter ${summary.host}\``,
    )
  }
  if (summary.kind === 'stored' && summary.spoolProblem) lines.push(`add2db: warning: ban stored; not shipped from the spool: ${summary.spoolProblem}`)
  if (summary.kind === 'spooled') {
    lines.push(
      `add2db: ${summary.needsAdmin ? 'error' : 'warning'}: ban kept in the local spool (${summary.path}): ${summary.reason}; the next add2db or readdb that reaches the database ships it`,
    )
    return { lines, code: summary.needsAdmin ? ExitCode.Failure : ExitCode.Ok }
  }
  return { lines, code: ExitCode.Ok }
}
