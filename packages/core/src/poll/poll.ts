import { isCanonicalIp } from '../ban/ip-address.js'
import { UnsafeFileError } from '../checked-file.js'
import { describeError } from '../errors.js'
import { stillBanned } from '../db/queries/active-addresses.js'
import type { CentralDb } from '../db/db-adapter.js'
import { advanceCursor, registerHost, type HostRow } from '../db/queries/hosts.js'
import { fetchBansAfterCursor, fetchRetries, type PendingBan } from '../db/queries/pending.js'
import { stampCommittedBans } from '../db/queries/sequence.js'
import { recordDecisions, type StatusWrite } from '../db/queries/statuses.js'
import { findExpiredApplied, markSwept, stillBannedAt, type ExpiredApplied } from '../db/queries/expired-applied.js'
import { fromDbTime } from '../time/db-time.js'
import { withRetry } from '../db/retry.js'
import type { BanStateReader } from '../fail2ban/ban-state.js'
import { BanStatus } from '../schema/ban-status.js'
import { appendLines } from '../fail2ban/shared-log.js'
import type { SharedJailCheck } from '../fail2ban/shared-jail-check.js'
import { decide, owesLocalUnban, type DecideInput, type Decision } from './decide.js'
import type { Network, NetworkSet } from '../ban/network.js'
import type { FirewallApplier } from '../firewall/firewall-applier.js'
import { loadAllowlist, registerHostAddresses, type LoadedAllowlist } from '../db/queries/allowlist.js'

export interface PollOptions {
  readonly central: CentralDb
  readonly hostName: string
  readonly machineId: string | null
  readonly banState: BanStateReader
  readonly sharedLog: string
  /** The jail that follows the shared log. Unset: no local ban counts as the shared jail's (tests of the poll alone). */
  readonly sharedJail?: string
  /** Jails besides the shared one that ban on every port (`fail2ban.allPortsJails`). */
  readonly allPortsJails?: readonly string[]
  readonly recentBanFraction: number
  readonly batchSize: number
  /** Clock for log-line times and local remaining ban time; injectable for tests. */
  readonly now?: () => Date
  /** The config's own allowlist, on top of the central one. */
  readonly localAllowlist?: { has(ip: string): boolean }
  /**
   * Asked once per poll, before the first line is appended (never on a poll with nothing to
   * append): lines go to the shared log only while fail2ban answers and runs the shared jail;
   * otherwise the bans stay pending with the reason. Unset: not asked (tests of the poll alone).
   */
  readonly checkSharedJail?: SharedJailCheck
  /**
   * An operator's unban: takes addresses out of the shared jail (fail2ban-client `set JAIL
   * unbanip …`), or out of every jail with `fail2ban.unbanAllJails`.
   */
  readonly unban?: (ips: readonly string[]) => Promise<void>
  /**
   * The end of a fleet ban: takes addresses out of the shared jail only. Another jail's ban
   * (a week-long recidive) is the host's own, and never ends with the fleet's.
   */
  readonly unbanExpired?: (ips: readonly string[]) => Promise<void>
  /** Carried from poll to poll by a daemon: the central allowlist is re-read only when it changed. */
  readonly state?: PollState
  /**
   * End local bans with the fleet's: take addresses whose fleet ban ran out out of the shared
   * jail (through `unbanExpired`), because fail2ban cannot take a ban time from a log line.
   */
  readonly endWithFleetBan?: boolean
  /** Register these (this machine's addresses) with the fleet and count every registered host's as allowlisted. */
  readonly fleetAddresses?: readonly Network[]
  /**
   * Hands the addresses whose line a batch just appended straight to the shared jail (`set
   * JAIL banip IP …`, one request), so fail2ban bans now instead of when its file watcher
   * reads the line. The line stays the durable path (it survives a fail2ban restart, and
   * finds the address already banned): a failure here is reported, and changes no status.
   */
  readonly handOver?: (ips: readonly string[]) => Promise<void>
  /**
   * Told, after each batch is committed, the addresses the fleet now bans here (status 1 or 2,
   * and this host's own reports) and those it no longer does (unbanned, expired): the vallumd
   * topics (notify.vallumd). Never throws.
   */
  readonly announce?: (change: { readonly banned: readonly string[]; readonly ended: readonly string[] }) => Promise<void>
  /** Kernel sets this host feeds (`firewall` in the config): beside the shared jail, or alone with `fail2ban: false`. */
  readonly firewall?: FirewallApplier
  /** false: this host has no fail2ban (firewall mode alone): no local ban state read, no line written. Default true. */
  readonly fail2ban?: boolean
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
  /** Addresses handed straight to the shared jail (PollOptions.handOver). */
  handedOver: number
  /** Why the hand-over failed (the lines were written: fail2ban bans them when it reads them). */
  handOverProblem?: string
  /**
   * A local problem that kept bans pending this poll (fail2ban not answering, the shared jail
   * stopped, the shared log not writable, an unban that failed): they are retried next poll,
   * and the error is stored with each.
   */
  localProblem?: string
  /** A batch the firewall refused as a change made a whole resync instead: the drift it found. */
  resynced?: number
  /** Something the firewall mode could not do that keeps no ban pending (killConnections failed). */
  firewallWarning?: string
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
  const result: PollResult = {
    host: options.hostName,
    examined: 0,
    added: 0,
    alreadyBanned: 0,
    keptPending: 0,
    allowlisted: 0,
    removed: 0,
    endedLocally: 0,
    expired: 0,
    errors: 0,
    linesWritten: 0,
    handedOver: 0,
  }
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
  const context: BatchContext = { at: now(), allowlist, fleet: fleetList, written: new Set<string>() }
  // This host's retries (status 0) first, in pages by ban id. They are at or below the
  // cursor (or revoked and stamped again, which the fetch below meets), so they never move it.
  for (let afterId = 0; ; ) {
    const retries = await fetchRetries(central.db, central.adapter, host.id, afterId, options.batchSize)
    if (retries.length > 0) await applyBatch(options, host, retries, context, host.cursorSeq, result)
    const last = retries[retries.length - 1]
    if (!last || retries.length < options.batchSize) break
    afterId = last.id
  }
  let cursor = host.cursorSeq
  for (;;) {
    const fresh = await fetchBansAfterCursor(central.db, central.adapter, host.id, cursor, options.batchSize)
    const last = fresh[fresh.length - 1]
    if (!last) break
    const batch = fresh.filter(needsDecision)
    // Bans that needed nothing (the reporter's own, already decided) still move the cursor.
    if (batch.length > 0) await applyBatch(options, host, batch, context, last.seq, result)
    else await advanceCursor(central, host, last.seq)
    // This host's own reports are banned here by the jail that reported them: announced too.
    const own = fresh.filter((b) => b.reporter === host.name && b.status === BanStatus.Added && !b.expired && !b.revoked && isCanonicalIp(b.ip) && !allowlist.has(b.ip))
    if (own.length > 0) await options.announce?.({ banned: [...new Set(own.map((b) => b.ip))], ended: [] })
    cursor = last.seq
    if (fresh.length < options.batchSize) break
  }
  if (options.endWithFleetBan && options.unbanExpired) await endExpiredLocally(options, options.unbanExpired, host, result)
  return result
}

// Re-reading an empty range is cheap, so the sweep mark is written only when something was
// taken out or the range has grown past a few minutes: an idle poll writes nothing extra.
// It moves only after the unban worked, so a failure is retried next poll.
const SWEEP_MARK_MAX_AGE_MS = 10 * 60 * 1000
// The sweep reads this many expired bans per query, and hands them to fail2ban-client in
// calls of at most 500 addresses (Fail2banClient.runWithAddresses).
const SWEEP_PAGE = 1000
// After this many in one poll it stops at the next point the mark can move to, and the next
// poll goes on from there: 60,000 bans that expire together never make one long poll that
// holds back the bans arriving meanwhile.
const SWEEP_PER_POLL = 10_000

/**
 * Take out of the shared jail the addresses whose fleet ban ran out since the sweep mark,
 * page by page in (expires_at, id) order. The mark can only say "everything that expired up
 * to T is out", so after each page it moves to the last expiry time the page completed
 * (rows expiring at the page's last time may continue on the next page).
 */
async function endExpiredLocally(options: PollOptions, unban: (ips: readonly string[]) => Promise<void>, host: HostRow, result: PollResult): Promise<void> {
  const { central } = options
  const until = host.lastSeen
  if (host.sweptUntil === null) {
    await markSwept(central, host, until)
    return
  }
  const since = host.sweptUntil
  const ended = new Set<string>()
  let marked = since
  let after: ExpiredApplied | undefined
  let read = 0
  for (;;) {
    const page = await findExpiredApplied(central.db, host.id, { since, until, after }, SWEEP_PAGE)
    const last = page[page.length - 1]
    const full = last !== undefined && page.length === SWEEP_PAGE
    const complete = full ? lastTimeBefore(page, last.expiresAt) : undefined
    // Past the budget: end what this page completes, leave its last expiry time to the next poll.
    const stopping = complete !== undefined && read + page.length >= SWEEP_PER_POLL
    const taken = stopping ? page.filter((r) => r.expiresAt !== last?.expiresAt) : page
    const candidates = [...new Set(taken.map((r) => r.ip))].filter((ip) => isCanonicalIp(ip) && !ended.has(ip))
    const stillActive = candidates.length > 0 ? await stillBannedAt(central.db, central.adapter, candidates, until) : new Set<string>()
    const ips = candidates.filter((ip) => !stillActive.has(ip))
    if (ips.length > 0) await unban(ips)
    if (ips.length > 0) await options.announce?.({ banned: [], ended: ips })
    for (const ip of ips) ended.add(ip)
    result.endedLocally += ips.length
    if (!full) break
    if (complete !== undefined) {
      await markSwept(central, host, complete)
      marked = complete
      if (stopping) return
    }
    after = last
    read += page.length
  }
  if (ended.size > 0 || marked !== since || fromDbTime(until).getTime() - fromDbTime(since).getTime() > SWEEP_MARK_MAX_AGE_MS) await markSwept(central, host, until)
}

/** The latest expiry time on the page before `time` (every ban expiring then is done). */
function lastTimeBefore(page: readonly ExpiredApplied[], time: string): string | undefined {
  for (let i = page.length - 1; i >= 0; i--) {
    const at = page[i]?.expiresAt
    if (at !== undefined && at !== time) return at
  }
  return undefined
}

// New or retried bans, and unbans of bans this host had applied or already held.
function needsDecision(ban: PendingBan): boolean {
  if (ban.status === null || ban.status === BanStatus.Pending) return true
  return ban.revoked && (ban.status === BanStatus.Added || ban.status === BanStatus.AlreadyBanned)
}

interface BatchContext {
  readonly at: Date
  readonly allowlist: DecideInput['allowlist']
  /** The central allowlist with the fleet's own addresses (the firewall mode checks networks against it). */
  readonly fleet: NetworkSet
  /** Addresses this poll wrote a line for. */
  readonly written: Set<string>
  /** The shared jail check's answer, once asked this poll. */
  sharedJail?: { problem: string | null }
}

/**
 * Decide one batch, apply it locally, and record its statuses with the cursor moved to
 * `cursorSeq` in one transaction. A temporary local failure (fail2ban not answering or the
 * shared jail stopped, the shared log cannot be written, an unban fails) keeps the bans it
 * touched pending, with the error, for the next poll: 3 is only for values that can never
 * be applied.
 */
async function applyBatch(options: PollOptions, host: HostRow, batch: PendingBan[], context: BatchContext, cursorSeq: number, result: PollResult): Promise<void> {
  const { at, allowlist, written } = context
  const { central } = options
  if (options.firewall && options.fail2ban === false) {
    const applied = await options.firewall.decideAndApply(batch, context.fleet, at)
    if (applied.problem !== undefined) result.localProblem = applied.problem
    if (applied.resync) result.resynced = applied.resync.drift
    if (applied.connectionsProblem !== undefined) result.firewallWarning = applied.connectionsProblem
    const writes = applied.decisions.filter(changesRow).map((d): StatusWrite => ({ banId: d.ban.id, status: d.status, error: d.error, previous: d.ban.status }))
    await recordDecisions(central, host, writes, cursorSeq)
    tally(result, applied.decisions)
    // No local unban here: an operator's unban ends the ban on this host as the set loses it.
    await announce(
      options,
      applied.decisions,
      applied.decisions.filter((d) => d.status === BanStatus.Removed).map((d) => d.ban.ip),
    )
    return
  }
  const ips = [...new Set(batch.filter((b) => !b.expired && !b.revoked && isCanonicalIp(b.ip)).map((b) => b.ip))]
  const local = await options.banState.read(ips, Math.floor(at.getTime() / 1000))
  // decide only adds to `written`, and a Set keeps insertion order: this batch's addresses are
  // the ones past this count. (Copying the set instead cost a catch-up of 100,000 bans 50 MB.)
  const writtenBefore = written.size
  const decided = decide({
    bans: batch,
    local,
    sharedJail: options.sharedJail,
    allPortsJails: options.allPortsJails,
    recentBanFraction: options.recentBanFraction,
    now: at,
    allowlist,
    written,
  })
  let { decisions } = decided
  const { lines } = decided
  let unbanned: string[] = []
  ;({ decisions, unbanned } = await unbanLocally(options, decided.unban, decisions, result))
  const notAppended = (error: string) => {
    // Only the addresses whose line this batch was to write; an earlier batch's line stands.
    const unwritten = new Set([...written].slice(writtenBefore))
    for (const ip of unwritten) written.delete(ip)
    decisions = keepPending(decisions, (d) => d.status === BanStatus.Added && unwritten.has(d.ban.ip), error)
    result.localProblem = error
  }
  const problem = lines.length > 0 ? await sharedJailProblem(options, context) : null
  if (problem !== null) notAppended(problem)
  else {
    try {
      appendLines(options.sharedLog, lines)
      result.linesWritten += lines.length
      await handOver(options, [...written].slice(writtenBefore), result)
    } catch (err) {
      // A refused file (a link, loose mode bits) says so itself, with the fix.
      notAppended(err instanceof UnsafeFileError ? describeError(err) : `cannot append to shared log ${options.sharedLog}: ${(err as Error).message}`)
    }
  }
  if (options.firewall) {
    const applied = await options.firewall.applyAlongside(decisions, context.fleet, at)
    decisions = applied.decisions
    if (applied.problem !== undefined) result.localProblem = applied.problem
    if (applied.resync) result.resynced = applied.resync.drift
    if (applied.connectionsProblem !== undefined) result.firewallWarning = applied.connectionsProblem
  }
  const writes = decisions.filter(changesRow).map((d): StatusWrite => ({ banId: d.ban.id, status: d.status, error: d.error, previous: d.ban.status }))
  await recordDecisions(central, host, writes, cursorSeq)
  tally(result, decisions)
  await announce(options, decisions, unbanned)
}

// The vallumd topics, once the batch is committed.
async function announce(options: PollOptions, decisions: readonly Decision[], ended: readonly string[]): Promise<void> {
  if (!options.announce) return
  const banned = decisions.filter((d) => d.status === BanStatus.Added || d.status === BanStatus.AlreadyBanned).map((d) => d.ban.ip)
  if (banned.length > 0 || ended.length > 0) await options.announce({ banned: [...new Set(banned)], ended: [...new Set(ended)] })
}

// After the lines are on disk: a failure costs the speed-up, not the ban.
async function handOver(options: PollOptions, ips: readonly string[], result: PollResult): Promise<void> {
  if (!options.handOver || ips.length === 0) return
  try {
    await options.handOver(ips)
    result.handedOver += ips.length
  } catch (err) {
    result.handOverProblem = `cannot hand bans to the shared jail (its log line bans them when fail2ban reads it): ${(err as Error).message}`
  }
}

async function sharedJailProblem(options: PollOptions, context: BatchContext): Promise<string | null> {
  const check = options.checkSharedJail
  if (!check) return null
  if (!context.sharedJail) {
    const problem: string | null = await check()
    context.sharedJail = { problem }
  }
  return context.sharedJail.problem
}

// An unban that fails keeps the ban pending with the error: decide unbans a revoked ban
// again while its row is 0 with an error, so the next poll retries it.
async function unbanLocally(options: PollOptions, candidates: string[], decisions: Decision[], result: PollResult): Promise<{ decisions: Decision[]; unbanned: string[] }> {
  if (candidates.length === 0 || !options.unban) return { decisions, unbanned: [] }
  // The revoked ban is over (4), but the address stays banned here while another ban of it is in force.
  const keep = await stillBanned(options.central, candidates)
  const ips = candidates.filter((ip) => !keep.has(ip))
  if (ips.length === 0) return { decisions, unbanned: [] }
  try {
    await options.unban(ips)
    return { decisions, unbanned: ips }
  } catch (err) {
    const error = `cannot unban locally: ${(err as Error).message}`
    result.localProblem = error
    const failed = new Set(ips)
    return { decisions: keepPending(decisions, (d) => d.status === BanStatus.Removed && failed.has(d.ban.ip) && owesLocalUnban(d.ban), error), unbanned: [] }
  }
}

function keepPending(decisions: Decision[], which: (d: Decision) => boolean, error: string): Decision[] {
  return decisions.map((d) => (which(d) ? { ...d, status: BanStatus.Pending, error } : d))
}

// A row whose status and error stay as they are is not written: no churn on updated_at.
function changesRow(d: Decision): boolean {
  return d.ban.status !== d.status || (d.ban.error ?? null) !== d.error
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
