import { contains, parseNetwork, type Network } from '../ban/network.js'
import { isNetworkEntry, type FirewallEntry } from './firewall-entry.js'

/**
 * The entries without the networks a wider network covers: an nftables interval set refuses
 * overlapping elements, so a /24 inside a banned /16 would make the whole load fail, and the
 * wider one drops its traffic anyway (when the wider ban ends first, the next resync puts the
 * narrower back). Single addresses are kept: they live in their own set (nftables) or beside
 * networks in a hash:net (ipset), where overlaps are no error.
 */
export function withoutCovered(entries: Iterable<FirewallEntry>): FirewallEntry[] {
  const all = [...entries]
  const networks: Network[] = all.filter(isNetworkEntry).map((e) => parseNetwork(e.ip))
  if (networks.length < 2) return all
  return all.filter((e) => {
    if (!isNetworkEntry(e)) return true
    const n = parseNetwork(e.ip)
    // A network inside a wider one (never an equal one: entries are unique by text).
    return !networks.some((m) => m.version === n.version && m.prefix < n.prefix && contains(m, n.address))
  })
}
