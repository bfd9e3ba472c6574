import { describe, expect, it } from 'vitest'
import { InvalidValueError } from '../errors.js'
import type { ExportedAddress } from './export-addresses.js'
import { renderPlainList, setNames } from './firewall-script.js'

const v4 = (ip: string): ExportedAddress => ({ ip, version: 4, expiresAt: null })
const v6 = (ip: string): ExportedAddress => ({ ip, version: 6, expiresAt: null })

describe('plain list', () => {
  it('renders nothing but validated addresses, IPv4 first', () => {
    expect(renderPlainList([v6('2001:db8::1'), v4('192.0.2.1')])).toBe('192.0.2.1\n2001:db8::1\n')
  })

  it.each(['192.0.2.1\nflush', '192.0.2.1 -exist\nadd x 10.0.0.1', '010.0.0.1', '10.0.0.0/8', '2001:DB8::1'])('refuses %j at the last gate', (ip) => {
    const bad = ip.includes(':') ? v6(ip) : v4(ip)
    expect(() => renderPlainList([bad])).toThrow(InvalidValueError)
  })

  it.each(['', '1x', 'a b', 'a'.repeat(29), 'x;y'])('set name %j is refused', (name) => expect(() => setNames(name)).toThrow(InvalidValueError))
})
