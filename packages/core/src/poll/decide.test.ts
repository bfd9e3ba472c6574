import { describe, expect, it } from 'vitest'
import type { PendingBan } from '../db/queries/pending.js'
import type { LocalBan } from '../fail2ban/ban-state.js'
import { BanStatus } from '../schema/ban-status.js'
import { NetworkSet, parseNetwork } from '../ban/network.js'
import { decide } from './decide.js'

const now = new Date('2026-11-23T12:00:00Z')
const none = new NetworkSet()
const nowS = now.getTime() / 1000
let nextId = 1
function ban(ip: string, extra: Partial<PendingBan> = {}): PendingBan {
  const id = nextId++
  return { id, seq: id, ip, jail: 'sshd', reporter: 'web-1', status: null, error: null, expired: false, revoked: false, ...extra }
}
function held(ip: string, ageSeconds: number, bantime: number): [string, LocalBan] {
  return [ip, { ip, jail: 'sshd', timeOfBan: nowS - ageSeconds, bantime }]
}

describe('decide', () => {
  it('applies the status rules', () => {
    const bans = [ban('203.0.113.1'), ban('203.0.113.2', { expired: true }), ban('203.0.113.3'), ban('203.0.113.4'), ban('203.0.113.5')]
    const local = new Map([held('203.0.113.3', 100, 1000), held('203.0.113.4', 900, 1000), held('203.0.113.5', 99999, -1)])
    const { decisions, lines } = decide({ bans, local, recentBanFraction: 0.4, now, allowlist: none })
    expect(decisions.map((d) => [d.ban.ip, d.status])).toEqual([
      ['203.0.113.1', BanStatus.Added],
      ['203.0.113.2', BanStatus.Expired],
      ['203.0.113.3', BanStatus.AlreadyBanned],
      ['203.0.113.4', BanStatus.Pending],
      ['203.0.113.5', BanStatus.AlreadyBanned],
    ])
    expect(lines).toEqual([`2026-11-23 12:00:00 +0000 f2b-central: ban 203.0.113.1 jail=sshd reporter=web-1 ban_id=${bans[0]!.id}\n`])
  })

  it('writes one line for an address reported twice, and marks both added', () => {
    const { decisions, lines } = decide({ bans: [ban('2001:db8::1'), ban('2001:db8::1', { jail: 'nginx' })], local: new Map(), recentBanFraction: 0.4, now, allowlist: none })
    expect(lines).toHaveLength(1)
    expect(decisions.map((d) => d.status)).toEqual([BanStatus.Added, BanStatus.Added])
  })

  it.each([
    [{ ip: '1.2.3.4\n2026-11-23 12:00:00 +0000 f2b-central: ban 10.0.0.1 jail=x reporter=y ban_id=1' }, /invalid ip/],
    [{ ip: '0.0.0.0/0' }, /invalid ip/],
    [{ ip: '$(reboot)' }, /invalid ip/],
    [{ ip: '010.0.0.1' }, /invalid ip/],
    [{ ip: '2001:DB8::1' }, /invalid ip/],
    [{ jail: 'j'.repeat(200) }, /invalid jail/],
    [{ reporter: 'evil\nhost' }, /invalid reporter/],
  ])('refuses a hostile stored row %j with status 3 and no line', (fields, reason) => {
    const { decisions, lines } = decide({ bans: [ban('203.0.113.50', fields)], local: new Map(), recentBanFraction: 0.4, now, allowlist: none })
    expect(lines).toEqual([])
    expect(decisions[0]?.status).toBe(BanStatus.Error)
    expect(decisions[0]?.error).toMatch(reason)
  })

  it('skips allowlisted addresses (6), and an operator\'s unban gives 4, taking out of the jail only what this host applied', () => {
    const allowlist = new NetworkSet([parseNetwork('203.0.113.0/24')])
    const bans = [
      ban('203.0.113.9'),
      ban('198.51.100.1', { revoked: true, status: BanStatus.Added }),
      ban('198.51.100.2', { revoked: true, status: null }),
      // An unban that failed last poll: kept pending with the error, tried again.
      ban('198.51.100.3', { revoked: true, status: BanStatus.Pending, error: 'cannot unban locally: …' }),
      ban('198.51.100.4', { revoked: true, status: BanStatus.Pending }),
    ]
    const { decisions, lines, unban } = decide({ bans, local: new Map(), recentBanFraction: 0.4, now, allowlist })
    expect(decisions.map((d) => d.status)).toEqual([BanStatus.Allowlisted, BanStatus.Removed, BanStatus.Removed, BanStatus.Removed, BanStatus.Removed])
    expect(lines).toEqual([])
    expect(unban).toEqual(['198.51.100.1', '198.51.100.3'])
  })
})
