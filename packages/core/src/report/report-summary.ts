import type { Config } from '../config/load-config.js'
import { DatabaseAccessError, SchemaError } from '../errors.js'
import type { ReportSummary } from './handover/protocol.js'
import type { ReportOutcome } from './report-ban.js'

/**
 * What add2db prints about a report, whoever stored it: add2db itself, or the daemon it handed
 * the report to (which sends this back over the socket). A database that is down is waited
 * out; one that needs an admin (unmigrated, newer schema, account refused, no such database)
 * is an error, though the ban is safe in the spool.
 */
export function summarizeOutcome(outcome: ReportOutcome, config: Config): ReportSummary {
  switch (outcome.kind) {
    case 'stored':
      return { kind: 'stored', banId: outcome.banId, held: outcome.held, host: config.host.name, spoolProblem: outcome.spoolProblem }
    case 'allowlisted':
      return { kind: 'allowlisted', by: outcome.by }
    case 'spooled':
      return { kind: 'spooled', path: outcome.path, reason: outcome.reason, needsAdmin: outcome.cause instanceof SchemaError || outcome.cause instanceof DatabaseAccessError }
  }
}
