import { isIP, isIPv4, isIPv6 } from 'node:net'
import { InvalidValueError } from '../errors.js'

/** Where a server listens: an address literal (no name to resolve) and a port. */
export interface ListenAddress {
  /** `127.0.0.1`, `::1`, `0.0.0.0`, `::` (without brackets). */
  readonly host: string
  readonly port: number
  /** Only this machine can connect: 127.0.0.0/8 or ::1. */
  readonly loopback: boolean
}

/**
 * Parse `ADDRESS:PORT` or `[IPV6]:PORT` (`127.0.0.1:8700`, `[::1]:8700`, `0.0.0.0:443`). The
 * address must be a literal: a name would be resolved at every start, and could resolve to
 * an interface the admin did not mean to open.
 */
export function parseListenAddress(input: string, field = 'serve.listen'): ListenAddress {
  const m = /^(?:\[([^\]]+)\]|([^:[\]]+)):([0-9]{1,5})$/.exec(input)
  const problem = 'expected ADDRESS:PORT or [IPV6]:PORT, e.g. 127.0.0.1:8700 or [::1]:8700'
  if (!m) throw new InvalidValueError(field, input, problem)
  const host = m[1] ?? m[2] ?? ''
  const port = Number(m[3])
  if (m[1] !== undefined ? !isIPv6(host) : !isIPv4(host)) throw new InvalidValueError(field, input, `${problem} (an address, not a name)`)
  // 0: any free port (tests; the server says which).
  if (port > 65535) throw new InvalidValueError(field, input, 'the port must be 0-65535')
  const loopback = isIP(host) === 4 ? host.startsWith('127.') : host === '::1'
  return { host, port, loopback }
}

/** The address as a URL authority: `127.0.0.1:8700`, `[::1]:8700`. */
export function formatListenAddress(a: { host: string; port: number }): string {
  return a.host.includes(':') ? `[${a.host}]:${a.port}` : `${a.host}:${a.port}`
}
