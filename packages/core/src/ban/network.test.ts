import { describe, expect, it } from 'vitest'
import { NetworkSet, parseNetwork } from './network.js'

describe('parseNetwork', () => {
  it.each([
    ['203.0.113.7', '203.0.113.7/32'],
    ['203.0.113.0/24', '203.0.113.0/24'],
    ['2001:DB8::/32', '2001:db8::/32'],
    ['::ffff:192.0.2.1', '192.0.2.1/32'],
    ['127.0.0.1', '127.0.0.1/32'],
    ['0.0.0.0/0', '0.0.0.0/0'],
    ['::1', '::1/128'],
  ])('%s → %s', (input, text) => {
    expect(parseNetwork(input).text).toBe(text)
  })
  it.each([
    ['203.0.113.7/24', /host bits set; did you mean 203\.0\.113\.0\/24\?/],
    ['2001:db8::1/32', /did you mean 2001:db8::\/32\?/],
    ['203.0.113.0/33', /prefix must be 0-32/],
    ['203.0.113.0/024', /prefix must be 0-32/],
    ['1.2.3.4/8/9', /expected ADDRESS or ADDRESS\/PREFIX/],
    ['example.org', /not an IPv4 or IPv6 address or network/],
  ])('refuses %j', (input, message) => {
    expect(() => parseNetwork(input)).toThrow(message)
  })
})

describe('NetworkSet', () => {
  it('matches addresses inside its networks only', () => {
    const set = new NetworkSet(['203.0.113.0/24', '2001:db8:1::/48', '198.51.100.9'].map((n) => parseNetwork(n)))
    expect(['203.0.113.255', '2001:db8:1:ffff::1', '198.51.100.9'].map((ip) => set.has(ip))).toEqual([true, true, true])
    expect(['203.0.114.0', '2001:db8:2::1', '198.51.100.10'].map((ip) => set.has(ip))).toEqual([false, false, false])
  })

  it('hasCanonical answers as has for canonical addresses, singles and networks alike', () => {
    const set = new NetworkSet(['203.0.113.0/24', '2001:db8:1::/48', '198.51.100.9', '2001:db8::7'].map((n) => parseNetwork(n)))
    const ips = ['203.0.113.255', '2001:db8:1:ffff::1', '198.51.100.9', '2001:db8::7', '203.0.114.0', '2001:db8:2::1', '198.51.100.10', '2001:db8::8']
    expect(ips.map((ip) => set.hasCanonical(ip))).toEqual(ips.map((ip) => set.has(ip)))
    expect(ips.map((ip) => set.hasCanonical(ip))).toEqual([true, true, true, true, false, false, false, false])
    const singles = new NetworkSet([parseNetwork('192.0.2.1')])
    expect([singles.hasCanonical('192.0.2.1'), singles.hasCanonical('192.0.2.2'), new NetworkSet().hasCanonical('192.0.2.1')]).toEqual([true, false, false])
  })
})
