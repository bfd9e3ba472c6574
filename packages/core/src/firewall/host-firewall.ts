import type { Config } from '../config/config-schema.js'
import type { CentralDb } from '../db/db-adapter.js'
import { registerHost } from '../db/queries/hosts.js'
import { resolveInfrastructure, type Infrastructure } from '../infrastructure.js'
import { readMachineId } from '../machine-id.js'
import { readDatabaseNow } from '../db/queries/clock.js'
import { fromDbTime } from '../time/db-time.js'
import { createFirewallApplier, createFirewallBackend, type FirewallApplier } from './firewall-applier.js'
import type { FirewallBackend } from './firewall-backend.js'
import type { FirewallConfig } from './firewall-config.js'
import type { EntryGuard, ResyncResult } from './firewall-sync.js'

/** A resync as readdb logs it: why it ran, what it changed, how long it took. */
export interface HostResync extends ResyncResult {
  readonly reason: 'start' | 'schedule' | 'requested' | 'allowlist'
  readonly ms: number
}

/** This host's firewall mode, built from its config: the applier the poll uses, and when to resync. */
export interface HostFirewall {
  readonly config: FirewallConfig
  readonly backend: FirewallBackend
  readonly applier: FirewallApplier
  /**
   * Resync when one is due, record it with the host (its drift is what `status` shows) and
   * return it; undefined when none was due. Due: `force` ('requested'), a daemon's first tick
   * ('start'), firewall.resyncMinutes after the last one, by the time stored with the host, so
   * that cron's one-shot runs resync as often as a daemon and not at every run ('schedule'), or
   * the central allowlist changed since this process's last one, or (a process's first look, as
   * in every one-shot run) an entry was added since the stored one ('allowlist'). Runs before a
   * poll, in the same tick, so a resync and a poll never run at once.
   */
  resyncIfDue(options?: { force?: boolean; start?: boolean }): Promise<HostResync | undefined>
}

const INFRASTRUCTURE_TTL_MS = 10 * 60 * 1000
// Longer than a resync takes (100,000 bans: about 2 s, README "Firewall mode"), and short: a
// one-shot run within this time after an entry resyncs again, whatever its stored resync says.
const ALLOWLIST_RACE_MS = 10_000

/** The firewall mode of a host whose config has a firewall section. */
export function createHostFirewall(
  config: Config & { firewall: FirewallConfig },
  central: CentralDb,
  backend: FirewallBackend = createFirewallBackend(config.firewall),
): HostFirewall {
  let infrastructure: { value: Infrastructure; at: number } | undefined
  const guard = (): EntryGuard => {
    const infra = infrastructure?.value
    return {
      // Entries are canonical: set lookups, not BlockList's parse per address.
      has: (ip) => config.allowlist.hasCanonical(ip) || (infra?.hasCanonical(ip) ?? false) || config.neverBan.hasCanonical(ip),
      overlaps: (n) => config.allowlist.overlaps(n) || (infra?.overlaps(n) ?? false) || config.neverBan.overlaps(n),
    }
  }
  const refreshInfrastructure = async () => {
    if (!infrastructure || Date.now() - infrastructure.at > INFRASTRUCTURE_TTL_MS) infrastructure = { value: await resolveInfrastructure(config), at: Date.now() }
  }
  const inner = createFirewallApplier(central, config.firewall, backend, guard)
  // The applier resolves the infrastructure before each use.
  const applier: FirewallApplier = {
    decideAndApply: async (...args) => {
      await refreshInfrastructure()
      return inner.decideAndApply(...args)
    },
    applyAlongside: async (...args) => {
      await refreshInfrastructure()
      return inner.applyAlongside(...args)
    },
    resync: async () => {
      await refreshInfrastructure()
      return inner.resync()
    },
  }
  let last: { at: number; allowlistVersion: number } | undefined
  return {
    config: config.firewall,
    backend,
    applier,
    async resyncIfDue({ force = false, start = false } = {}) {
      const row = await central.db.selectFrom('allowlist_version').select('version').where('id', '=', 1).executeTakeFirst()
      const allowlistVersion = Number(row?.version ?? 0)
      const period = config.firewall.resyncMinutes * 60_000
      // A process's first look (cron's one-shot run has no other): by the resync stored with the host.
      const storedDue = async (): Promise<'schedule' | 'allowlist' | undefined> => {
        const host = await central.db.selectFrom('hosts').select('resynced_at').where('name', '=', config.host.name).executeTakeFirst()
        if (!host?.resynced_at) return 'schedule'
        const lastMs = fromDbTime(String(host.resynced_at)).getTime()
        if ((await readDatabaseNow(central)).getTime() - lastMs >= period) return 'schedule'
        // No version of its own to compare with: an entry created since the stored resync is
        // the change, so cron's next run takes a newly allowlisted address out of the sets.
        // The stored time is the resync's end, and an entry made while it ran may have been
        // missed: one made up to ALLOWLIST_RACE_MS before counts too.
        // (A removed entry leaves no row: its bans come back at the scheduled resync.)
        const newest = await central.db
          .selectFrom('allowlist')
          .select((eb) => eb.fn.max('created_at').as('at'))
          .executeTakeFirst()
        return newest?.at && fromDbTime(String(newest.at)).getTime() > lastMs - ALLOWLIST_RACE_MS ? 'allowlist' : undefined
      }
      const reason: HostResync['reason'] | undefined = force
        ? 'requested'
        : start && !last
          ? 'start'
          : last && allowlistVersion !== last.allowlistVersion
            ? 'allowlist'
            : last
              ? Date.now() - last.at >= period
                ? 'schedule'
                : undefined
              : await storedDue()
      if (reason === undefined) {
        last ??= { at: Date.now(), allowlistVersion }
        return undefined
      }
      if (reason === undefined) return undefined
      const started = performance.now()
      const result = await applier.resync()
      last = { at: Date.now(), allowlistVersion }
      const host = await registerHost(central.db, central.adapter, config.host.name, readMachineId())
      await central.adapter.hostWrites.recordResync(central.db, host, { backend: config.firewall.backend, entries: result.entries, drift: result.drift })
      return { ...result, reason, ms: Math.round(performance.now() - started) }
    },
  }
}
