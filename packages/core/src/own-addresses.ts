import { networkInterfaces } from 'node:os'
import type { Network } from './ban/network.js'

/**
 * This machine's own addresses (every interface but loopback), so a host never bans itself
 * whatever the fleet reports. Link-local and zone-scoped addresses are left out: they are
 * not what other hosts would report.
 */
export function ownAddresses(): Network[] {
  const out: Network[] = []
  for (const list of Object.values(networkInterfaces())) {
    for (const info of list ?? []) {
      if (info.internal || info.address.includes('%') || info.address.startsWith('fe80:')) continue
      // The kernel's own addresses, already canonical (inet_ntop): no need to run them through
      // the address parser, whose IPv6 pattern costs add2db milliseconds to compile.
      const version = info.family === 'IPv6' ? 6 : 4
      const prefix = version === 4 ? 32 : 128
      out.push({ version, address: info.address, prefix, text: `${info.address}/${prefix}` })
    }
  }
  return out
}
