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
// Text handed on in pieces of about this size while a list is read (a write per address would be slow).
const CHUNK_CHARS = 16 * 1024

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

/**
 * A list format written while the list is read, so that a million addresses never sit in
 * memory: the text before the first address, the text for each address (possibly none yet,
 * while a statement fills), and the text after the last. `export` and `serve` both write
 * through these.
 */
export interface ListFormat {
  readonly contentType: string
  begin(): string
  add(address: ExportedAddress): string
  end(): string
}

// The last gate before a firewall: each address is checked again where it is written.
function checked(a: ExportedAddress): string {
  if (!isCanonicalIp(a.ip)) throw new InvalidValueError('address', a.ip, 'not a canonical, bannable address')
  return a.ip
}

/** One address a line: the format Maltrail's `/fail2ban` endpoint serves. */
export function plainFormat(): ListFormat {
  return { contentType: 'text/plain; charset=utf-8', begin: () => '', add: (a) => `${checked(a)}\n`, end: () => '' }
}

/**
 * An `ipset restore` script: both sets created with `-exist` (so it can run again), then
 * one `add SET IP -exist` per address.
 *
 * ```sh
 * f2b-central export --format ipset | ipset restore
 * ```
 */
export function ipsetFormat(sets: SetNames): ListFormat {
  return {
    contentType: 'text/plain; charset=utf-8',
    begin: () => `create ${sets.v4} hash:ip family inet -exist\ncreate ${sets.v6} hash:ip family inet6 -exist\n`,
    add: (a) => `add ${a.version === 4 ? sets.v4 : sets.v6} ${checked(a)} -exist\n`,
    end: () => '',
  }
}

/**
 * An `nft -f` script: the table and both sets declared (declaring what exists changes
 * nothing), then `add element` statements of up to 500 addresses. nft applies a file as one
 * transaction.
 *
 * ```sh
 * f2b-central export --format nft > /run/f2b-central.nft && nft -f /run/f2b-central.nft
 * ```
 */
export function nftFormat(table: string, sets: SetNames): ListFormat {
  const pending: Record<4 | 6, string[]> = { 4: [], 6: [] }
  const flush = (version: 4 | 6): string => {
    const ips = pending[version]
    if (ips.length === 0) return ''
    pending[version] = []
    return `add element inet ${table} ${version === 4 ? sets.v4 : sets.v6} { ${ips.join(', ')} }\n`
  }
  return {
    contentType: 'text/plain; charset=utf-8',
    begin: () => [`table inet ${table} {`, `\tset ${sets.v4} {`, '\t\ttype ipv4_addr', '\t}', `\tset ${sets.v6} {`, '\t\ttype ipv6_addr', '\t}', '}', ''].join('\n'),
    add: (a) => {
      const ip = checked(a)
      // The other family's statement is finished first: a list read family by family gives all IPv4 statements, then IPv6.
      const other = flush(a.version === 4 ? 6 : 4)
      pending[a.version].push(ip)
      return pending[a.version].length >= NFT_CHUNK ? other + flush(a.version) : other
    },
    end: () => flush(4) + flush(6),
  }
}

/** A list's text in pieces of about 16 KiB, as its pages of addresses are read; `end()` is asked for only after the last one. */
export async function* renderList(format: ListFormat, pages: AsyncIterable<readonly ExportedAddress[]> | Iterable<readonly ExportedAddress[]>): AsyncGenerator<string> {
  let out = format.begin()
  for await (const page of pages) {
    for (const a of page) {
      out += format.add(a)
      if (out.length >= CHUNK_CHARS) {
        yield out
        out = ''
      }
    }
  }
  out += format.end()
  if (out !== '') yield out
}

// The whole text of a list held in memory (small lists, tests): IPv4 first, then IPv6.
function renderAll(format: ListFormat, addresses: readonly ExportedAddress[]): string {
  const ordered = [...addresses.filter((a) => a.version === 4), ...addresses.filter((a) => a.version === 6)]
  return format.begin() + ordered.map((a) => format.add(a)).join('') + format.end()
}

/** plainFormat over a list in memory, IPv4 first. */
export function renderPlainList(addresses: readonly ExportedAddress[]): string {
  return renderAll(plainFormat(), addresses)
}

/** ipsetFormat over a list in memory, IPv4 first. */
export function renderIpsetScript(addresses: readonly ExportedAddress[], sets: SetNames): string {
  return renderAll(ipsetFormat(sets), addresses)
}

/** nftFormat over a list in memory, IPv4 first. */
export function renderNftScript(addresses: readonly ExportedAddress[], table: string, sets: SetNames): string {
  return renderAll(nftFormat(table, sets), addresses)
}
