import { parseIp } from '../ban/ip-address.js'
import { F2bError } from '../errors.js'

/** A line of an address list that is stored: its canonical address. */
export interface ListedAddress {
  readonly line: number
  readonly ip: string
}

/** A line that is not stored, and why. */
export interface ListIssue {
  readonly line: number
  readonly text: string
  readonly problem: string
}

export interface AddressList {
  /** Valid, distinct addresses in file order. */
  readonly addresses: readonly ListedAddress[]
  /** Lines that are not an address (or are an address that must never be banned). */
  readonly invalid: readonly ListIssue[]
  /** Valid networks larger than one address: not stored until CIDR bans are supported. */
  readonly unsupported: readonly ListIssue[]
  /** Addresses that appeared again further down (a CIDR of one address counts as that address). */
  readonly duplicates: number
}

// A line longer than this is not an address list line (and is not worth parsing).
const MAX_LINE = 200

/**
 * Parse a plain address list: one address a line, `#` starts a comment (whole line or after
 * the address), blank lines are skipped, and a CIDR is stored only when it is one address
 * (/32, /128). Every address goes through parseIp, so what comes out is canonical and
 * bannable. Never throws for bad lines: they are returned with their line numbers.
 *
 * ```ts
 * parseAddressList('# bad hosts\n203.0.113.7\n198.51.100.0/24\n').unsupported // [{ line: 3, … }]
 * ```
 */
export function parseAddressList(text: string): AddressList {
  const addresses: ListedAddress[] = []
  const invalid: ListIssue[] = []
  const unsupported: ListIssue[] = []
  const seen = new Set<string>()
  let duplicates = 0
  const lines = text.split('\n')
  if (lines[lines.length - 1] === '') lines.pop()
  lines.forEach((raw, i) => {
    const line = i + 1
    const value = raw.replace(/\r$/, '').replace(/#.*$/, '').trim()
    if (value === '') return
    if (value.length > MAX_LINE) return void invalid.push({ line, text: value, problem: `longer than ${MAX_LINE} characters` })
    const parsed = parseEntry(value)
    if (parsed.kind === 'invalid') invalid.push({ line, text: value, problem: parsed.problem })
    else if (parsed.kind === 'network') unsupported.push({ line, text: value, problem: 'networks larger than one address are not supported yet' })
    else if (seen.has(parsed.ip)) duplicates++
    else {
      seen.add(parsed.ip)
      addresses.push({ line, ip: parsed.ip })
    }
  })
  return { addresses, invalid, unsupported, duplicates }
}

type Entry = { kind: 'address'; ip: string } | { kind: 'network' } | { kind: 'invalid'; problem: string }

function parseEntry(value: string): Entry {
  const [addr = '', prefix, extra] = value.split('/')
  if (extra !== undefined) return { kind: 'invalid', problem: 'expected ADDRESS or ADDRESS/PREFIX' }
  let ip
  try {
    ip = parseIp(addr, 'address')
  } catch (err) {
    return { kind: 'invalid', problem: problemOf(err) }
  }
  if (prefix === undefined) return { kind: 'address', ip: ip.text }
  const max = ip.version === 4 ? 32 : 128
  if (!/^(0|[1-9][0-9]{0,2})$/.test(prefix) || Number(prefix) > max) return { kind: 'invalid', problem: `prefix must be 0-${max}` }
  return Number(prefix) === max ? { kind: 'address', ip: ip.text } : { kind: 'network' }
}

// parseIp's message is `invalid address "…": problem`; the line report quotes the text itself.
function problemOf(err: unknown): string {
  if (!(err instanceof F2bError)) throw err
  return err.message.replace(/^invalid address ".*?": /, '')
}
