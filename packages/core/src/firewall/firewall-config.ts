import { InvalidValueError } from '../errors.js'

/** Which kernel firewall readdb feeds. */
export type FirewallBackendName = 'nftables' | 'ipset'

/** The names of what this mode creates in the kernel. */
export interface FirewallNames {
  readonly backend: FirewallBackendName
  /** nftables table (family inet); unused by ipset. */
  readonly table: string
  readonly setV4: string
  readonly setV6: string
}

/** The `firewall` section, resolved: names validated and defaulted per backend, seconds as milliseconds. */
export interface FirewallConfig extends FirewallNames {
  readonly forward: boolean
  readonly resyncMinutes: number
  readonly killConnections: boolean
  readonly timeoutMs: number
}

/** The section as the schema parsed it. */
export interface FirewallSection {
  readonly backend: FirewallBackendName
  readonly table: string
  readonly setV4?: string | undefined
  readonly setV6?: string | undefined
  readonly forward: boolean
  readonly resyncMinutes: number
  readonly killConnections: boolean
  readonly timeoutSeconds: number
}

// ipset names are at most 31 characters; nftables identifiers start with a letter. Only
// characters that mean nothing to nft's or ipset's parser: a name is written into scripts.
const NAME = /^[A-Za-z][A-Za-z0-9_-]{0,30}$/

const DEFAULT_SETS: Record<FirewallBackendName, { v4: string; v6: string }> = {
  nftables: { v4: 'bans_v4', v6: 'bans_v6' },
  ipset: { v4: 'f2b-central-v4', v6: 'f2b-central-v6' },
}

/** The default names of a backend (what `export --format nft|ipset` uses without a config's firewall section). */
export function defaultFirewallNames(backend: FirewallBackendName): FirewallNames {
  return { backend, table: 'f2b_central', setV4: DEFAULT_SETS[backend].v4, setV6: DEFAULT_SETS[backend].v6 }
}

/** Validate one name that goes into an nft or ipset script. */
export function parseFirewallName(name: string, field: string): string {
  if (!NAME.test(name)) throw new InvalidValueError(field, name, 'expected 1-31 characters of A-Z a-z 0-9 _ - starting with a letter')
  return name
}

/** The section's names, validated, with the backend's defaults filled in. Throws InvalidValueError naming the key. */
export function parseFirewallNames(section: Pick<FirewallSection, 'backend' | 'table' | 'setV4' | 'setV6'>): FirewallNames {
  const defaults = defaultFirewallNames(section.backend)
  const names = {
    backend: section.backend,
    table: parseFirewallName(section.table, 'firewall.table'),
    setV4: parseFirewallName(section.setV4 ?? defaults.setV4, 'firewall.setV4'),
    setV6: parseFirewallName(section.setV6 ?? defaults.setV6, 'firewall.setV6'),
  }
  if (names.setV4 === names.setV6) throw new InvalidValueError('firewall.setV6', names.setV6, 'must differ from firewall.setV4')
  return names
}

/** The section resolved (parseFirewallNames has accepted it). */
export function resolveFirewall(section: FirewallSection): FirewallConfig {
  return {
    ...parseFirewallNames(section),
    forward: section.forward,
    resyncMinutes: section.resyncMinutes,
    killConnections: section.killConnections,
    timeoutMs: section.timeoutSeconds * 1000,
  }
}
