import { contains, NetworkSet, parseNetwork, type Network } from '../ban/network.js'
import { isNetworkEntry, type FirewallEntry } from './firewall-entry.js'

/**
 * The entries without those a wider entry (a CIDR ban) covers: an nftables interval set
 * refuses overlapping elements, so a banned address inside a banned network would make the
 * whole load fail. The wider entry drops its traffic anyway; when the wider ban ends first,
 * the next resync puts the address back. Networks are few, so the check is one set lookup per
 * address.
 */
export function withoutCovered(entries: Iterable<FirewallEntry>): FirewallEntry[] {
  const all = [...entries]
  const networks: Network[] = all.filter(isNetworkEntry).map((e) => parseNetwork(e.ip))
  if (networks.length === 0) return all
  const wide = new NetworkSet(networks)
  return all.filter((e) => {
    if (!isNetworkEntry(e)) return !wide.hasCanonical(e.ip)
    const n = parseNetwork(e.ip)
    // A network inside a wider one (never an equal one: entries are unique by text).
    return !networks.some((m) => m.version === n.version && m.prefix < n.prefix && contains(m, n.address))
  })
}
