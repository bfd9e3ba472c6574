import { describe, expect, it } from 'vitest'
import { InvalidValueError } from '../errors.js'
import type { ExportedAddress } from './export-addresses.js'
import { renderIpsetScript, renderNftScript, renderPlainList, setNames } from './firewall-script.js'

const v4 = (ip: string): ExportedAddress => ({ ip, version: 4, expiresAt: null })
const v6 = (ip: string): ExportedAddress => ({ ip, version: 6, expiresAt: null })

describe('firewall scripts', () => {
  it('renders nothing but validated addresses; an empty list still declares the sets', () => {
    expect(renderPlainList([v6('2001:db8::1'), v4('192.0.2.1')])).toBe('192.0.2.1\n2001:db8::1\n')
    expect(renderIpsetScript([], setNames('x'))).toBe('create x-v4 hash:ip family inet -exist\ncreate x-v6 hash:ip family inet6 -exist\n')
    expect(renderNftScript([], 't', setNames('x'))).not.toMatch(/add element/)
  })

  it.each(['192.0.2.1\nflush', '192.0.2.1 -exist\nadd x 10.0.0.1', '010.0.0.1', '10.0.0.0/8', '2001:DB8::1'])('refuses %j at the last gate', (ip) => {
    const bad = ip.includes(':') ? v6(ip) : v4(ip)
    expect(() => renderPlainList([bad])).toThrow(InvalidValueError)
    expect(() => renderIpsetScript([bad], setNames('x'))).toThrow(InvalidValueError)
    expect(() => renderNftScript([bad], 't', setNames('x'))).toThrow(InvalidValueError)
  })

  it('splits long nft element lists', () => {
    const many = Array.from({ length: 1200 }, (_, i) => v4(`10.${i >> 8}.${i & 255}.1`))
    expect(renderNftScript(many, 't', setNames('x')).match(/^add element inet t x-v4 /gm)).toHaveLength(3)
  })

  it.each(['', '1x', 'a b', 'a'.repeat(29), 'x;y'])('set name %j is refused', (name) => expect(() => setNames(name)).toThrow(InvalidValueError))
})
