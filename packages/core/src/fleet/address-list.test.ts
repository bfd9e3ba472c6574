import { describe, expect, it } from 'vitest'
import { parseAddressList } from './address-list.js'

describe('parseAddressList', () => {
  it('keeps valid addresses once, in canonical form, and reports the rest by line', () => {
    const list = parseAddressList(
      [
        '# comment',
        '203.0.113.7',
        '203.0.113.7 # again',
        '2001:DB8::1\r',
        '::ffff:198.51.100.1',
        '198.51.100.0/24',
        '198.51.100.2/32',
        '2001:db8::/128',
        'x',
        '10.0.0.1/33',
        '1.2.3.4/24/1',
        '',
        '::1',
      ].join('\n'),
    )
    expect(list.addresses).toEqual([
      { line: 2, ip: '203.0.113.7' },
      { line: 4, ip: '2001:db8::1' },
      { line: 5, ip: '198.51.100.1' },
      { line: 7, ip: '198.51.100.2' },
      { line: 8, ip: '2001:db8::' },
    ])
    expect(list.duplicates).toBe(1)
    expect(list.unsupported).toEqual([{ line: 6, text: '198.51.100.0/24', problem: 'networks larger than one address are not supported yet' }])
    expect(list.invalid).toEqual([
      { line: 9, text: 'x', problem: 'not an IPv4 or IPv6 address' },
      { line: 10, text: '10.0.0.1/33', problem: 'prefix must be 0-32' },
      { line: 11, text: '1.2.3.4/24/1', problem: 'expected ADDRESS or ADDRESS/PREFIX' },
      { line: 13, text: '::1', problem: 'loopback addresses cannot be banned' },
    ])
  })

  it('an address that is also the unspecified address as /128 is still refused', () => {
    expect(parseAddressList('::/128\n').invalid).toHaveLength(1)
  })
})
