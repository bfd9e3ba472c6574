import { isCanonicalIp, parseIp } from '../ban/ip-address.js'
import type { CentralDb } from '../db/db-adapter.js'
import { loadAllowlist } from '../db/queries/allowlist.js'
import { dbTimeToIso } from '../time/db-time.js'
import { selectActiveAddresses } from '../db/queries/active-addresses.js'

/** One address of the active ban list. */
export interface ExportedAddress {
  readonly ip: string
  readonly version: 4 | 6
  /** When its last active ban ends (ISO 8601 UTC); null: at least one ban is permanent. */
  readonly expiresAt: string | null
}

export interface AddressExport {
  /** IPv4 first, then IPv6, each in numeric order. */
  readonly addresses: readonly ExportedAddress[]
  /** Stored values that are not canonical, bannable addresses (a planted or corrupted row): never exported. */
  readonly rejected: readonly string[]
  /** Actively banned addresses left out because the central allowlist holds them. */
  readonly allowlisted: number
}

/**
 * The fleet's active ban list, one entry per address: the input of `export` for Maltrail-style
 * plain lists, ipset and nftables. Every stored value is validated again here, where it
 * leaves for a firewall: a row with a newline, a CIDR or shell text in `ip` is rejected,
 * counted and never printed.
 */
export async function collectActiveAddresses(central: CentralDb): Promise<AddressExport> {
  const rows = await selectActiveAddresses(central)
  // A fleet member's own address never goes into a firewall script either.
  const allowlist = (await loadAllowlist(central.db, { fleetAddresses: true })).networks
  const addresses: ExportedAddress[] = []
  const rejected: string[] = []
  let allowlisted = 0
  for (const r of rows) {
    if (!isCanonicalIp(r.ip)) {
      rejected.push(r.ip)
      continue
    }
    if (allowlist.has(r.ip)) {
      allowlisted++
      continue
    }
    addresses.push({ ip: r.ip, version: parseIp(r.ip).version, expiresAt: r.permanent ? null : dbTimeToIso(r.expiresAt) })
  }
  addresses.sort(compareAddresses)
  rejected.sort()
  return { addresses, rejected, allowlisted }
}

function compareAddresses(a: ExportedAddress, b: ExportedAddress): number {
  if (a.version !== b.version) return a.version - b.version
  const ka = addressKey(a)
  const kb = addressKey(b)
  return ka < kb ? -1 : ka > kb ? 1 : 0
}

function addressKey(a: ExportedAddress): bigint {
  if (a.version === 4) return a.ip.split('.').reduce((acc, o) => (acc << 8n) | BigInt(Number(o)), 0n)
  const [head = '', tail] = a.ip.split('::')
  const part = (s: string) => (s === '' ? [] : s.split(':'))
  const left = part(head)
  const right = tail === undefined ? [] : part(tail)
  return [...left, ...new Array<string>(8 - left.length - right.length).fill('0'), ...right].reduce((acc, g) => (acc << 16n) | BigInt(parseInt(g, 16)), 0n)
}
