import { describe, expect, it } from 'vitest'
import { InvalidValueError } from '../errors.js'
import { isCanonicalIp, parseIp } from './ip-address.js'

describe('parseIp', () => {
  it.each([
    ['203.0.113.7', '203.0.113.7', 4],
    ['2001:DB8:0:0:0:0:0:7', '2001:db8::7', 6],
    ['2001:db8:0000:0001:0:0:0:1', '2001:db8:0:1::1', 6],
    ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1', 6],
    ['2001:0:0:1:0:0:0:1', '2001:0:0:1::1', 6],
    ['2001:db8:1:1:1:1:1:0', '2001:db8:1:1:1:1:1:0', 6],
    ['::ffff:198.51.100.9', '198.51.100.9', 4],
    ['::FFFF:c633:6409', '198.51.100.9', 4],
    ['64:ff9b::192.0.2.1', '64:ff9b::c000:201', 6],
  ])('%s → %s', (input, text, version) => {
    expect(parseIp(input)).toEqual({ text, version })
  })

  it.each([
    ['', 'empty'],
    ['010.000.000.001', 'not an IPv4'],
    ['1.2.3', 'not an IPv4'],
    ['1.2.3.256', 'not an IPv4'],
    ['1.2.3.4/32', 'not an IPv4'],
    ['0.0.0.0/0', 'not an IPv4'],
    ['1.2.3.4\n2026-01-01 00:00:00 f2b-central: ban 10.0.0.1', 'longer than'],
    ['1.2.3.4 ', 'not an IPv4'],
    ['١.٢.٣.٤', 'not an IPv4'],
    ['１.２.３.４', 'not an IPv4'],
    ['fe80::1%eth0', 'zone ids'],
    ['$(reboot)', 'not an IPv4'],
    ['0.0.0.0', 'unspecified'],
    ['127.0.0.1', 'loopback'],
    ['::1', 'loopback'],
    ['::', 'unspecified'],
    ['224.0.0.1', 'multicast'],
    ['ff02::1', 'multicast'],
    ['255.255.255.255', 'broadcast'],
    ['::ffff:127.0.0.1', 'loopback'],
    ['x'.repeat(10_000), 'longer than'],
  ])('refuses %j (%s)', (input, problem) => {
    expect(() => parseIp(input)).toThrow(InvalidValueError)
    expect(() => parseIp(input)).toThrow(problem)
  })

  it('isCanonicalIp accepts only the canonical text', () => {
    expect(isCanonicalIp('2001:db8::7')).toBe(true)
    expect(isCanonicalIp('2001:DB8::7')).toBe(false)
    expect(isCanonicalIp('::ffff:1.2.3.4')).toBe(false)
    expect(isCanonicalIp('1.2.3.4\n')).toBe(false)
  })
})
