import type { FirewallEntry } from './firewall-entry.js'
import type { FirewallNames } from './firewall-config.js'

/** What is in a kernel set now: each entry's canonical text and its remaining seconds (null: no timeout). */
export type SetContents = Map<string, number | null>

/**
 * One kernel firewall (nftables or ipset) as the firewall mode drives it. Scripts are
 * rendered from entries only (firewallEntry checked each), and each is applied by one
 * process: never one process per address.
 */
export interface FirewallBackend {
  readonly names: FirewallNames
  /**
   * The whole load, as `export --format nft|ipset` prints it and as a resync applies it to
   * empty sets: the sets (and, for nftables, the table and its chains) created when missing,
   * emptied, then every entry with its timeout.
   */
  loadScript(entries: Iterable<FirewallEntry>): string
  /** Create what is missing (sets, table, chains or iptables rules), changing nothing that is there. */
  ensure(): Promise<void>
  /**
   * One batch: every entry of `add` present afterwards with exactly its timeout (refreshed
   * where the kernel would keep an old one), every address of `remove` absent. Either all of
   * it is applied or none (nftables: one transaction); a failure throws FirewallError.
   */
  change(add: readonly FirewallEntry[], remove: readonly string[]): Promise<void>
  /** Apply a whole load (loadScript). */
  load(entries: Iterable<FirewallEntry>): Promise<void>
  /** Both sets' contents. */
  list(): Promise<SetContents>
}

/** The set an entry belongs in. */
export function setOf(names: FirewallNames, version: 4 | 6): string {
  return version === 4 ? names.setV4 : names.setV6
}
