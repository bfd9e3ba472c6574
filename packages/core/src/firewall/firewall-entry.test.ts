import { describe, expect, it } from 'vitest'
import { withoutCovered } from './covered-entries.js'
import { bannableNetwork, firewallEntry, remainingTimeout, type FirewallEntry } from './firewall-entry.js'
import { defaultFirewallNames, parseFirewallNames } from './firewall-config.js'
import { IPSET_MAX_TIMEOUT, ipsetChangeScript, ipsetLoadPieces, ipsetLoadScript, loadingSetOf, parseIpsetSave } from './ipset-backend.js'
import { nftChangeScript, nftLoadPieces, nftLoadScript, parseNftSet } from './nft-backend.js'

const e = (ip: string, timeout: number | null = 60): FirewallEntry =>
  firewallEntry(ip, timeout) ??
  (() => {
    throw new Error(ip)
  })()
const NFT = defaultFirewallNames('nftables')
const IPSET = defaultFirewallNames('ipset')

describe('firewall entries', () => {
  it.each(['192.0.2.1', '2001:db8::1', '203.0.113.0/24', '10.1.0.0/16', '2001:db8::/32', '2001:db8:1:2::/64'])('%s is an entry', (ip) => {
    expect(firewallEntry(ip, 5)?.ip).toBe(ip)
  })

  it.each([
    '192.0.2.1\nflush ruleset',
    '192.0.2.1 }',
    '010.0.0.1',
    '2001:DB8::1',
    '10.0.0.0/8',
    '0.0.0.0/0',
    '::/0',
    '2001::/16',
    '203.0.113.7/24',
    '203.0.113.7/32',
    '127.0.0.0/16',
    '224.1.0.0/16',
    'ff02::/32',
    '203.0.113.0/024',
    '',
  ])('%j never becomes an entry', (ip) => {
    expect(firewallEntry(ip, 5)).toBeUndefined()
  })

  it('networks: canonical, /16 or narrower (IPv4), /32 or narrower (IPv6)', () => {
    expect(bannableNetwork('10.1.0.0/16')?.prefix).toBe(16)
    expect(bannableNetwork('10.0.0.0/15')).toBeUndefined()
    expect(bannableNetwork('192.0.2.1')).toBeUndefined()
  })

  it('the timeout is the remaining time, at least 1 s, none for a permanent ban', () => {
    expect(remainingTimeout(10_500, 0)).toBe(11)
    expect(remainingTimeout(100, 1000)).toBe(1)
    expect(remainingTimeout(null, 0)).toBeNull()
  })

  it('a network inside a banned wider one is left out (an interval set refuses the overlap); addresses stay (they have their own set)', () => {
    const kept = withoutCovered([e('10.1.2.3'), e('10.1.0.0/16'), e('10.1.5.0/24'), e('10.2.0.1'), e('2001:db8::1'), e('2001:db8::/32'), e('2001:db8:1::/48')])
    expect(kept.map((x) => x.ip)).toEqual(['10.1.2.3', '10.1.0.0/16', '10.2.0.1', '2001:db8::1', '2001:db8::/32'])
  })

  it('set names: validated, defaulted per backend, never equal', () => {
    expect(parseFirewallNames({ backend: 'ipset', table: 'f2b_central' })).toMatchObject({ setV4: 'f2b-central-v4', setV6: 'f2b-central-v6' })
    expect(() => parseFirewallNames({ backend: 'nftables', table: 'x; flush ruleset' })).toThrow(/firewall.table/)
    expect(() => parseFirewallNames({ backend: 'nftables', table: 't', setV4: 'a', setV6: 'a' })).toThrow(/must differ/)
    expect(() => parseFirewallNames({ backend: 'ipset', table: 't', setV4: 'a'.repeat(32) })).toThrow(/firewall.setV4/)
  })
})

describe('nftables scripts', () => {
  it('a change adds each address bare, deletes it, and adds it with its timeout: one transaction that refreshes timeouts and never fails on a missing element', () => {
    expect(nftChangeScript(NFT, [e('192.0.2.1', 30), e('2001:db8::1', null), e('203.0.113.0/24', 30)], ['192.0.2.9'])).toBe(
      [
        'add element inet f2b_central bans_v4 { 203.0.113.0/24 }',
        'add element inet f2b_central bans_v4_addr { 192.0.2.1, 192.0.2.9 }',
        'add element inet f2b_central bans_v6_addr { 2001:db8::1 }',
        'delete element inet f2b_central bans_v4 { 203.0.113.0/24 }',
        'delete element inet f2b_central bans_v4_addr { 192.0.2.1, 192.0.2.9 }',
        'delete element inet f2b_central bans_v6_addr { 2001:db8::1 }',
        'add element inet f2b_central bans_v4 { 203.0.113.0/24 timeout 30s }',
        'add element inet f2b_central bans_v4_addr { 192.0.2.1 timeout 30s }',
        'add element inet f2b_central bans_v6_addr { 2001:db8::1 }',
        '',
      ].join('\n'),
    )
    expect(nftChangeScript(NFT, [], [])).toBe('')
  })

  it('refuses anything not built as an entry, at the last moment', () => {
    expect(() => nftChangeScript(NFT, [{ ip: '1.2.3.4 }; flush ruleset', version: 4, timeout: 5 }], [])).toThrow(/not a firewall entry/)
    expect(() => nftChangeScript(NFT, [], ['1.2.3.4\nflush ruleset'])).toThrow(/not a firewall entry/)
    expect(() => nftLoadScript(NFT, false, [{ ip: '1.2.3.4', version: 4, timeout: 1.5 }])).toThrow(/bad timeout/)
  })

  it('a load without forward has an empty forward chain (so turning forward off takes the rules out)', () => {
    const script = nftLoadScript(NFT, false, [e('192.0.2.1')])
    expect(script).toContain('flush chain inet f2b_central forward\n')
    expect(script).not.toContain('add rule inet f2b_central forward')
    expect(script).toContain(
      'add set inet f2b_central bans_v4 { type ipv4_addr; flags interval, timeout; }\nadd set inet f2b_central bans_v4_addr { type ipv4_addr; flags timeout; }\n',
    )
    expect(script.match(/^add rule inet f2b_central input (ip|ip6) saddr @\S+ drop$/gm)).toHaveLength(4)
  })

  it('reads `nft -j list set`: plain elements, timeouts, prefixes', () => {
    const into = new Map<string, number | null>()
    parseNftSet(
      JSON.stringify({
        nftables: [
          { metainfo: {} },
          {
            set: {
              elem: [
                '10.2.0.5',
                { elem: { val: '10.0.0.1', timeout: 999, expires: 998 } },
                { elem: { val: { prefix: { addr: '10.1.0.0', len: 16 } }, timeout: 50, expires: 49 } },
                { prefix: { addr: '10.3.0.0', len: 24 } },
              ],
            },
          },
        ],
      }),
      into,
    )
    expect([...into]).toEqual([
      ['10.2.0.5', null],
      ['10.0.0.1', 998],
      ['10.1.0.0/16', 49],
      ['10.3.0.0/24', null],
    ])
  })
})

describe('ipset scripts', () => {
  it('a load fills loading sets with -exist and swaps them in; timeouts are capped at what ipset takes; 0 is permanent', () => {
    expect(ipsetLoadScript(IPSET, [e('192.0.2.1', 10 * IPSET_MAX_TIMEOUT), e('203.0.113.0/24', null), e('2001:db8::1', 5)])).toBe(
      [
        'create f2b-central-v4 hash:net family inet timeout 0 maxelem 1048576 -exist',
        'create f2b-central-v6 hash:net family inet6 timeout 0 maxelem 1048576 -exist',
        'create f2b-central-v4-load4 hash:net family inet timeout 0 maxelem 1048576 -exist',
        'create f2b-central-v6-load6 hash:net family inet6 timeout 0 maxelem 1048576 -exist',
        'flush f2b-central-v4-load4',
        'flush f2b-central-v6-load6',
        `add f2b-central-v4-load4 192.0.2.1 timeout ${IPSET_MAX_TIMEOUT} -exist`,
        'add f2b-central-v4-load4 203.0.113.0/24 timeout 0 -exist',
        'add f2b-central-v6-load6 2001:db8::1 timeout 5 -exist',
        'swap f2b-central-v4-load4 f2b-central-v4',
        'swap f2b-central-v6-load6 f2b-central-v6',
        'destroy f2b-central-v4-load4',
        'destroy f2b-central-v6-load6',
        '',
      ].join('\n'),
    )
  })

  it("the loading sets of 31-character names stay within ipset's 31 and differ by family", () => {
    const names = { ...IPSET, setV4: `a${'x'.repeat(29)}4`, setV6: `a${'x'.repeat(29)}6` }
    expect(loadingSetOf(names, 4)).toHaveLength(31)
    expect(loadingSetOf(names, 4)).not.toBe(loadingSetOf(names, 6))
  })

  it('a load streamed in pieces is the script, and a bad entry anywhere stops it before the first piece (nothing flushed)', () => {
    const many = Array.from({ length: 4500 }, (_, i) => e(`10.0.${i >> 8}.${i & 255}`, 60))
    const ipset = [...ipsetLoadPieces(IPSET, many)]
    const nft = [...nftLoadPieces(NFT, true, many)]
    expect(ipset.length).toBeGreaterThan(2)
    expect(nft.length).toBeGreaterThan(2)
    expect(ipset.join('')).toBe(ipsetLoadScript(IPSET, many))
    expect(nft.join('')).toBe(nftLoadScript(NFT, true, many))
    const planted = [...many, { ip: '10.9.9.9 timeout 1\nflush f2b-central-v4', version: 4 as const, timeout: 5 }]
    expect(() => ipsetLoadPieces(IPSET, planted)).toThrow(/not a firewall entry/)
    expect(() => nftLoadPieces(NFT, true, planted)).toThrow(/not a firewall entry/)
  })

  it('a change deletes with -exist and adds (which sets the timeout of an entry already there)', () => {
    expect(ipsetChangeScript(IPSET, [e('2001:db8::1', 5)], ['192.0.2.9'])).toBe('del f2b-central-v4 192.0.2.9 -exist\nadd f2b-central-v6 2001:db8::1 timeout 5 -exist\n')
  })

  it('reads `ipset save`', () => {
    const into = new Map<string, number | null>()
    parseIpsetSave(
      'create f2b-central-v4 hash:net family inet hashsize 1024 maxelem 65536 timeout 0\nadd f2b-central-v4 10.0.0.1 timeout 4565\nadd f2b-central-v4 10.1.0.0/16 timeout 0\n',
      into,
    )
    expect([...into]).toEqual([
      ['10.0.0.1', 4565],
      ['10.1.0.0/16', null],
    ])
  })
})
