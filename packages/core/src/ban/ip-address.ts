import { isIPv4, isIPv6 } from 'node:net'
import { InvalidValueError } from '../errors.js'

/** An address in its one canonical text form (dotted quad, or RFC 5952 IPv6). */
export interface IpAddress {
  readonly version: 4 | 6
  /** Canonical text: what is stored, compared and written to a log line. */
  readonly text: string
}

// Longest valid textual IPv6 with an embedded IPv4 tail is 45 characters; anything longer is
// refused before any parsing work.
const MAX_TEXT = 45

/**
 * Parse an untrusted address and return its canonical form, or throw InvalidValueError.
 * IPv4-mapped IPv6 (`::ffff:1.2.3.4`) becomes the IPv4 address, because that is what a
 * firewall sees. Zone ids, CIDRs, leading zeros, non-ASCII digits, and addresses that must
 * never be banned (unspecified, loopback, multicast, broadcast) are refused.
 */
export function parseIp(input: string, field = 'address'): IpAddress {
  if (input.length === 0) throw new InvalidValueError(field, input, 'empty')
  if (input.length > MAX_TEXT) throw new InvalidValueError(field, input, `longer than ${MAX_TEXT} characters`)
  if (input.includes('%')) throw new InvalidValueError(field, input, 'zone ids are not allowed')
  let ip: IpAddress
  if (isIPv4(input)) ip = { version: 4, text: input }
  else if (isIPv6(input)) ip = canonicalIpv6(input)
  else throw new InvalidValueError(field, input, 'not an IPv4 or IPv6 address')
  const reason = unbannableReason(ip)
  if (reason) throw new InvalidValueError(field, input, reason)
  return ip
}

/** True when `text` is already an address in canonical form (used where a value is re-checked before use). */
export function isCanonicalIp(text: string): boolean {
  try {
    return parseIp(text).text === text
  } catch {
    return false
  }
}

function canonicalIpv6(input: string): IpAddress {
  const groups = ipv6Groups(input.toLowerCase())
  const isMapped = groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff
  if (isMapped) {
    const hi = groups[6] ?? 0
    const lo = groups[7] ?? 0
    return { version: 4, text: [hi >> 8, hi & 255, lo >> 8, lo & 255].join('.') }
  }
  return { version: 6, text: compressIpv6(groups) }
}

/** The eight 16-bit groups of an IPv6 address already validated (by isIPv6 or as canonical text). */
export function ipv6Groups(text: string): number[] {
  const [head = '', tail] = text.split('::')
  const toGroups = (part: string): number[] =>
    part === ''
      ? []
      : part.split(':').flatMap((g) => {
          if (!g.includes('.')) return [parseInt(g, 16)]
          const [a = 0, b = 0, c = 0, d = 0] = g.split('.').map(Number)
          return [(a << 8) | b, (c << 8) | d]
        })
  const left = toGroups(head)
  const right = tail === undefined ? [] : toGroups(tail)
  const zeros = new Array<number>(8 - left.length - right.length).fill(0)
  return [...left, ...zeros, ...right]
}

// RFC 5952 section 4: lowercase, no leading zeros, the longest run (first on a tie) of two
// or more zero groups becomes "::".
function compressIpv6(groups: number[]): string {
  let bestStart = -1
  let bestLen = 1
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++
      continue
    }
    let j = i
    while (j < 8 && groups[j] === 0) j++
    if (j - i > bestLen) {
      bestStart = i
      bestLen = j - i
    }
    i = j
  }
  const hex = groups.map((g) => g.toString(16))
  if (bestStart < 0) return hex.join(':')
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLen).join(':')}`
}

function unbannableReason(ip: IpAddress): string | undefined {
  if (ip.version === 4) {
    // The first octet: parseInt stops at the dot (the text passed isIPv4). No split: this runs
    // for every address of an exported list.
    const a = Number.parseInt(ip.text, 10)
    if (a === 0) return 'the unspecified network 0.0.0.0/8 cannot be banned'
    if (a === 127) return 'loopback addresses cannot be banned'
    if (a >= 224 && a <= 239) return 'multicast addresses cannot be banned'
    if (ip.text === '255.255.255.255') return 'the broadcast address cannot be banned'
    return undefined
  }
  if (ip.text === '::') return 'the unspecified address cannot be banned'
  if (ip.text === '::1') return 'loopback addresses cannot be banned'
  if (ip.text.startsWith('ff')) return 'multicast addresses cannot be banned'
  return undefined
}
