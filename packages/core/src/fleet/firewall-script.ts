import { isCanonicalIp } from '../ban/ip-address.js'
import { InvalidValueError } from '../errors.js'
import type { ExportedAddress } from './export-addresses.js'

/** Names of the IPv4 and IPv6 sets a script fills. */
export interface SetNames {
  readonly v4: string
  readonly v6: string
}

// ipset names are at most 31 characters; nftables identifiers start with a letter. The set
// base name gets `-v4`/`-v6` appended, so it may have 28.
const SET_NAME = /^[A-Za-z][A-Za-z0-9_-]{0,27}$/
const TABLE_NAME = /^[A-Za-z][A-Za-z0-9_-]{0,63}$/
// Elements per nftables `add element` statement: keeps lines a sane length.
const NFT_CHUNK = 500

/** Validate a set base name and derive the per-family names: `f2b-central` → `f2b-central-v4`, `f2b-central-v6`. */
export function setNames(base: string, field = 'set name'): SetNames {
  if (!SET_NAME.test(base)) throw new InvalidValueError(field, base, 'expected 1-28 characters of A-Z a-z 0-9 _ - starting with a letter')
  return { v4: `${base}-v4`, v6: `${base}-v6` }
}

/** Validate an nftables table name. */
export function parseTableName(name: string, field = 'table name'): string {
  if (!TABLE_NAME.test(name)) throw new InvalidValueError(field, name, 'expected 1-64 characters of A-Z a-z 0-9 _ - starting with a letter')
  return name
}

// The last gate before a firewall: each address is checked again where it is written.
function checked(addresses: readonly ExportedAddress[], version: 4 | 6): string[] {
  return addresses.filter((a) => a.version === version).map((a) => {
    if (!isCanonicalIp(a.ip)) throw new InvalidValueError('address', a.ip, 'not a canonical, bannable address')
    return a.ip
  })
}

/** One address a line, IPv4 first: the format Maltrail's `/fail2ban` endpoint serves. */
export function renderPlainList(addresses: readonly ExportedAddress[]): string {
  return [...checked(addresses, 4), ...checked(addresses, 6)].map((ip) => `${ip}\n`).join('')
}

/**
 * An `ipset restore` script: both sets created with `-exist` (so it can run again), then
 * one `add SET IP -exist` per address.
 *
 * ```sh
 * f2b-central export --format ipset | ipset restore
 * ```
 */
export function renderIpsetScript(addresses: readonly ExportedAddress[], sets: SetNames): string {
  const lines = [`create ${sets.v4} hash:ip family inet -exist`, `create ${sets.v6} hash:ip family inet6 -exist`]
  for (const ip of checked(addresses, 4)) lines.push(`add ${sets.v4} ${ip} -exist`)
  for (const ip of checked(addresses, 6)) lines.push(`add ${sets.v6} ${ip} -exist`)
  return `${lines.join('\n')}\n`
}

/**
 * An `nft -f` script: the table and both sets declared (declaring what exists changes
 * nothing), then `add element` statements. nft applies a file as one transaction.
 *
 * ```sh
 * f2b-central export --format nft > /run/f2b-central.nft && nft -f /run/f2b-central.nft
 * ```
 */
export function renderNftScript(addresses: readonly ExportedAddress[], table: string, sets: SetNames): string {
  const out = [
    `table inet ${table} {`,
    `\tset ${sets.v4} {`,
    '\t\ttype ipv4_addr',
    '\t}',
    `\tset ${sets.v6} {`,
    '\t\ttype ipv6_addr',
    '\t}',
    '}',
  ]
  for (const [set, ips] of [
    [sets.v4, checked(addresses, 4)],
    [sets.v6, checked(addresses, 6)],
  ] as const) {
    for (let i = 0; i < ips.length; i += NFT_CHUNK) out.push(`add element inet ${table} ${set} { ${ips.slice(i, i + NFT_CHUNK).join(', ')} }`)
  }
  return `${out.join('\n')}\n`
}
