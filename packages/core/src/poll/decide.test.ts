import { describe, expect, it } from 'vitest'
import type { PendingBan } from '../db/queries/pending.js'
import type { LocalBan } from '../fail2ban/ban-state.js'
import { BanStatus } from '../schema/ban-status.js'
import { NetworkSet, parseNetwork } from '../ban/network.js'
import { toDbTime } from '../time/db-time.js'
import { decide, protectsAsMuch } from './decide.js'

const now = new Date('2026-11-23T12:00:00Z')
const none = new NetworkSet()
const nowS = now.getTime() / 1000
const SHARED = 'f2b-central-shared'
const HOUR = 3600
const DAY = 86400
const WEEK = 7 * DAY
let nextId = 1
/** A fleet ban reported just now with a one-hour ban time, unless told otherwise. */
function ban(ip: string, extra: Partial<PendingBan> = {}): PendingBan {
  const id = nextId++
  return {
    id,
    seq: id,
    ip,
    jail: 'sshd',
    reporter: 'web-1',
    bantime: HOUR,
    expiresAt: toDbTime(new Date(now.getTime() + HOUR * 1000)),
    status: null,
    error: null,
    expired: false,
    revoked: false,
    ...extra,
  }
}
/** A fleet ban of `bantime` seconds with `left` seconds of it to run. */
function fleet(ip: string, bantime: number, left = bantime): PendingBan {
  return ban(ip, { bantime, expiresAt: bantime < 0 ? null : toDbTime(new Date(now.getTime() + left * 1000)) })
}
/** A local ban in `jail`, started `ageSeconds` ago. */
function local(ip: string, jail: string, ageSeconds: number, bantime: number): LocalBan {
  return { ip, jail, timeOfBan: nowS - ageSeconds, bantime }
}
function held(...bans: LocalBan[]): Map<string, LocalBan[]> {
  const out = new Map<string, LocalBan[]>()
  for (const b of bans) out.set(b.ip, [...(out.get(b.ip) ?? []), b])
  return out
}
const statusOf = (bans: PendingBan[], localBans: Map<string, LocalBan[]>) =>
  decide({ bans, local: localBans, sharedJail: SHARED, allPortsJails: ['recidive'], recentBanFraction: 0.4, now, allowlist: none }).decisions.map((d) => d.status)

describe('decide', () => {
  it('applies the status rules', () => {
    const bans = [ban('203.0.113.1'), ban('203.0.113.2', { expired: true }), ban('203.0.113.3'), ban('203.0.113.4'), ban('203.0.113.5')]
    const localBans = held(local('203.0.113.3', SHARED, 100, HOUR), local('203.0.113.4', SHARED, 3000, HOUR), local('203.0.113.5', 'recidive', 99999, -1))
    const { decisions, lines } = decide({ bans, local: localBans, sharedJail: SHARED, recentBanFraction: 0.4, now, allowlist: none, allPortsJails: ['recidive'] })
    expect(decisions.map((d) => [d.ban.ip, d.status])).toEqual([
      ['203.0.113.1', BanStatus.Added],
      ['203.0.113.2', BanStatus.Expired],
      ['203.0.113.3', BanStatus.AlreadyBanned],
      ['203.0.113.4', BanStatus.Pending],
      ['203.0.113.5', BanStatus.AlreadyBanned],
    ])
    expect(lines).toEqual([`2026-11-23 12:00:00 +0000 f2b-central: ban 203.0.113.1 jail=sshd reporter=web-1 ban_id=${bans[0]!.id}\n`])
  })

  describe("a local ban hides the fleet's only when it protects at least as much (issue 11, point 5)", () => {
    const ip = '198.51.100.9'
    it('an sshd ban of port 22 with 9 of its 10 minutes left does not hide a one-week, all-ports fleet ban: applied (1)', () => {
      expect(statusOf([fleet(ip, WEEK)], held(local(ip, 'sshd', 60, 600)))).toEqual([BanStatus.Added])
    })
    it('a port-limited jail never hides it, whatever is left: even a permanent sshd ban', () => {
      expect(statusOf([fleet(ip, HOUR)], held(local(ip, 'sshd', 0, -1)))).toEqual([BanStatus.Added])
    })
    it("the shared jail with more than 40 % of the fleet ban's ban time left: 2; with less: stays 0 (retried until it ends)", () => {
      expect(statusOf([fleet(ip, DAY)], held(local(ip, SHARED, 0, DAY)))).toEqual([BanStatus.AlreadyBanned])
      // 10 minutes of a 10-minute ban is all of the local ban, but not 40 % of a week.
      expect(statusOf([fleet(ip, WEEK)], held(local(ip, SHARED, 0, 600)))).toEqual([BanStatus.Pending])
    })
    it('a jail in fail2ban.allPortsJails (recidive) counts like the shared jail for 2; with less left it is applied (1)', () => {
      expect(statusOf([fleet(ip, DAY)], held(local(ip, 'recidive', DAY, WEEK)))).toEqual([BanStatus.AlreadyBanned])
      expect(statusOf([fleet(ip, WEEK)], held(local(ip, 'recidive', 0, DAY)))).toEqual([BanStatus.Added])
      // Not listed: port-limited.
      expect(
        decide({ bans: [fleet(ip, DAY)], local: held(local(ip, 'recidive', 0, WEEK)), sharedJail: SHARED, allPortsJails: [], recentBanFraction: 0.4, now, allowlist: none })
          .decisions[0]?.status,
      ).toBe(BanStatus.Added)
    })
    it('an all-ports ban that lasts until the fleet ban ends protects as much, however short the part of its ban time', () => {
      // A one-week fleet ban reported 6.5 days ago; the shared jail holds it for another day.
      expect(statusOf([fleet(ip, WEEK, 12 * HOUR)], held(local(ip, SHARED, 0, DAY)))).toEqual([BanStatus.AlreadyBanned])
    })
    it('a permanent fleet ban is matched only by a permanent local one', () => {
      expect(statusOf([fleet(ip, -1)], held(local(ip, SHARED, 0, 10 * WEEK)))).toEqual([BanStatus.Pending])
      expect(statusOf([fleet(ip, -1)], held(local(ip, 'recidive', 0, -1)))).toEqual([BanStatus.AlreadyBanned])
    })
    it('held by several jails: the one that protects most decides', () => {
      expect(statusOf([fleet(ip, DAY)], held(local(ip, 'sshd', 0, -1), local(ip, SHARED, 0, DAY)))).toEqual([BanStatus.AlreadyBanned])
      expect(statusOf([fleet(ip, WEEK)], held(local(ip, 'sshd', 0, WEEK), local(ip, SHARED, 0, 600)))).toEqual([BanStatus.Pending])
    })
    it("equal ban times give the source document's rule: more than the fraction of it left", () => {
      expect(protectsAsMuch(local(ip, SHARED, 0.59 * HOUR, HOUR), { bantime: HOUR, expiresAt: toDbTime(new Date(now.getTime() + 2 * HOUR * 1000)) }, nowS, 0.4)).toBe(true)
      expect(protectsAsMuch(local(ip, SHARED, 0.61 * HOUR, HOUR), { bantime: HOUR, expiresAt: toDbTime(new Date(now.getTime() + 2 * HOUR * 1000)) }, nowS, 0.4)).toBe(false)
    })
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

  it("skips allowlisted addresses (6), and an operator's unban gives 4, taking out of the jail only what this host applied or found already banned", () => {
    const allowlist = new NetworkSet([parseNetwork('203.0.113.0/24')])
    const bans = [
      ban('203.0.113.9'),
      ban('198.51.100.1', { revoked: true, status: BanStatus.Added }),
      ban('198.51.100.2', { revoked: true, status: null }),
      // An unban that failed last poll: kept pending with the error, tried again.
      ban('198.51.100.3', { revoked: true, status: BanStatus.Pending, error: 'cannot unban locally: …' }),
      ban('198.51.100.4', { revoked: true, status: BanStatus.Pending }),
      // Found already in an all-ports jail: the shared jail may hold it for an earlier fleet ban.
      ban('198.51.100.5', { revoked: true, status: BanStatus.AlreadyBanned }),
    ]
    const { decisions, lines, unban } = decide({ bans, local: new Map(), recentBanFraction: 0.4, now, allowlist })
    expect(decisions.map((d) => d.status)).toEqual([BanStatus.Allowlisted, BanStatus.Removed, BanStatus.Removed, BanStatus.Removed, BanStatus.Removed, BanStatus.Removed])
    expect(lines).toEqual([])
    expect(unban).toEqual(['198.51.100.1', '198.51.100.3', '198.51.100.5'])
  })
})
