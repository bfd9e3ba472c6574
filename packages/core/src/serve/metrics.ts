import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client'
import type { CentralDb } from '../db/db-adapter.js'
import { countActiveBansByJail, countReportsByHostAndJail } from '../db/queries/ban-counts.js'
import { readFleetStatus } from '../fleet/fleet-status.js'
import { toDbTime } from '../time/db-time.js'
import { printable } from './html.js'

export interface ServeMetricsOptions {
  readonly staleAfterSeconds: number
  /** A read of the fleet is used by the scrapes within this many milliseconds of it. Default 10,000 (tests: 0). */
  readonly reuseMs?: number
  /** Told when the database could not be read for a scrape (the scrape still answers, with `f2b_central_database_up 0`). */
  readonly onDatabaseError?: (err: unknown) => void
}

/** What `/metrics` answers: the fleet as read from the database at each scrape, and serve's own requests. */
export interface ServeMetrics {
  readonly contentType: string
  /** Read the fleet and render every metric (one scrape at a time: concurrent scrapes wait for each other). */
  render(): Promise<string>
  /** Count one answered request: `endpoint` is a known path or `other`, never the raw URL (bounded labels). */
  observeRequest(endpoint: string, code: number, seconds: number): void
}

/**
 * Prometheus metrics through prom-client, on a registry of serve's own (no global state).
 * The fleet's gauges are read from the database with the same queries as `f2b-central status`
 * plus the active bans per jail and the last day's reports, reset first (a removed host
 * disappears), and used by every scrape within reuseMs of the read: several Prometheus
 * servers cost one read. How long the last read took is itself a metric, so its cost
 * growing with the fleet is seen. Host and jail names are stored
 * values: a label shows one as is when it is printable ASCII, JSON-quoted otherwise.
 */
export function createServeMetrics(central: CentralDb, options: ServeMetricsOptions): ServeMetrics {
  const registry = new Registry()
  collectDefaultMetrics({ register: registry })
  const registers = [registry]
  const gauge = (name: string, help: string, labelNames: string[] = []) => new Gauge({ name, help, labelNames, registers })

  const up = gauge('f2b_central_database_up', '1 when this scrape could read the central database, else 0 (the fleet metrics are then absent).')
  const active = gauge('f2b_central_active_bans', 'Active bans (not expired, not revoked, not held) per jail: what /v1/bans.* lists, counted per ban.', ['jail'])
  const reported = gauge('f2b_central_bans_reported_24h', 'Bans reported in the last 24 hours, per reporting host and jail (held ones included).', ['host', 'jail'])
  const pending = gauge('f2b_central_host_pending_bans', 'Bans a host has not decided yet.', ['host'])
  const oldest = gauge('f2b_central_host_oldest_pending_seconds', 'Age of the oldest ban a host has not decided yet, seconds (0: none pending).', ['host'])
  const errors = gauge('f2b_central_host_errors_24h', 'Bans a host recorded as errors (status 3) in the last 24 hours.', ['host'])
  const lastSeen = gauge('f2b_central_host_last_seen_seconds', 'Seconds since a host was last seen (its last poll or report), by the database clock.', ['host'])
  const stale = gauge('f2b_central_host_stale', '1 when a host has not been seen for longer than serve.staleAfterSeconds.', ['host'])
  const stuck = gauge(
    'f2b_central_host_stuck',
    '1 when a host is seen but not applying (a ban waited longer than serve.staleAfterSeconds), or its cursor is past the last stamp.',
    ['host'],
  )
  const held = gauge('f2b_central_held_bans', "Bans held past their reporter's flood limit, waiting for an operator (bans release / bans drop).", ['reporter'])
  // readdb's firewall mode (issue 13): absent for a host that feeds no kernel set.
  const drift = gauge(
    'f2b_central_host_firewall_drift',
    "Entries a host's last firewall resync had to add or remove to make its kernel sets match the fleet (0: none had drifted).",
    ['host'],
  )
  const fwEntries = gauge('f2b_central_host_firewall_entries', "Entries in a host's kernel sets after its last firewall resync.", ['host'])
  const lastResync = gauge('f2b_central_host_last_resync_seconds', "Seconds since a host's last firewall resync, by the database clock.", ['host'])
  const fleetGauges = [active, reported, pending, oldest, errors, lastSeen, stale, stuck, held, drift, fwEntries, lastResync]
  const readSeconds = gauge(
    'f2b_central_fleet_read_seconds',
    'How long the last read of the fleet metrics from the database took, seconds (a read serves the scrapes of the next 10 s).',
  )
  const reuseMs = options.reuseMs ?? 10_000
  let readAt = Number.NEGATIVE_INFINITY

  const requests = new Counter({
    name: 'f2b_central_http_requests_total',
    help: 'HTTP requests answered by serve, per endpoint and status code.',
    labelNames: ['endpoint', 'code'],
    registers,
  })
  const latency = new Histogram({
    name: 'f2b_central_http_request_duration_seconds',
    help: 'Time to answer a request, until its last byte was handed to the connection, per endpoint.',
    labelNames: ['endpoint'],
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers,
  })

  async function refresh(): Promise<void> {
    if (performance.now() - readAt < reuseMs) return
    const started = performance.now()
    for (const g of fleetGauges) g.reset()
    try {
      const status = await readFleetStatus(central, { staleAfterSeconds: options.staleAfterSeconds })
      const since = toDbTime(new Date(Date.parse(status.now) - 86400_000))
      const byJail = await countActiveBansByJail(central)
      const reports = await countReportsByHostAndJail(central, since)
      for (const j of byJail) active.inc({ jail: printable(j.jail) }, j.n)
      for (const r of reports) reported.inc({ host: printable(r.host), jail: printable(r.jail) }, r.n)
      for (const host of status.hosts) {
        const label = { host: printable(host.name) }
        pending.set(label, host.pending)
        oldest.set(label, host.oldestPendingSeconds ?? 0)
        errors.set(label, host.errorsLastDay)
        lastSeen.set(label, Math.round(host.secondsSinceSeen * 1000) / 1000)
        stale.set(label, host.stale ? 1 : 0)
        stuck.set(label, host.cursorAhead || host.stalled ? 1 : 0)
        if (host.firewall) {
          drift.set(label, host.firewall.drift)
          fwEntries.set(label, host.firewall.entries)
          lastResync.set(label, Math.round(host.firewall.secondsSinceResync * 1000) / 1000)
        }
      }
      for (const x of status.held) held.inc({ reporter: printable(x.reporter) }, x.count)
      up.set(1)
      readAt = performance.now()
      readSeconds.set(Math.round(readAt - started) / 1000)
    } catch (err) {
      for (const g of fleetGauges) g.reset()
      up.set(0)
      options.onDatabaseError?.(err)
    }
  }

  let queue: Promise<unknown> = Promise.resolve()
  return {
    contentType: registry.contentType,
    render() {
      const next = queue.then(async () => {
        await refresh()
        return registry.metrics()
      })
      queue = next.catch(() => undefined)
      return next
    },
    observeRequest(endpoint, code, seconds) {
      requests.inc({ endpoint, code: String(code) })
      latency.observe({ endpoint }, seconds)
    },
  }
}
