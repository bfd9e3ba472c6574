import { isCanonicalIp } from '../ban/ip-address.js'
import { UnsafeFileError } from '../checked-file.js'
import { describeError } from '../errors.js'
import { stillBanned } from '../db/queries/active-addresses.js'
import type { CentralDb } from '../db/db-adapter.js'
import { advanceCursor, registerHost, type HostRow } from '../db/queries/hosts.js'
import { fetchBansAfterCursor, fetchRetries, type PendingBan } from '../db/queries/pending.js'
import { stampCommittedBans } from '../db/queries/sequence.js'
import { recordDecisions, type StatusWrite } from '../db/queries/statuses.js'
import { findExpiredApplied, markSwept } from '../db/queries/expired-applied.js'
import { fromDbTime } from '../time/db-time.js'
import { withRetry } from '../db/retry.js'
import type { BanStateReader } from '../fail2ban/ban-state.js'
import { BanStatus } from '../schema/ban-status.js'
import { appendLines } from '../fail2ban/shared-log.js'
import { decide, type DecideInput, type Decision } from './decide.js'
import type { Network } from '../ban/network.js'
import { loadAllowlist, registerHostAddresses, type LoadedAllowlist } from '../db/queries/allowlist.js'

export interface PollOptions {
  readonly central: CentralDb
  readonly hostName: string
  readonly machineId: string | null
  readonly banState: BanStateReader
  readonly sharedLog: string
  readonly recentBanFraction: number
  readonly batchSize: number
  /** Clock for log-line times and local remaining ban time; injectable for tests. */
  readonly now?: () => Date
  /** The config's own allowlist, on top of the central one. */
  readonly localAllowlist?: { has(ip: string): boolean }
  /** Takes addresses out of the shared jail (fail2ban-client `set JAIL unbanip …`). */
  readonly unban?: (ips: readonly string[]) => Promise<void>
  /** Carried from poll to poll by a daemon: the central allowlist is re-read only when it changed. */
  readonly state?: PollState
  /**
   * End local bans with the fleet's: take addresses whose fleet ban ran out out of the shared
   * jail (through `unban`), because fail2ban cannot take a ban time from a log line.
   */
  readonly endWithFleetBan?: boolean
  /** Register these (this machine's addresses) with the fleet and count every registered host's as allowlisted. */
  readonly fleetAddresses?: readonly Network[]
}

export interface PollState {
  allowlist?: LoadedAllowlist
  /** This process already registered its host's addresses. */
  addressesRegistered?: boolean
}

/** What one poll did, by status. */
export interface PollResult {
  host: string
  examined: number
  added: number
  alreadyBanned: number
  keptPending: number
  allowlisted: number
  removed: number
  /** Addresses taken out of the shared jail because their fleet ban ran out. */
  endedLocally: number
  expired: number
  errors: number
  linesWritten: number
}

/**
 * One poll: heart-beat the host, stamp newly committed bans, then in batches: fetch what is
 * new for this host (plus its retries), read local ban state for all of it at once, append
 * every line in one write, record statuses and advance the cursor in one transaction.
 *
 * Delivery is at least once with an idempotent result: if the process dies after the
 * append and before the statuses, the next poll sees the same bans, finds them banned
 * locally, and records 2 instead of writing them again.
 */
export async function pollOnce(options: PollOptions): Promise<PollResult> {
  const { central } = options
  const now = options.now ?? (() => new Date())
  const result: PollResult = { host: options.hostName, examined: 0, added: 0, alreadyBanned: 0, keptPending: 0, allowlisted: 0, removed: 0, endedLocally: 0, expired: 0, errors: 0, linesWritten: 0 }
  const host = await withRetry(central.adapter, () => registerHost(central.db, central.adapter, options.hostName, options.machineId))
  while ((await stampCommittedBans(central, options.batchSize)) === options.batchSize);

  const state = options.state ?? {}
  const fleetAddresses = options.fleetAddresses !== undefined
  if (options.fleetAddresses && !state.addressesRegistered) {
    await registerHostAddresses(central, host, options.fleetAddresses)
    state.addressesRegistered = true
  }
  state.allowlist = await loadAllowlist(central.db, { fleetAddresses }, state.allowlist)
  const fleetList = state.allowlist.networks
  const localList = options.localAllowlist
  const allowlist = { has: (ip: string) => fleetList.has(ip) || (localList?.has(ip) ?? false) }

  // One line per address per poll, even when its bans fall in different batches.
  const written = new Set<string>()
  let cursor = host.cursorSeq
  let retries = await fetchRetries(central.db, central.adapter, host.id, options.batchSize)
  for (;;) {
    const fresh = await fetchBansAfterCursor(central.db, central.adapter, host.id, cursor, options.batchSize)
    const batch = dedupeById([...retries, ...fresh.filter(needsDecision)])
    retries = []
    const applied = batch.length > 0 ? await applyBatch(options, host, batch, { at: now(), allowlist, written }, result) : cursor
    const last = fresh[fresh.length - 1]
    if (last) {
      cursor = last.seq
      // Bans that needed nothing (the reporter's own, already decided) still move the cursor.
      if (applied < cursor) await advanceCursor(central, host, cursor)
    }
    if (fresh.length < options.batchSize) break
  }
  if (options.endWithFleetBan && options.unban) await endExpiredLocally(options, host, result)
  return result
}

// Re-reading an empty range is cheap, so the sweep mark is written only when something was
// taken out or the range has grown past a few minutes: an idle poll writes nothing extra.
// It moves only after the unban worked, so a failure is retried next poll.
const SWEEP_MARK_MAX_AGE_MS = 10 * 60 * 1000

async function endExpiredLocally(options: PollOptions, host: HostRow, result: PollResult): Promise<void> {
  const { central } = options
  const until = host.lastSeen
  if (host.sweptUntil === null) {
    await markSwept(central, host, until)
    return
  }
  const ips = (await findExpiredApplied(central.db, central.adapter, host.id, host.sweptUntil, until)).filter(isCanonicalIp)
  if (ips.length > 0) await options.unban?.(ips)
  if (ips.length > 0 || fromDbTime(until).getTime() - fromDbTime(host.sweptUntil).getTime() > SWEEP_MARK_MAX_AGE_MS) await markSwept(central, host, until)
  result.endedLocally += ips.length
}

// New or retried bans, and unbans of bans this host had applied or already held.
function needsDecision(ban: PendingBan): boolean {
  if (ban.status === null || ban.status === BanStatus.Pending) return true
  return ban.revoked && (ban.status === BanStatus.Added || ban.status === BanStatus.AlreadyBanned)
}

function dedupeById(bans: PendingBan[]): PendingBan[] {
  const seen = new Map<number, PendingBan>()
  for (const b of bans) seen.set(b.id, b)
  return [...seen.values()]
}

async function applyBatch(
  options: PollOptions,
  host: HostRow,
  batch: PendingBan[],
  { at, allowlist, written }: { at: Date; allowlist: DecideInput['allowlist']; written: Set<string> },
  result: PollResult,
): Promise<number> {
  const { central } = options
  const ips = [...new Set(batch.filter((b) => !b.expired && !b.revoked && isCanonicalIp(b.ip)).map((b) => b.ip))]
  const local = await options.banState.read(ips, Math.floor(at.getTime() / 1000))
  const decided = decide({ bans: batch, local, recentBanFraction: options.recentBanFraction, now: at, allowlist, written })
  let { decisions } = decided
  const { lines } = decided
  decisions = await unbanLocally(options, decided.unban, decisions)
  try {
    appendLines(options.sharedLog, lines)
    result.linesWritten += lines.length
  } catch (err) {
    // A refused file (a link, loose mode bits) says so itself, with the fix.
    const error = err instanceof UnsafeFileError ? describeError(err) : `cannot append to shared log ${options.sharedLog}: ${(err as Error).message}`
    decisions = decisions.map((d) => (d.status === BanStatus.Added ? { ...d, status: BanStatus.Error, error } : d))
  }
  const writes = decisions.filter(changesStatus).map((d): StatusWrite => ({ banId: d.ban.id, status: d.status, error: d.error, previous: d.ban.status }))
  const maxSeq = Math.max(...batch.map((b) => b.seq))
  await recordDecisions(central, host, writes, maxSeq)
  tally(result, decisions)
  return maxSeq
}

async function unbanLocally(options: PollOptions, candidates: string[], decisions: Decision[]): Promise<Decision[]> {
  if (candidates.length === 0 || !options.unban) return decisions
  // The revoked ban is over (4), but the address stays banned here while another ban of it is in force.
  const keep = await stillBanned(options.central, candidates)
  const ips = candidates.filter((ip) => !keep.has(ip))
  if (ips.length === 0) return decisions
  try {
    await options.unban(ips)
    return decisions
  } catch (err) {
    const error = `cannot unban locally: ${(err as Error).message}`
    const failed = new Set(ips)
    return decisions.map((d) => (d.status === BanStatus.Removed && failed.has(d.ban.ip) && d.ban.status === BanStatus.Added ? { ...d, status: BanStatus.Error, error } : d))
  }
}

// A retry that stays pending keeps its row untouched: no write, no churn on updated_at.
function changesStatus(d: Decision): boolean {
  return d.ban.status !== d.status || d.status === BanStatus.Error
}

function tally(result: PollResult, decisions: readonly Decision[]): void {
  result.examined += decisions.length
  for (const d of decisions) {
    if (d.status === BanStatus.Added) result.added++
    else if (d.status === BanStatus.AlreadyBanned) result.alreadyBanned++
    else if (d.status === BanStatus.Pending) result.keptPending++
    else if (d.status === BanStatus.Expired) result.expired++
    else if (d.status === BanStatus.Allowlisted) result.allowlisted++
    else if (d.status === BanStatus.Removed) result.removed++
    else if (d.status === BanStatus.Error) result.errors++
  }
}
