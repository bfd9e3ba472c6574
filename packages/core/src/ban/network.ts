import { BlockList } from 'node:net'
import { InvalidValueError } from '../errors.js'
import { ipv6Groups, parseIp } from './ip-address.js'

/** An address or network in canonical text: `203.0.113.0/24`, `2001:db8::/32`, `198.51.100.7/32`. */
export interface Network {
  readonly version: 4 | 6
  /** First address of the network, canonical. */
  readonly address: string
  readonly prefix: number
  /** `address/prefix`, what is stored. */
  readonly text: string
}

/**
 * Parse an address or CIDR for the allowlist and for unban. Host bits must be zero
 * (`203.0.113.7/24` is refused: it is ambiguous which was meant). Unlike a ban, any
 * address may be allowlisted, loopback included.
 */
export function parseNetwork(input: string, field = 'network'): Network {
  const [addr = '', prefixText, extra] = input.split('/')
  if (extra !== undefined) throw new InvalidValueError(field, input, 'expected ADDRESS or ADDRESS/PREFIX')
  const ip = parseAnyIp(addr, field, input)
  const max = ip.version === 4 ? 32 : 128
  if (prefixText !== undefined && !/^(0|[1-9][0-9]{0,2})$/.test(prefixText)) throw new InvalidValueError(field, input, `prefix must be 0-${max}`)
  const prefix = prefixText === undefined ? max : Number(prefixText)
  if (prefix > max) throw new InvalidValueError(field, input, `prefix must be 0-${max}`)
  const bits = addressBits(ip.text, ip.version)
  const hostMask = (1n << BigInt(max - prefix)) - 1n
  if ((bits & hostMask) !== 0n) throw new InvalidValueError(field, input, `host bits set; did you mean ${bitsToText(bits & ~hostMask, ip.version)}/${prefix}?`)
  return { version: ip.version, address: ip.text, prefix, text: `${ip.text}/${prefix}` }
}

// parseIp refuses addresses that must never be banned; an allowlist may hold them.
function parseAnyIp(addr: string, field: string, input: string): { version: 4 | 6; text: string } {
  try {
    return parseIp(addr, field)
  } catch (err) {
    if (err instanceof InvalidValueError && /cannot be banned/.test(err.message)) {
      return addr.includes(':') ? { version: 6, text: bitsToText(addressBits(normaliseV6(addr), 6), 6) } : { version: 4, text: addr }
    }
    throw new InvalidValueError(field, input, 'not an IPv4 or IPv6 address or network')
  }
}

function normaliseV6(addr: string): string {
  return new URL(`http://[${addr}]`).hostname.slice(1, -1)
}

function addressBits(text: string, version: 4 | 6): bigint {
  if (version === 4) return text.split('.').reduce((acc, o) => (acc << 8n) | BigInt(Number(o)), 0n)
  const all = ipv6Groups(text)
  return all.reduce((acc, g) => (acc << 16n) | BigInt(g), 0n)
}

function bitsToText(bits: bigint, version: 4 | 6): string {
  if (version === 4) return [24n, 16n, 8n, 0n].map((s) => String((bits >> s) & 255n)).join('.')
  const groups = Array.from({ length: 8 }, (_, i) => Number((bits >> BigInt(112 - i * 16)) & 0xffffn).toString(16))
  return normaliseV6(groups.join(':'))
}

/** A set of networks to test addresses against (node:net BlockList underneath). */
export class NetworkSet {
  readonly #list = new BlockList()
  #size = 0
  // For hasCanonical: single addresses by their text, and the networks wider than one address.
  readonly #singles = new Set<string>()
  readonly #wide = new BlockList()
  #wideSize = 0
  // Every network as added, for overlaps().
  readonly #networks: Network[] = []

  constructor(networks: Iterable<Network> = []) {
    for (const n of networks) this.add(n)
  }

  add(n: Network): void {
    const family = n.version === 4 ? 'ipv4' : 'ipv6'
    this.#list.addSubnet(n.address, n.prefix, family)
    this.#size++
    this.#networks.push(n)
    if (n.prefix === (n.version === 4 ? 32 : 128)) this.#singles.add(n.address)
    else {
      this.#wide.addSubnet(n.address, n.prefix, family)
      this.#wideSize++
    }
  }

  get size(): number {
    return this.#size
  }

  /** Whether any network holds this address (any valid text form). */
  has(ip: string): boolean {
    if (this.#size === 0) return false
    return this.#list.check(ip, ip.includes(':') ? 'ipv6' : 'ipv4')
  }

  /**
   * Whether any network here shares an address with `n` (one holds the other): a CIDR ban
   * that would cover an allowlisted address must not be applied at all.
   */
  overlaps(n: Network): boolean {
    return this.#networks.some((m) => m.version === n.version && (contains(m, n.address) || contains(n, m.address)))
  }

  /**
   * has() for an address already in canonical form (isCanonicalIp), as every stored ban is
   * once checked: single addresses by a set lookup, BlockList only for wider networks. A
   * list of 100,000 addresses checked against a fleet's addresses costs milliseconds
   * instead of a second (BlockList.check parses its argument, about 10 µs a call).
   */
  hasCanonical(ip: string): boolean {
    if (this.#singles.has(ip)) return true
    return this.#wideSize > 0 && this.#wide.check(ip, ip.includes(':') ? 'ipv6' : 'ipv4')
  }
}

/** Whether network `n` holds `address` (canonical, the same family). */
export function contains(n: Network, address: string): boolean {
  const max = n.version === 4 ? 32 : 128
  const shift = BigInt(max - n.prefix)
  return addressBits(address, n.version) >> shift === addressBits(n.address, n.version) >> shift
}
