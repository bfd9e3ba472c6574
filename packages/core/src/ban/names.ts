import { InvalidValueError } from '../errors.js'

// fail2ban jail names are section names; we allow the characters fail2ban's own shipped
// jails use, so a name can never carry a space, a quote or a newline into a log line or argv.
const JAIL = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/
// RFC 1123 host names (letters, digits, hyphens, dots), plus underscore which some fleets use.
const HOST = /^(?=.{1,253}$)[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,62})(?:\.[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,62}))*$/
const SERVICE = /^[a-z][a-z0-9-]{0,31}$/
const PROTOCOLS = new Set(['tcp', 'udp', 'sctp', 'udplite', 'icmp', 'ipv6-icmp', 'all'])
const MAX_PORT_TEXT = 128

/** Validate a fail2ban jail name: 1–64 of `A-Z a-z 0-9 _ . -`, starting with a letter or digit. */
export function parseJail(input: string): string {
  if (!JAIL.test(input)) {
    throw new InvalidValueError('jail', input, 'expected 1-64 characters of A-Z a-z 0-9 _ . - starting with a letter or digit')
  }
  return input
}

/** Validate a host name (RFC 1123 labels, underscore allowed, at most 253 characters). */
export function parseHostName(input: string, field = 'host name'): string {
  if (!HOST.test(input)) {
    throw new InvalidValueError(field, input, 'expected dot-separated labels of A-Z a-z 0-9 _ - (at most 253 characters)')
  }
  return input
}

/** Validate a protocol as fail2ban's `<protocol>` tag gives it; stored lowercase. */
export function parseProtocol(input: string): string {
  const p = input.toLowerCase()
  if (!PROTOCOLS.has(p)) throw new InvalidValueError('protocol', input, `expected one of ${[...PROTOCOLS].join(', ')}`)
  return p
}

/**
 * Validate fail2ban's `<port>` tag: a comma-separated list of port numbers, `low:high`
 * ranges and service names (`ssh`, `http,https`, `0:65535`, `smtp,465,submission`).
 * Returned without spaces.
 */
export function parsePort(input: string): string {
  if (input.length === 0 || input.length > MAX_PORT_TEXT) {
    throw new InvalidValueError('port', input, `expected 1-${MAX_PORT_TEXT} characters`)
  }
  const items = input.split(',').map((s) => s.trim())
  for (const item of items) {
    const problem = portItemProblem(item)
    if (problem) throw new InvalidValueError('port', input, problem)
  }
  return items.join(',')
}

function portItemProblem(item: string): string | undefined {
  if (SERVICE.test(item)) return undefined
  const range = item.split(':')
  if (range.length > 2) return `${JSON.stringify(item)} is not a port, range or service name`
  const nums = range.map(portNumber)
  if (nums.some((n) => n === undefined)) return `${JSON.stringify(item)} is not a port (0-65535), range or service name`
  const [low = 0, high = low] = nums as number[]
  if (low > high) return `range ${JSON.stringify(item)} runs backwards`
  return undefined
}

function portNumber(s: string): number | undefined {
  if (!/^(0|[1-9][0-9]{0,4})$/.test(s)) return undefined
  const n = Number(s)
  return n <= 65535 ? n : undefined
}
