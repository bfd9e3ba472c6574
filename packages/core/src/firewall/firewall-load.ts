import type { Config } from '../config/config-schema.js'
import type { CentralDb } from '../db/db-adapter.js'
import type { SetNames } from '../fleet/firewall-script.js'
import type { FirewallBackend } from './firewall-backend.js'
import { defaultFirewallNames, type FirewallBackendName, type FirewallConfig } from './firewall-config.js'
import { readDesiredEntries, type DesiredEntries, type EntryGuard } from './firewall-sync.js'
import { ipsetBackend } from './ipset-backend.js'
import { resolveInfrastructure } from '../infrastructure.js'
import { nftBackend } from './nft-backend.js'

/** Names (and nft's forward hook) asked for over the configured ones: `export --set/--table/--forward`, serve's `?set=`/`?table=`. */
export interface FirewallLoadRequest {
  readonly backend: FirewallBackendName
  /** Both sets, from one base name (NAME-v4, NAME-v6). */
  readonly sets?: SetNames | undefined
  readonly table?: string | undefined
  /** true: drop in the forward hook too, whatever the config says. */
  readonly forward?: boolean | undefined
}

/**
 * The backend whose load script `export --format nft|ipset` prints and serve answers at
 * `/v1/bans.nft` and `/v1/bans.ipset`: the names (and forward) of the config's firewall section
 * where it names the same backend, else the backend's defaults, then what the request names.
 * Only its loadScript is used: nothing here runs nft or ipset.
 */
export function firewallLoadBackend(request: FirewallLoadRequest, configured: FirewallConfig | undefined): FirewallBackend {
  const own = configured?.backend === request.backend ? configured : undefined
  const names = {
    ...(own ?? defaultFirewallNames(request.backend)),
    ...(request.table === undefined ? {} : { table: request.table }),
    ...(request.sets === undefined ? {} : { setV4: request.sets.v4, setV6: request.sets.v6 }),
  }
  const settings = { ...names, forward: request.forward === true || (own?.forward ?? false), timeoutMs: 30_000 }
  return request.backend === 'nftables' ? nftBackend(settings) : ipsetBackend(settings)
}

/** A load script and what its entries left out. */
export interface FirewallLoad extends Omit<DesiredEntries, 'entries'> {
  readonly script: string
  /** Entries in the script. */
  readonly entries: number
}

/**
 * The fleet's whole load for `backend`, as readdb's firewall mode loads it at a resync: the
 * desired entries (readDesiredEntries: validated, allowlist and `guard` left out, each with
 * the fleet ban's remaining time by the database's clock) through backend.loadScript. Every
 * active ban is held in memory while it is built, as at a resync.
 */
export async function readFirewallLoad(central: CentralDb, backend: FirewallBackend, guard: EntryGuard | undefined): Promise<FirewallLoad> {
  const desired = await readDesiredEntries(central, guard)
  return {
    script: backend.loadScript(desired.entries),
    entries: desired.entries.length,
    rejected: desired.rejected,
    rejectedSamples: desired.rejectedSamples,
    allowlisted: desired.allowlisted,
  }
}

/**
 * What a load made where `config` is read leaves out besides the central allowlist: the
 * config's allowlist and its infrastructure (host.neverBan, the database and broker servers),
 * resolved once, now.
 */
export async function configGuard(config: Config): Promise<EntryGuard> {
  const infra = await resolveInfrastructure(config)
  return {
    has: (ip) => config.allowlist.hasCanonical(ip) || infra.hasCanonical(ip),
    overlaps: (n) => config.allowlist.overlaps(n) || infra.overlaps(n),
  }
}
