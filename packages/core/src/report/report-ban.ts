import type { BanReport } from '../ban/ban-report.js'
import type { Config } from '../config/load-config.js'
import { asDatabaseError, isNoAnswer } from '../db/database-error.js'
import type { CentralDb } from '../db/db-adapter.js'
import { assertSchemaCurrent } from '../db/schema-version.js'
import { describeTarget, openDatabase } from '../db/open-database.js'
import { loadAllowlist } from '../db/queries/allowlist.js'
import { storeReport } from '../db/queries/bans.js'
import { withDeadline } from '../deadline.js'
import { withRetry } from '../db/retry.js'
import { DatabaseError, describeError, F2bError } from '../errors.js'
import { resolveInfrastructure } from '../infrastructure.js'
import { readMachineId } from '../machine-id.js'
import { noteSilence, probeIntervalMs, skipSilentDatabase } from './database-silence.js'
import { shipSpool } from './ship-spool.js'
import { newReportKey, spoolBan } from './spool.js'

/** What became of a reported ban. */
export type ReportOutcome =
  | { readonly kind: 'stored'; readonly banId: number; readonly held: boolean; readonly shippedFromSpool: number; readonly spoolProblem: string | undefined }
  | { readonly kind: 'allowlisted'; readonly by: 'config' | 'central allowlist' | 'infrastructure: host.neverBan or the database server' }
  | { readonly kind: 'spooled'; readonly path: string; readonly reason: string; readonly cause: unknown }

/**
 * What add2db does: store one validated ban as this host's report within the configured
 * deadline, then ship whatever an earlier run had to spool. When the database cannot be
 * reached (or the deadline passes), the ban goes to the local spool instead: a ban is never
 * lost because the database is down. Allowlisted addresses are not stored at all; past the
 * fleet's flood limit the ban is stored held (never refused: no ban is lost to a limit).
 *
 * A run that waited the whole deadline in vain leaves a note in the spool
 * (database-silence.ts); while it is fresh, the runs after it spool at once, without the
 * wait, except one now and then that tries the database again.
 *
 * `open`: a connection the caller keeps (readdb's daemon, taking add2db's hand-over): used
 * instead of a new one, and left open.
 */
export async function reportBan(config: Config, ban: BanReport, report: ReportIdentity = newReportIdentity(), open?: CentralDb): Promise<ReportOutcome> {
  if (config.allowlist.has(ban.ip)) return { kind: 'allowlisted', by: 'config' }
  if (config.neverBan.has(ban.ip)) return { kind: 'allowlisted', by: 'infrastructure: host.neverBan or the database server' }
  // Looked up while the database connects: a name in database.url costs no extra wait.
  const infrastructure = resolveInfrastructure(config)
  const { key, reportedAt } = report
  const where = describeTarget(config.database.target)
  const timeoutMs = config.database.timeoutMs
  const silence = skipSilentDatabase(config.spool.dir, timeoutMs, new Date(), `add2db is trying ${where} again`)
  if (silence !== undefined) {
    const cause = new DatabaseError(`database ${where} gave no answer within ${timeoutMs / 1000} s at ${silence.toISOString()}; spooled without waiting for it again`, {
      hint: `an add2db tries it again ${probeIntervalMs(timeoutMs) / 1000} s after that, and a readdb or add2db that reaches it ends this at once`,
    })
    return { kind: 'spooled', path: spoolReport(config, ban, report), reason: describeFailure(cause), cause }
  }
  let central: CentralDb | undefined
  try {
    const db = open ?? (await openDatabase(config.database.target, { timeoutMs, statementTimeoutMs: timeoutMs, connectionLimit: 1 }))
    // Only a connection of this run's own is closed.
    if (db !== open) central = db
    // Run again whole when the server fails under it (the next server of database.url then
    // answers): the report key makes a second store of the same ban a no-op.
    const work = withRetry(
      db.adapter,
      async (): Promise<ReportOutcome> => {
        if ((await infrastructure).has(ban.ip)) return { kind: 'allowlisted', by: 'infrastructure: host.neverBan or the database server' }
        await assertSchemaCurrent(db)
        if ((await loadAllowlist(db.db, { fleetAddresses: config.host.allowFleetAddresses })).networks.has(ban.ip)) return { kind: 'allowlisted', by: 'central allowlist' }
        const { banId, held } = await storeReport(db, config.host.name, readMachineId(), ban, { reportKey: key, ageMs: Date.now() - reportedAt.getTime() })
        const { shipped, problem } = await shipSpool(db, config.spool.dir)
        return { kind: 'stored', banId, held, shippedFromSpool: shipped, spoolProblem: problem }
      },
      3,
    )
    // However many servers are tried, fail2ban waits at most the deadline; then the ban is spooled.
    return await withDeadline(work, timeoutMs, `storing the ban in ${where}`)
  } catch (err) {
    const cause = asDatabaseError(err, where)
    const reason = describeFailure(cause)
    let path: string
    try {
      path = spoolReport(config, ban, report)
    } catch (spoolErr) {
      // Nowhere left to keep it (a refused spool directory is never written through): say both reasons.
      throw new F2bError(`gave up: the ban of ${ban.ip} was not stored (${reason}) and the spool failed: ${describeFailure(spoolErr)}`, { cause: spoolErr })
    }
    // Silent, not refused: the whole deadline went by (our own, a connect timeout, a busy
    // SQLite file). A refusal comes at once and costs the next run nothing.
    if (isNoAnswer(err)) noteDatabaseSilent(config, reason)
    return { kind: 'spooled', path, reason, cause }
  } finally {
    void central?.close().catch(() => undefined)
  }
}

/** Leave the note that the database did not answer (also add2db's last-resort timer). Best effort: the ban is in the spool either way. */
export function noteDatabaseSilent(config: Config, what: string): void {
  try {
    noteSilence(config.spool.dir, new Date(), what)
  } catch {
    // the next add2db waits once more
  }
}

/** The identity a report keeps wherever it ends up: its idempotency key and first-seen time. */
export interface ReportIdentity {
  readonly key: string
  readonly reportedAt: Date
}

export function newReportIdentity(): ReportIdentity {
  return { key: newReportKey(), reportedAt: new Date() }
}

/**
 * Keep a report in the spool. Also what add2db's last-resort timer does: if the database
 * insert finishes after all, the shared key makes the spooled copy a no-op when shipped.
 */
export function spoolReport(config: Config, ban: BanReport, report: ReportIdentity): string {
  return spoolBan(config.spool.dir, { ...ban, key: report.key, host: config.host.name, reportedAt: report.reportedAt.toISOString() }, config.spool.maxEntries)
}

function describeFailure(err: unknown): string {
  if (err instanceof F2bError) return describeError(err)
  return err instanceof Error ? err.message : String(err)
}
