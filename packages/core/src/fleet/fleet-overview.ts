import type { CentralDb } from '../db/db-adapter.js'
import { countActiveBansByJail, countReportsPerHour } from '../db/queries/ban-counts.js'
import { listRecentErrorReasons } from '../db/queries/host-errors.js'
import { dbTimeToIso, toDbTime } from '../time/db-time.js'
import { listActiveBans, type BanList } from './ban-list.js'
import { readFleetStatus, type FleetStatus } from './fleet-status.js'

const HOUR_MS = 3600_000

/** Bans reported per hour and jail over the last day: the status page's chart. */
export interface HourlyBans {
  /** The start of each hour (ISO 8601 UTC), oldest first; the last is the current hour. */
  readonly hours: readonly string[]
  /** Each jail's count per hour (aligned with `hours`), the jail with the most bans first. */
  readonly jails: readonly { readonly jail: string; readonly counts: readonly number[]; readonly total: number }[]
}

/** One host's recent errors for one reason. Times are ISO 8601 UTC. */
export interface ErrorReason {
  readonly host: string
  readonly error: string | null
  readonly count: number
  readonly last: string
  readonly example: string
}

/** Everything the status page shows, read at one moment. */
export interface FleetOverview {
  /** Hosts, pending, errors, stale and stuck hosts, held bans (`f2b-central status`). */
  readonly status: FleetStatus
  readonly hourly: HourlyBans
  /** The newest active bans (held ones apart: `status.held`), each with how many hosts applied it. */
  readonly newest: BanList
  /** Errors of the last day by host and reason, the latest first. */
  readonly errors: readonly ErrorReason[]
  /** Active, unheld bans per jail, the most first. */
  readonly activeByJail: readonly { readonly jail: string; readonly n: number }[]
}

export interface FleetOverviewOptions {
  readonly staleAfterSeconds: number
  /** Newest bans shown. Default 20. */
  readonly newest?: number
  /** Error reasons shown. Default 20. */
  readonly errors?: number
}

/**
 * The fleet for the status page: `status`'s view plus the last day's bans per hour and jail,
 * the newest bans and the errors with their reasons. Every query is bounded by a time window
 * or a limit, so the page costs the same whatever the history holds.
 */
export async function readFleetOverview(central: CentralDb, options: FleetOverviewOptions): Promise<FleetOverview> {
  const status = await readFleetStatus(central, { staleAfterSeconds: options.staleAfterSeconds })
  const now = Date.parse(status.now)
  const firstHour = Math.floor(now / HOUR_MS) * HOUR_MS - 23 * HOUR_MS
  const hours = Array.from({ length: 24 }, (_, i) => new Date(firstHour + i * HOUR_MS).toISOString())
  const perJail = new Map<string, number[]>()
  for (const r of await countReportsPerHour(central, toDbTime(new Date(firstHour)))) {
    const i = Math.round((Date.parse(`${r.hour.replace(' ', 'T')}:00:00Z`) - firstHour) / HOUR_MS)
    if (!(i >= 0 && i < 24)) continue
    const counts = perJail.get(r.jail) ?? new Array<number>(24).fill(0)
    counts[i] = (counts[i] ?? 0) + r.n
    perJail.set(r.jail, counts)
  }
  const jails = [...perJail].map(([jail, counts]) => ({ jail, counts, total: counts.reduce((a, b) => a + b, 0) })).sort((a, b) => b.total - a.total || (a.jail < b.jail ? -1 : 1))
  const newest = await listActiveBans(central, { limit: options.newest ?? 20, unheldOnly: true })
  const errors = (await listRecentErrorReasons(central, toDbTime(new Date(now - 24 * HOUR_MS)), options.errors ?? 20)).map((e) => ({ ...e, last: dbTimeToIso(e.last) ?? '' }))
  const activeByJail = (await countActiveBansByJail(central)).sort((a, b) => b.n - a.n || (a.jail < b.jail ? -1 : 1))
  return { status, hourly: { hours, jails }, newest, errors, activeByJail }
}
