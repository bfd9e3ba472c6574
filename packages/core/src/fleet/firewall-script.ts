import { isCanonicalIp } from '../ban/ip-address.js'
import { InvalidValueError } from '../errors.js'
import type { ExportedAddress } from './export-addresses.js'

/** Names of the IPv4 and IPv6 sets a script fills. */
export interface SetNames {
  readonly v4: string
  readonly v6: string
}

// ipset names are at most 31 characters; nftables identifiers start with a letter. The set
// base name (`export --set`, serve's `?set=`) gets `-v4`/`-v6` appended, so it may have 28.
const SET_NAME = /^[A-Za-z][A-Za-z0-9_-]{0,27}$/
const TABLE_NAME = /^[A-Za-z][A-Za-z0-9_-]{0,63}$/
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
 * memory: the text before the first address, the text for each address, and the text after
 * the last. `export` and `serve` both write
 * through these (the plain and JSON lists; the firewall scripts are the firewall mode's own,
 * firewall/firewall-load.ts).
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
