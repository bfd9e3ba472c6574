import { ipv6Groups } from './ip-address.js'
import type { Network } from './network.js'

/**
 * Text that every canonical address inside `network` starts with, for an indexed
 * `ip LIKE 'prefix%'` that narrows a CIDR search before the exact test in code; '' when no
 * prefix is certain. IPv4: the whole octets the prefix fixes (`10.1.0.0/16` → `10.1.`).
 * IPv6: the leading fixed groups up to the first zero group, which canonical text may fold
 * into `::` (`2001:db8::/32` → `2001:db8:`). The result holds only hex digits, dots and
 * colons, never a LIKE wildcard.
 */
export function canonicalTextPrefix(network: Network): string {
  if (network.version === 4) {
    const whole = Math.min(3, Math.floor(network.prefix / 8))
    const octets = network.address.split('.').slice(0, whole)
    return octets.length === 0 ? '' : `${octets.join('.')}.`
  }
  const whole = Math.min(7, Math.floor(network.prefix / 16))
  const groups = ipv6Groups(network.address).slice(0, whole)
  const leading: string[] = []
  for (const g of groups) {
    if (g === 0) break
    leading.push(g.toString(16))
  }
  return leading.length === 0 ? '' : `${leading.join(':')}:`
}
