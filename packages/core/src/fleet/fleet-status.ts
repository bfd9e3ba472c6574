import type { CentralDb } from '../db/db-adapter.js'
import { readDatabaseNow } from '../db/queries/clock.js'
import { listHeldBans, type HeldBans } from '../db/queries/held-bans.js'
import { countPendingByHost, countRecentErrorsByHost, listHosts, pendingErrorsByHost, readSequence } from '../db/queries/host-health.js'
import { fromDbTime } from '../time/db-time.js'

/** One host's health as `f2b-central status` shows it. Times are ISO 8601 UTC. */
export interface HostHealth {
  readonly name: string
  readonly lastSeen: string
  /** Seconds between last_seen and the database's now. */
  readonly secondsSinceSeen: number
  /** Bans this host has not decided yet: stamped after its cursor or unstamped, without a decided status, plus its status-0 rows. */
  readonly pending: number
  /** Report time of the oldest pending ban, null when nothing is pending. */
  readonly oldestPendingAt: string | null
  readonly oldestPendingSeconds: number | null
  /** Of the pending bans, those a temporary local failure kept pending (retried each poll). */
  readonly pendingWithErrors: number
  /** The latest such failure (a full disk, fail2ban not answering), null when there is none. */
  readonly latestPendingError: { readonly error: string; readonly at: string; readonly seconds: number } | null
  /** Status-3 rows updated within the last day. */
  readonly errorsLastDay: number
  /** Not seen for longer than the stale threshold. */
  readonly stale: boolean
  /**
   * Its cursor is past the last stamp handed out: it would skip every ban stamped until the
   * sequence catches up (a cursor or sequence written by hand; the host routines forbid it).
   */
  readonly cursorAhead: boolean
  /** Seen recently, yet a ban has waited for it longer than the stale threshold: alive, but not applying. */
  readonly stalled: boolean
  /**
   * Its kernel sets (readdb's firewall mode): the last resync, the entries the sets held, the
   * entries it had to change (drift) and the drift of every resync so far. Absent on hosts
   * that feed no set.
   */
  readonly firewall?: {
    readonly backend: string
    readonly resyncedAt: string
    readonly secondsSinceResync: number
    readonly entries: number
    readonly drift: number
    readonly driftTotal: number
  }
}

export interface FleetStatus {
  /** The database's clock when the status was read. */
  readonly now: string
  readonly staleAfterSeconds: number
  readonly hosts: readonly HostHealth[]
  readonly staleHosts: number
  readonly hostsWithErrors: number
  /** Hosts with bans kept pending by a local failure. */
  readonly hostsRetrying: number
  /** Hosts whose cursor is ahead of the sequence, or that are stalled. */
  readonly stuckHosts: number
  /** Bans held past their reporter's flood limit, waiting for an operator (`bans release` / `bans drop`). */
  readonly held: readonly HeldBans[]
  /**
   * No host stale, stuck, retrying after a local failure or with errors in the last day. Held
   * bans alone do not make it unhealthy: they are stored, and listed.
   */
  readonly healthy: boolean
}

export interface ReadFleetStatusOptions {
  /** A host not seen for longer than this is stale; `status` defaults it to 5 minutes. */
  readonly staleAfterSeconds: number
}

const DAY = 86400

interface Tally {
  n: number
  oldest: string | null
}

/**
 * The fleet at a glance: every registered host with when it was last seen, what it still
 * has to decide (and what a local failure keeps pending) and its recent errors (grouped queries whose cost follows what is pending,
 * not the size of the history: see host-health.ts).
 */
export async function readFleetStatus(central: CentralDb, options: ReadFleetStatusOptions): Promise<FleetStatus> {
  const now = await readDatabaseNow(central)
  const hosts = await listHosts(central)
  const pending = new Map<number, Tally>()
  for (const r of await countPendingByHost(central)) {
    const t = pending.get(r.hostId) ?? { n: 0, oldest: null }
    t.n += r.n
    if (r.oldest !== null && (t.oldest === null || fromDbTime(r.oldest) < fromDbTime(t.oldest))) t.oldest = r.oldest
    pending.set(r.hostId, t)
  }
  const errorCount = await countRecentErrorsByHost(central, DAY)
  const pendingErrors = await pendingErrorsByHost(central)
  const sequence = await readSequence(central)
  const held = (await listHeldBans(central)).map((h) => ({ ...h, since: fromDbTime(h.since).toISOString(), newest: fromDbTime(h.newest).toISOString() }))
  const ageOf = (text: string) => Math.max(0, (now.getTime() - fromDbTime(text).getTime()) / 1000)

  const health = hosts.map((h): HostHealth => {
    const p = pending.get(h.id) ?? { n: 0, oldest: null }
    const secondsSinceSeen = ageOf(h.lastSeen)
    const failing = pendingErrors.get(h.id)
    return {
      name: h.name,
      lastSeen: fromDbTime(h.lastSeen).toISOString(),
      secondsSinceSeen,
      pending: p.n,
      oldestPendingAt: p.oldest === null ? null : fromDbTime(p.oldest).toISOString(),
      oldestPendingSeconds: p.oldest === null ? null : ageOf(p.oldest),
      pendingWithErrors: failing?.n ?? 0,
      latestPendingError: failing ? { error: failing.latestError, at: fromDbTime(failing.latestAt).toISOString(), seconds: ageOf(failing.latestAt) } : null,
      errorsLastDay: errorCount.get(h.id) ?? 0,
      stale: secondsSinceSeen > options.staleAfterSeconds,
      cursorAhead: h.cursorSeq > sequence,
      stalled: secondsSinceSeen <= options.staleAfterSeconds && p.oldest !== null && ageOf(p.oldest) > options.staleAfterSeconds,
      ...(h.firewall ? { firewall: { ...h.firewall, resyncedAt: fromDbTime(h.firewall.resyncedAt).toISOString(), secondsSinceResync: ageOf(h.firewall.resyncedAt) } } : {}),
    }
  })
  const staleHosts = health.filter((h) => h.stale).length
  const hostsWithErrors = health.filter((h) => h.errorsLastDay > 0).length
  const hostsRetrying = health.filter((h) => h.pendingWithErrors > 0).length
  const stuckHosts = health.filter((h) => h.cursorAhead || h.stalled).length
  return {
    now: now.toISOString(),
    staleAfterSeconds: options.staleAfterSeconds,
    hosts: health,
    staleHosts,
    hostsWithErrors,
    hostsRetrying,
    stuckHosts,
    held,
    healthy: staleHosts === 0 && hostsWithErrors === 0 && hostsRetrying === 0 && stuckHosts === 0,
  }
}
