// f2b-central export, as built, on every dialect: the active ban list as a plain list, an
// ipset restore script, an nftables script and JSON; expired, revoked and allowlisted
// addresses left out, and hostile stored values never printed. The ipset and nft scripts are
// loaded by the real tools inside a network namespace made for the test (never the host's
// own firewall), then read back.
import { execFile } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { CentralDb } from '@f2b-central/core/db/db-adapter'
import { requirePrograms } from '../scripts/test-machine.mjs'
import { createTestDatabase, dialects, type TestDatabase } from './setup/dialects.js'
import { DAY, HOUR, runCli, seedBan, seedHosts } from './setup/operator.js'
import { writeOperatorConfig } from './setup/programs.js'

const V4 = ['192.0.2.9', '198.51.100.200', '203.0.113.7']
// Each family in the order of the stored text (the list is read page by page in that order).
const V6 = ['2001:db8::1:0:0:1', '2001:db8::7']
const HOSTILE = ['203.0.113.50\n$(reboot)', '10.0.0.0/24', '010.0.0.1', '2001:DB8::99']

function exec(argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(argv[0]!, argv.slice(1), { timeout: 20_000, encoding: 'utf8' }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr })
    })
  })
}

// Only root may load the scripts for real (in a network namespace); as another user only the text is checked.
const AS_ROOT = process.getuid?.() === 0

describe.each(dialects())('%s: f2b-central export', (dialect) => {
  let tdb: TestDatabase
  let central: CentralDb
  let config: string
  const exportAs = (...args: string[]) => runCli(['export', ...args, '--config', config])

  beforeAll(async () => {
    tdb = await createTestDatabase(dialect)
    central = await tdb.openMigrated()
    config = writeOperatorConfig({ dir: tdb.dir, dbUrl: tdb.url })
    const { a = 0 } = await seedHosts(central, [{ name: 'a' }])
    // Inserted out of order, one address twice (one of its bans permanent).
    for (const ip of [...V6].reverse()) await seedBan(central, { ip, reporterId: a, created: -HOUR, expires: HOUR })
    for (const ip of [...V4].reverse()) await seedBan(central, { ip, reporterId: a, created: -HOUR, expires: DAY })
    await seedBan(central, { ip: '203.0.113.7', reporterId: a, created: -HOUR, expires: null })
    await seedBan(central, { ip: '192.0.2.200', reporterId: a, created: -2 * DAY, expires: -DAY })
    await seedBan(central, { ip: '192.0.2.201', reporterId: a, created: -HOUR, revoked: -60 })
    await seedBan(central, { ip: '198.51.100.1', reporterId: a, created: -HOUR })
    await central.db.insertInto('allowlist').values({ network: '198.51.100.0/28', added_by: 'test', reason: 'office' }).execute()
    for (const ip of HOSTILE) await seedBan(central, { ip, reporterId: a, created: -HOUR })
  })
  afterAll(async () => {
    await central?.close()
    await tdb?.drop()
  })

  it('plain (the default): one address a line, IPv4 then IPv6; hostile values left out with a warning', async () => {
    const r = await exportAs()
    expect(r.code).toBe(0)
    expect(r.stdout).toBe([...V4, ...V6].map((ip) => `${ip}\n`).join(''))
    expect(r.stderr).toBe(
      `f2b-central: export: left out 4 stored values that are not a valid address: ${HOSTILE.map((h) => JSON.stringify(h))
        .sort()
        .join(', ')}\n`.replace(/: (.*)\n$/, (_, list: string) => `: ${list}\n`),
    )
  })

  it('json: every address with its version and last expiry (null: permanent)', async () => {
    const r = await exportAs('--json')
    const out = JSON.parse(r.stdout) as { count: number; allowlisted: number; rejected: number; addresses: { ip: string; version: number; expiresAt: string | null }[] }
    expect(out).toMatchObject({ count: 5, allowlisted: 1, rejected: 4 })
    expect(out.addresses.map((a) => [a.ip, a.version])).toEqual([...V4.map((ip) => [ip, 4]), ...V6.map((ip) => [ip, 6])])
    expect(out.addresses.find((a) => a.ip === '203.0.113.7')!.expiresAt).toBeNull()
    expect(Date.parse(out.addresses.find((a) => a.ip === '192.0.2.9')!.expiresAt!) - Date.now()).toBeGreaterThan(DAY * 1000 - 5 * 60_000)
    expect(JSON.parse((await exportAs('--format', 'json')).stdout)).toEqual(out)
  })

  // What readdb's firewall mode loads (issue 13): timeouts are the fleet bans' remaining seconds, a
  // network of at least /16 is a CIDR ban, and the other hostile values are left out.
  const seconds = (text: string) => text.replace(/ timeout [1-9]\d*(s?)/g, ' timeout N$1')
  const HOSTILE_LEFT_OUT = HOSTILE.filter((h) => h !== '10.0.0.0/24')

  it('ipset: the `ipset restore -exist` script of the firewall mode: hash:net sets with timeouts, filled as loading sets and swapped in, each entry with its remaining time', async () => {
    const r = await exportAs('--format', 'ipset', '--set', 'fleet')
    expect(r.code, r.stderr).toBe(0)
    expect(seconds(r.stdout)).toBe(
      [
        'create fleet-v4 hash:net family inet timeout 0 maxelem 1048576 -exist',
        'create fleet-v6 hash:net family inet6 timeout 0 maxelem 1048576 -exist',
        'create fleet-v4-load4 hash:net family inet timeout 0 maxelem 1048576 -exist',
        'create fleet-v6-load6 hash:net family inet6 timeout 0 maxelem 1048576 -exist',
        'flush fleet-v4-load4',
        'flush fleet-v6-load6',
        'add fleet-v4-load4 10.0.0.0/24 timeout N -exist',
        ...V4.map((ip) => `add fleet-v4-load4 ${ip} timeout ${ip === '203.0.113.7' ? '0' : 'N'} -exist`),
        ...V6.map((ip) => `add fleet-v6-load6 ${ip} timeout N -exist`),
        'swap fleet-v4-load4 fleet-v4',
        'swap fleet-v6-load6 fleet-v6',
        'destroy fleet-v4-load4',
        'destroy fleet-v6-load6',
        '',
      ].join('\n'),
    )
    // The remaining time, not the ban time: a day-long ban reported an hour ago has about 23 h left; the permanent one none.
    expect(Number(/add fleet-v4-load4 192\.0\.2\.9 timeout (\d+)/.exec(r.stdout)?.[1])).toBeGreaterThan(86400 - 120)
    expect(Number(/add fleet-v4-load4 10\.0\.0\.0\/24 timeout (\d+)/.exec(r.stdout)?.[1])).toBeLessThanOrEqual(82800)
    expect(r.stderr).toBe(
      `f2b-central: export: left out 3 stored values that are not a valid address or bannable network: ${HOSTILE_LEFT_OUT.map((h) => JSON.stringify(h))
        .sort()
        .join(', ')}\n`,
    )
  })

  it('nft: the `nft -f` script of the firewall mode: table, interval+timeout sets, the input chain, flushed sets, elements with timeouts', async () => {
    const r = await exportAs('--format', 'nft', '--table', 'fleet', '--set', 'banned')
    expect(seconds(r.stdout)).toBe(
      [
        'add table inet fleet',
        'add set inet fleet banned-v4 { type ipv4_addr; flags interval, timeout; }',
        'add set inet fleet banned-v4_addr { type ipv4_addr; flags timeout; }',
        'add set inet fleet banned-v6 { type ipv6_addr; flags interval, timeout; }',
        'add set inet fleet banned-v6_addr { type ipv6_addr; flags timeout; }',
        'add chain inet fleet input { type filter hook input priority -10; policy accept; }',
        'flush chain inet fleet input',
        'add rule inet fleet input ip saddr @banned-v4 drop',
        'add rule inet fleet input ip saddr @banned-v4_addr drop',
        'add rule inet fleet input ip6 saddr @banned-v6 drop',
        'add rule inet fleet input ip6 saddr @banned-v6_addr drop',
        'add chain inet fleet forward { type filter hook forward priority -10; policy accept; }',
        'flush chain inet fleet forward',
        'flush set inet fleet banned-v4',
        'flush set inet fleet banned-v4_addr',
        'flush set inet fleet banned-v6',
        'flush set inet fleet banned-v6_addr',
        'add element inet fleet banned-v4 { 10.0.0.0/24 timeout Ns }',
        `add element inet fleet banned-v4_addr { ${V4.map((ip) => (ip === '203.0.113.7' ? ip : `${ip} timeout Ns`)).join(', ')} }`,
        `add element inet fleet banned-v6_addr { ${V6.map((ip) => `${ip} timeout Ns`).join(', ')} }`,
        '',
      ].join('\n'),
    )
    expect((await exportAs('--format', 'nft', '--forward')).stdout).toContain('add rule inet f2b_central forward ip saddr @bans_v4 drop\n')
  })

  describe.runIf(AS_ROOT)('loaded by the real ipset and nft in a private network namespace', () => {
    const ns = `f2bexport-${process.pid}-${randomBytes(3).toString('hex')}`
    const inNs = (...argv: string[]) => exec(['ip', 'netns', 'exec', ns, ...argv])

    beforeAll(async () => {
      requirePrograms('ip', 'ipset', 'nft')
      const r = await exec(['ip', 'netns', 'add', ns])
      if (r.code !== 0) throw new Error(`ip netns add ${ns}: ${r.stderr}`)
    })
    afterAll(async () => {
      await exec(['ip', 'netns', 'del', ns])
    })

    it('ipset restore takes the script, twice (it is idempotent), and holds exactly the entries', async () => {
      const file = join(tdb.dir, 'bans.ipset')
      writeFileSync(file, (await exportAs('--format', 'ipset')).stdout)
      for (let i = 0; i < 2; i++) expect(await inNs('ipset', '-exist', '-file', file, 'restore')).toMatchObject({ code: 0, stderr: '' })
      const saved = (await inNs('ipset', 'save')).stdout
      const members = (set: string) =>
        saved
          .split('\n')
          .filter((l) => l.startsWith(`add ${set} `))
          .map((l) => l.split(' ')[2])
          .sort()
      expect(members('f2b-central-v4')).toEqual(['10.0.0.0/24', ...V4].sort())
      expect(members('f2b-central-v6')).toEqual([...V6].sort())
      expect(saved).toMatch(/^create f2b-central-v4 hash:net family inet .*timeout 0/m)
      expect(saved).toMatch(/^create f2b-central-v6 hash:net family inet6 .*timeout 0/m)
    })

    it('nft -f takes the script, twice, and the sets hold exactly the entries', async () => {
      const file = join(tdb.dir, 'bans.nft')
      writeFileSync(file, (await exportAs('--format', 'nft')).stdout)
      for (let i = 0; i < 2; i++) expect(await inNs('nft', '-f', file)).toMatchObject({ code: 0, stderr: '' })
      const elements = async (set: string) => {
        const out = JSON.parse((await inNs('nft', '-j', 'list', 'set', 'inet', 'f2b_central', set)).stdout) as { nftables: { set?: { elem?: unknown[] } }[] }
        const text = (v: unknown): string => {
          if (typeof v === 'string') return v
          const e = v as { elem?: { val: unknown }; prefix?: { addr: string; len: number } }
          if (e.elem) return text(e.elem.val)
          return e.prefix ? `${e.prefix.addr}/${e.prefix.len}` : JSON.stringify(v)
        }
        return (out.nftables.find((o) => o.set)?.set?.elem ?? []).map(text).sort()
      }
      expect(await elements('bans_v4')).toEqual(['10.0.0.0/24'])
      expect(await elements('bans_v4_addr')).toEqual([...V4].sort())
      expect(await elements('bans_v6')).toEqual([])
      expect(await elements('bans_v6_addr')).toEqual([...V6].sort())
    })
  })
})

describe.concurrent('f2b-central export arguments', () => {
  it.each([
    [['--format', 'xml'], /^f2b-central: export: invalid --format "xml": expected plain, ipset, nft, json/],
    [['--set', 'bad name'], /^f2b-central: export: invalid --set "bad name"/],
    [['--set', 'a'.repeat(29)], /^f2b-central: export: invalid --set "a{29}"/],
    [['--table', '1table'], /^f2b-central: export: invalid --table "1table"/],
    [['everything'], /^f2b-central: export: Unexpected argument 'everything'/],
  ])('%j: exit 2 with one line', async (args, message) => {
    const r = await runCli(['export', ...args, '--config', '/nonexistent.yml'])
    expect(r.code, r.stderr).toBe(2)
    expect(r.stderr).toMatch(message)
    expect(r.stderr.trim().split('\n')).toHaveLength(1)
  })
})
