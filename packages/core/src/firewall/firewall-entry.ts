import { isCanonicalIp } from '../ban/ip-address.js'
import { parseNetwork, type Network } from '../ban/network.js'

/**
 * One element of a kernel set: a canonical address or network and how long it stays.
 * Built only by firewallEntry(), so nothing else reaches an nft or ipset script.
 */
export interface FirewallEntry {
  /** Canonical text: `192.0.2.1`, `2001:db8::1`, `203.0.113.0/24` (a network only wider than one address). */
  readonly ip: string
  readonly version: 4 | 6
  /** Seconds the kernel keeps it: the fleet ban's remaining time; null: permanent (no timeout). */
  readonly timeout: number | null
}

// The narrowest network a CIDR ban may hold: wide enough for a hosting provider's block,
// and never a whole /8 of the internet (nor 0.0.0.0/0 from a planted row).
const MIN_PREFIX = { 4: 16, 6: 32 } as const

/**
 * The network a stored value names if it is a canonical CIDR this mode can apply (interval
 * sets, hash:net): host bits zero, no wider than /16 (IPv4) or /32 (IPv6), and its first
 * address bannable (not loopback, multicast or unspecified; within a /16 that covers the whole
 * network). A single address written as /32 or /128 is not a network: it is stored bare.
 */
export function bannableNetwork(text: string): Network | undefined {
  if (!text.includes('/')) return undefined
  let n: Network
  try {
    n = parseNetwork(text)
  } catch {
    return undefined
  }
  if (n.text !== text || n.prefix < MIN_PREFIX[n.version] || n.prefix === (n.version === 4 ? 32 : 128)) return undefined
  if (!isCanonicalIp(n.address)) return undefined
  return n
}

/**
 * Check a stored value again where it leaves for the kernel, and build its entry; undefined
 * for anything else (a newline, shell or nft text, a non-canonical form, a /0): such a row
 * can never be applied, and never reaches a script.
 */
export function firewallEntry(text: string, timeout: number | null): FirewallEntry | undefined {
  if (isCanonicalIp(text)) return { ip: text, version: text.includes(':') ? 6 : 4, timeout }
  const n = bannableNetwork(text)
  return n === undefined ? undefined : { ip: n.text, version: n.version, timeout }
}

/** The entry's family from canonical text (entries only). */
export function familyOf(ip: string): 4 | 6 {
  return ip.includes(':') ? 6 : 4
}

/** Whether an entry is a network (a CIDR ban). */
export function isNetworkEntry(e: FirewallEntry): boolean {
  return e.ip.includes('/')
}

/** The last check before text is written into a script: an entry that was not built by firewallEntry is refused. */
export function assertEntry(e: FirewallEntry): string {
  if (firewallEntry(e.ip, e.timeout) === undefined) throw new Error(`not a firewall entry: ${JSON.stringify(e.ip.slice(0, 60))}`)
  if (e.timeout !== null && !(Number.isInteger(e.timeout) && e.timeout > 0)) throw new Error(`bad timeout for ${e.ip}: ${e.timeout}`)
  return e.ip
}

/** Seconds from `nowMs` to a fleet ban's end (at least 1), or null for a permanent ban. */
export function remainingTimeout(expiresAtMs: number | null, nowMs: number): number | null {
  if (expiresAtMs === null) return null
  return Math.max(1, Math.ceil((expiresAtMs - nowMs) / 1000))
}
