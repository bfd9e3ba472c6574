// f2b-central bans / bans show, as built, on every dialect: only active bans (not expired,
// not revoked), every filter (address, IPv4/IPv6 network, jail, reporter, since/until,
// limit), the applied count, an address's whole history, and hostile rows shown quoted.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { CentralDb } from '@f2b-central/core/db/db-adapter'
import { BanStatus } from '@f2b-central/core/schema/ban-status'
import { toDbTime } from '@f2b-central/core/time/db-time'
import { createTestDatabase, dialects, type TestDatabase } from './setup/dialects.js'
import { DAY, HOUR, MINUTE, runCli, seedBan, seedHosts, seedStatus } from './setup/operator.js'
import { writeOperatorConfig } from './setup/programs.js'

interface ListedBan {
  id: number
  ip: string
  jail: string
  reporter: string
  createdAt: string
  expiresAt: string | null
  appliedHosts: number
}

const HOSTILE = '1.2.3.4\n5.6.7.8'

describe.each(dialects())('%s: f2b-central bans', (dialect) => {
  let tdb: TestDatabase
  let central: CentralDb
  let config: string
  const bans = (...args: string[]) => runCli(['bans', ...args, '--config', config])
  const listed = async (...args: string[]) => {
    const r = await bans(...args, '--json')
    expect(r.stderr).toBe('')
    expect(r.code).toBe(0)
    return (JSON.parse(r.stdout) as { bans: ListedBan[] }).bans.map((b) => b.ip)
  }

  beforeAll(async () => {
    tdb = await createTestDatabase(dialect)
    central = await tdb.openMigrated()
    config = writeOperatorConfig({ dir: tdb.dir, dbUrl: tdb.url })
    const { 'web-1': w1 = 0, 'web-2': w2 = 0, 'web-3': w3 = 0 } = await seedHosts(central, [{ name: 'web-1' }, { name: 'web-2' }, { name: 'web-3' }])
    const old = await seedBan(central, { ip: '203.0.113.7', reporterId: w1, created: -3 * DAY, expires: -2 * DAY })
    await seedStatus(central, old, w1, BanStatus.Added, { updated: -3 * DAY })
    await seedStatus(central, old, w2, BanStatus.Expired, { updated: -2 * DAY })
    const seven = await seedBan(central, { ip: '203.0.113.7', reporterId: w1, created: -2 * HOUR, expires: HOUR })
    await seedStatus(central, seven, w1, BanStatus.Added)
    await seedStatus(central, seven, w2, BanStatus.AlreadyBanned)
    await seedStatus(central, seven, w3, BanStatus.Error, { error: 'cannot append to shared log /x' })
    const eight = await seedBan(central, { ip: '203.0.113.8', reporterId: w2, created: -30 * MINUTE, expires: null })
    await seedStatus(central, eight, w2, BanStatus.Added)
    await seedBan(central, { ip: '203.0.113.9', reporterId: w2, created: -20 * MINUTE, revoked: -MINUTE })
    await seedBan(central, { ip: '198.51.100.20', jail: 'nginx', reporterId: w1, created: -10 * MINUTE })
    await seedBan(central, { ip: '2001:db8::5', reporterId: w3, created: -5 * MINUTE })
    await seedBan(central, { ip: '2001:db8:1::9', reporterId: w3, created: -4 * MINUTE })
    await seedBan(central, { ip: HOSTILE, reporterId: w1, created: -MINUTE })
  })
  afterAll(async () => {
    await central?.close()
    await tdb?.drop()
  })

  it('lists active bans newest first with how many hosts applied each; a hostile value is shown quoted', async () => {
    const r = await bans()
    expect(r).toMatchObject({ code: 0, stderr: '' })
    const lines = r.stdout.trim().split('\n')
    expect(lines[0]).toMatch(/^ID +ADDRESS +JAIL +REPORTER +REPORTED \(UTC\) +EXPIRES \(UTC\) +APPLIED$/)
    expect(lines.slice(1, -1).map((l) => l.split(/ {2,}/)[1])).toEqual([JSON.stringify(HOSTILE), '2001:db8:1::9', '2001:db8::5', '198.51.100.20', '203.0.113.8', '203.0.113.7'])
    expect(lines.find((l) => l.includes(' 203.0.113.8 '))).toMatch(/ web-2 +\d{4}-\d\d-\d\d \d\d:\d\d:\d\d +never +1\/3$/)
    expect(lines.find((l) => l.includes(' 203.0.113.7 '))).toMatch(/ sshd +web-1 +.* 2\/3$/)
    expect(r.stdout).not.toMatch(/^5\.6\.7\.8/m)
    expect(lines.at(-1)).toBe('6 active bans')
  })

  it('--json carries ids, times and the applied count', async () => {
    const r = await bans('--json', '--ip', '203.0.113.7')
    const out = JSON.parse(r.stdout) as { bans: ListedBan[]; hostCount: number; truncated: boolean }
    expect(out).toMatchObject({ hostCount: 3, truncated: false })
    expect(out.bans).toHaveLength(1)
    expect(out.bans[0]).toMatchObject({ ip: '203.0.113.7', jail: 'sshd', reporter: 'web-1', appliedHosts: 2 })
    expect(Date.parse(out.bans[0]!.expiresAt!) - Date.now()).toBeGreaterThan(50 * MINUTE * 1000)
  })

  // Run side by side: each case is a program start.
  it('filters: address, networks, jail, reporter, since/until', async () => {
    const cases: [string[], string[]][] = [
      [
        ['--ip', '203.0.113.0/24'],
        ['203.0.113.8', '203.0.113.7'],
      ],
      [['--ip', '203.0.113.8/32'], ['203.0.113.8']],
      [
        ['--ip', '0.0.0.0/0'],
        ['198.51.100.20', '203.0.113.8', '203.0.113.7'],
      ],
      [['--ip', '2001:db8::/48'], ['2001:db8::5']],
      [
        ['--ip', '2001:db8::/32'],
        ['2001:db8:1::9', '2001:db8::5'],
      ],
      [['--ip', '2001:DB8::5'], ['2001:db8::5']],
      [['--jail', 'nginx'], ['198.51.100.20']],
      [
        ['--host', 'web-3'],
        ['2001:db8:1::9', '2001:db8::5'],
      ],
      [
        ['--since', '15m'],
        [HOSTILE, '2001:db8:1::9', '2001:db8::5', '198.51.100.20'],
      ],
      [['--until', '1h'], ['203.0.113.7']],
      [
        [
          '--since',
          toDbTime(new Date(Date.now() - 45 * MINUTE * 1000))
            .slice(0, 19)
            .replace(' ', 'T') + 'Z',
          '--until',
          '7m',
        ],
        ['198.51.100.20', '203.0.113.8'],
      ],
      [['--jail', 'sshd', '--host', 'web-2'], ['203.0.113.8']],
      [['--ip', '192.0.2.0/24'], []],
    ]
    const got = await Promise.all(cases.map(([args]) => listed(...args)))
    cases.forEach(([args, expected], i) => expect(got[i], JSON.stringify(args)).toEqual(expected))
  })

  it('--limit cuts the list and says more match', async () => {
    const r = await bans('--limit', '2')
    expect(r.code).toBe(0)
    expect(r.stdout.trim().split('\n')).toHaveLength(4)
    expect(r.stdout).toMatch(/\n2 active bans shown; more match \(raise --limit or narrow the filter\)\n$/)
    const net = JSON.parse((await bans('--ip', '203.0.113.0/24', '--limit', '1', '--json')).stdout) as { bans: ListedBan[]; truncated: boolean }
    expect(net.bans.map((b) => b.ip)).toEqual(['203.0.113.8'])
    expect(net.truncated).toBe(true)
  })

  it('bans show IP: every ban of the address, oldest first, with every host status', async () => {
    const r = await bans('show', '203.0.113.7')
    expect(r).toMatchObject({ code: 0, stderr: '' })
    expect(r.stdout).toMatch(/^203\.0\.113\.7: 2 bans, 1 active\n/)
    const blocks = r.stdout.split('\n\n')
    expect(blocks[1]).toMatch(/^ban \d+ +jail sshd +reported by web-1 at .* expired\n/)
    expect(blocks[1]).toMatch(/\n {2}web-2 +5 expired +/)
    expect(blocks[1]).toMatch(/\n {2}web-3 +0 pending +- *$/m)
    expect(blocks[2]).toMatch(/^ban \d+ +jail sshd +reported by web-1 at .* active\n/)
    expect(blocks[2]).toMatch(/\n {2}web-1 +1 added +\d{4}/)
    expect(blocks[2]).toMatch(/\n {2}web-2 +2 already banned +\d{4}/)
    expect(blocks[2]).toMatch(/\n {2}web-3 +3 error +\d{4}-\d\d-\d\d \d\d:\d\d:\d\d +cannot append to shared log \/x\n?$/)
  })

  it('bans show --json, a revoked ban, and an address never banned', async () => {
    const h = JSON.parse((await bans('show', '203.0.113.7', '--json')).stdout) as {
      ip: string
      bans: { active: boolean; hosts: { host: string; status: number; statusName: string; error: string | null }[] }[]
    }
    expect(h.ip).toBe('203.0.113.7')
    expect(h.bans.map((b) => b.active)).toEqual([false, true])
    expect(h.bans[1]!.hosts).toEqual([
      expect.objectContaining({ host: 'web-1', status: 1, statusName: 'added' }),
      expect.objectContaining({ host: 'web-2', status: 2, statusName: 'already banned' }),
      expect.objectContaining({ host: 'web-3', status: 3, statusName: 'error', error: 'cannot append to shared log /x' }),
    ])
    const revoked = await bans('show', '203.0.113.9')
    expect(revoked.stdout).toMatch(/^203\.0\.113\.9: 1 ban, 0 active\n\nban \d+ .* revoked \d{4}-/)
    const none = await bans('show', '192.0.2.1')
    expect(none).toMatchObject({ code: 0, stdout: '192.0.2.1: no bans recorded\n' })
  })
})

describe.concurrent('f2b-central bans arguments', () => {
  it.each([
    [['--ip', '10.0.0.1/8'], /^f2b-central: bans: invalid --ip "10\.0\.0\.1\/8": host bits set; did you mean 10\.0\.0\.0\/8\?/],
    [['--ip', 'example.org'], /^f2b-central: bans: invalid --ip "example\.org"/],
    [['--since', 'yesterday'], /^f2b-central: bans: invalid --since "yesterday": expected an ISO time/],
    [['--until', '2026-13-45'], /^f2b-central: bans: invalid --until "2026-13-45": not a valid date/],
    [['--limit', '0'], /^f2b-central: bans: invalid --limit "0": expected 1-999999/],
    [['--jail', 'bad jail'], /^f2b-central: bans: invalid jail "bad jail"/],
    [['--host', 'a b'], /^f2b-central: bans: invalid --host "a b"/],
    [['show'], /^f2b-central: bans: `bans show` needs an address/],
    [['show', '1.2.3'], /^f2b-central: bans: invalid address "1\.2\.3": not an IPv4 or IPv6 address/],
    [['show', '1.2.3.4', '--jail', 'sshd'], /^f2b-central: bans: --jail does not apply to `bans show`/],
    [['list'], /^f2b-central: bans: unknown subcommand "list"/],
    [['--frobnicate'], /^f2b-central: bans: Unknown option '--frobnicate'/],
  ])('%j: exit 2 with one line', async (args, message) => {
    const r = await runCli(['bans', ...args, '--config', '/nonexistent.yml'])
    expect(r.code, r.stderr).toBe(2)
    expect(r.stderr).toMatch(message)
    expect(r.stderr.trim().split('\n')).toHaveLength(1)
  })

  it('--help prints the usage', async () => {
    const r = await runCli(['bans', '--help'])
    expect(r).toMatchObject({ code: 0, stderr: '' })
    expect(r.stdout).toMatch(/^usage: f2b-central bans .*\n {7}f2b-central bans show IP/)
  })
})
