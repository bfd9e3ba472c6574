// Issue 4 (allowlist, flood guard) and issue 5 (unban reaches a real fail2ban): the built
// programs against a private fail2ban server, on every dialect.
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { sql } from 'kysely'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { CentralDb } from '@f2b-central/core/db/db-adapter'
import { insertBan } from '@f2b-central/core/db/queries/bans'
import { registerHostAddresses } from '@f2b-central/core/db/queries/allowlist'
import { registerHost } from '@f2b-central/core/db/queries/hosts'
import { parseNetwork } from '@f2b-central/core/ban/network'
import { ownAddresses } from '@f2b-central/core/own-addresses'
import { createFail2banStateDb } from '../scripts/fail2ban-state-db.mjs'
import { BanStatus } from '@f2b-central/core/schema/ban-status'
import { createTestDatabase, dialects, type TestDatabase } from './setup/dialects.js'
import { Fail2banServer, waitUntil } from './setup/fail2ban-server.js'
import { at } from './setup/operator.js'
import { BIN, runProgram, writeHostConfig, writeOperatorConfig } from './setup/programs.js'

const SHARED = 'f2b-central-shared'
const report = (ip: string) => ({ ip, jail: 'sshd', protocol: 'tcp', port: 'ssh', bantime: 3600 })

describe.each(dialects())('%s: allowlist, unban and flood limit', (dialect) => {
  let tdb: TestDatabase
  let central: CentralDb
  let f2b: Fail2banServer
  let host: string
  let reporter: string
  let reporter2: string
  let operator: string

  beforeAll(async () => {
    tdb = await createTestDatabase(dialect)
    central = await tdb.openMigrated()
    f2b = await Fail2banServer.start({
      name: `unban-${dialect}`,
      shippedFiles: true,
      // DEBUG: waitForSharedLogRead sees the action thread handle each line ('already banned').
      files: { 'fail2ban.d/debug.local': '[DEFAULT]\nloglevel = DEBUG\n' },
      // `local` stands for one of the host's own jails (sshd …) holding an address too.
      jails: (dir) =>
        `[${SHARED}]\nenabled = true\nlogpath = ${join(dir, 'shared.log')}\nbackend = polling\n[local]\nenabled = true\nfilter = f2b-central\nlogpath = ${join(dir, 'local.log')}\n`,
      beforeStart: (s) => {
        writeFileSync(s.path('shared.log'), '')
        writeFileSync(s.path('local.log'), '')
      },
    })
    host = writeHostConfig({ dir: tdb.dir, name: 'db-1', dbUrl: tdb.url, sharedLog: f2b.path('shared.log'), fail2ban: { client: f2b.clientArgv(), sharedJail: SHARED } })
    reporter = writeHostConfig({ dir: tdb.dir, name: 'web-1', dbUrl: tdb.url, extra: { allowlist: ['192.0.2.128/25'] } })
    reporter2 = writeHostConfig({ dir: tdb.dir, name: 'web-2', dbUrl: tdb.url })
    operator = writeOperatorConfig({ dir: tdb.dir, name: 'ops-1', dbUrl: tdb.url })
    expect((await readdb()).code).toBe(0)
  }, 60_000)
  afterAll(async () => {
    await f2b?.stop()
    await central?.close()
    await tdb?.drop()
  })

  const readdb = () => runProgram(BIN.readdb, ['--config', host])
  const add2db = (ip: string) => runProgram(BIN.add2db, ['--config', reporter, '--jail', 'sshd', '--ip', ip])
  const cli = (...args: string[]) => runProgram(BIN.cli, [...args, '--config', operator])
  const statusOf = async (ip: string) =>
    (await central.db.selectFrom('ban_host_status').select('status').where('ip', '=', ip).where('host', '=', 'db-1').execute()).map((r) => Number(r.status))
  const stored = async (ip: string) => (await central.db.selectFrom('bans').select('id').where('ip', '=', ip).execute()).length

  it('unban takes an applied address out of the shared jail and records 4; --allow keeps it out', async () => {
    for (const ip of ['203.0.113.40', '2001:db8:40::1']) expect((await add2db(ip)).code).toBe(0)
    expect((await readdb()).code).toBe(0)
    await f2b.waitForBan(SHARED, '203.0.113.40')
    await f2b.waitForBan(SHARED, '2001:db8:40::1')
    // The hand-over banned them before fail2ban read their lines: a line read after the unban bans again.
    for (const ip of ['203.0.113.40', '2001:db8:40::1']) await f2b.waitForSharedLogRead(SHARED, ip, f2b.path('shared.log'))

    const u = await cli('unban', '203.0.113.40')
    expect(u).toMatchObject({ code: 0, stdout: '203.0.113.40/32: ended 1 active ban(s) of 1 address(es); hosts take them out of their shared jail at their next poll\n' })
    const v6 = await cli('unban', '2001:db8:40::/48', '--allow', '--json')
    expect(JSON.parse(v6.stdout)).toEqual({ network: '2001:db8:40::/48', bansEnded: 1, addresses: ['2001:db8:40::1'], allowlisted: true })

    const poll = await readdb()
    expect(JSON.parse(poll.stdout)).toMatchObject({ removed: 2 })
    await waitUntil('the addresses to leave the shared jail', async () => (await f2b.bannedIps(SHARED)).length === 0, 10_000)
    expect(await statusOf('203.0.113.40')).toEqual([BanStatus.Removed])
    expect(await statusOf('2001:db8:40::1')).toEqual([BanStatus.Removed])
    // Allowlisted by --allow: a new report is not stored.
    const again = await add2db('2001:db8:40::1')
    expect(again).toMatchObject({ code: 0, stderr: 'add2db: 2001:db8:40::1 is allowlisted (central allowlist); not reported\n' })
    expect(await stored('2001:db8:40::1')).toBe(1)
  })

  // `unban` ends every active ban of the address at once, so a revoked and an active ban of one
  // address meet in a host's poll when the address is reported again after the unban and before
  // that host polls. The host must then keep it banned (stillBanned in poll.ts), and take it
  // out only once an unban has ended the last ban naming it.
  it("an operator's unban takes the address out of the shared jail only when no other active ban still names it", async () => {
    const ip = '203.0.113.45'
    const bansOfIp = () => central.db.selectFrom('bans').select(['id', 'revoked_at']).where('ip', '=', ip).orderBy('id').execute()
    const statusesOf = async (id: number) =>
      (await central.db.selectFrom('ban_host_status').select('status').where('ban_id', '=', id).where('host', '=', 'db-1').execute()).map((r) => Number(r.status))
    expect((await add2db(ip)).code).toBe(0)
    expect((await readdb()).code).toBe(0)
    await f2b.waitForBan(SHARED, ip)
    await f2b.waitForSharedLogRead(SHARED, ip, f2b.path('shared.log'))

    expect((await cli('unban', ip)).stdout).toMatch(/^203\.0\.113\.45\/32: ended 1 active ban/)
    // web-2 sees the same address attack it and reports it again, in another jail, before db-1 polls.
    expect(await runProgram(BIN.add2db, ['--config', reporter2, '--jail', 'nginx', '--ip', ip])).toMatchObject({ code: 0, stderr: '' })
    const [ended, again] = await bansOfIp()
    expect(ended?.revoked_at).not.toBeNull()
    expect(again?.revoked_at).toBeNull()

    expect((await readdb()).code).toBe(0)
    expect(await statusesOf(ended!.id)).toEqual([BanStatus.Removed])
    expect([BanStatus.Added, BanStatus.AlreadyBanned]).toContain((await statusesOf(again!.id))[0])
    // readdb has exited: any unban it made has been done by fail2ban-client already.
    expect(await f2b.bannedIps(SHARED)).toContain(ip)
    await f2b.waitForSharedLogRead(SHARED, ip, f2b.path('shared.log'))

    expect((await cli('unban', ip)).stdout).toMatch(/^203\.0\.113\.45\/32: ended 1 active ban/)
    expect((await readdb()).code).toBe(0)
    expect(await statusesOf(again!.id)).toEqual([BanStatus.Removed])
    expect(await f2b.bannedIps(SHARED)).not.toContain(ip)
  })

  it('a local ban ends when the fleet ban ends, unless another active ban still names the address', async () => {
    const short = '203.0.113.42'
    const twice = '203.0.113.43'
    // Long enough to be applied first on a slow machine, short enough to wait out.
    expect((await runProgram(BIN.add2db, ['--config', reporter, '--jail', 'sshd', '--ip', short, '--bantime', '8'])).code).toBe(0)
    expect((await runProgram(BIN.add2db, ['--config', reporter, '--jail', 'sshd', '--ip', twice, '--bantime', '8'])).code).toBe(0)
    expect((await runProgram(BIN.add2db, ['--config', reporter2, '--jail', 'nginx', '--ip', twice, '--bantime', '3600'])).code).toBe(0)
    expect((await readdb()).code).toBe(0)
    await f2b.waitForBan(SHARED, short)
    await f2b.waitForBan(SHARED, twice)
    const { expires_at } = await central.db.selectFrom('bans').select('expires_at').where('ip', '=', short).executeTakeFirstOrThrow()
    await new Promise((r) => setTimeout(r, Math.max(0, Date.parse(`${expires_at!.replace(' ', 'T')}Z`) - Date.now()) + 300))
    expect(JSON.parse((await readdb()).stdout)).toMatchObject({ endedLocally: 1 })
    await waitUntil(`${short} to leave the shared jail`, async () => !(await f2b.bannedIps(SHARED)).includes(short), 10_000)
    expect(await f2b.bannedIps(SHARED)).toContain(twice)
    // Nothing more to end: the sweep moved on.
    expect((await readdb()).stdout).toBe('')
  })

  // The same for a fleet ban that runs out: the ban the shared jail holds an address for ends
  // while a later one, recorded 2 (the shared jail held it already), still names it; once the
  // sweep mark has moved past the first, the end of the second must take the address out.
  it('a local ban ends when the last fleet ban naming it ends, also one that found it already in the shared jail (2)', async () => {
    const ip = '203.0.113.46'
    const other = '203.0.113.47'
    const banOf = async (address: string, jail: string) =>
      Number((await central.db.selectFrom('bans').select('id').where('ip', '=', address).where('jail', '=', jail).executeTakeFirstOrThrow()).id)
    const statusesOf = async (id: number) =>
      (await central.db.selectFrom('ban_host_status').select('status').where('ban_id', '=', id).where('host', '=', 'db-1').execute()).map((r) => Number(r.status))
    for (const address of [ip, other]) expect((await add2db(address)).code).toBe(0)
    expect((await readdb()).code).toBe(0)
    await f2b.waitForBan(SHARED, ip)
    await f2b.waitForBan(SHARED, other)
    expect(await runProgram(BIN.add2db, ['--config', reporter2, '--jail', 'nginx', '--ip', ip])).toMatchObject({ code: 0, stderr: '' })
    expect((await readdb()).code).toBe(0)
    // Lines read after the local unbans below would ban again.
    for (const address of [ip, other]) await f2b.waitForSharedLogRead(SHARED, address, f2b.path('shared.log'))
    const [first, second, alone] = [await banOf(ip, 'sshd'), await banOf(ip, 'nginx'), await banOf(other, 'sshd')]
    expect(await statusesOf(second)).toEqual([BanStatus.AlreadyBanned])

    // The first ban of each runs out (moved to its start rather than waited out): `other` leaves, which moves the mark; `ip` stays for the second.
    await central.db.updateTable('bans').set({ expires_at: sql`created_at` }).where('id', 'in', [first, alone]).execute()
    expect(JSON.parse((await readdb()).stdout)).toMatchObject({ endedLocally: 1 })
    expect(await f2b.bannedIps(SHARED)).not.toContain(other)
    expect(await f2b.bannedIps(SHARED)).toContain(ip)

    // The second runs out now, after the mark.
    await central.db
      .updateTable('bans')
      .set({ expires_at: at(0) })
      .where('id', '=', second)
      .execute()
    expect((await readdb()).stdout).toMatch(/"endedLocally":1\b/)
    expect(await f2b.bannedIps(SHARED)).not.toContain(ip)
  })

  it('with fail2ban.unbanAllJails an unban also takes the address out of every local jail', async () => {
    const all = writeHostConfig({
      dir: tdb.dir,
      name: 'db-3',
      dbUrl: tdb.url,
      sharedLog: f2b.path('shared.log'),
      fail2ban: { client: f2b.clientArgv(), sharedJail: SHARED, unbanAllJails: true },
    })
    const ip = '203.0.113.41'
    expect((await add2db(ip)).code).toBe(0)
    expect((await runProgram(BIN.readdb, ['--config', all])).code).toBe(0)
    await f2b.waitForBan(SHARED, ip)
    await f2b.waitForSharedLogRead(SHARED, ip, f2b.path('shared.log'))
    await f2b.client('set', 'local', 'banip', ip)
    expect((await cli('unban', ip)).code).toBe(0)
    expect(JSON.parse((await runProgram(BIN.readdb, ['--config', all])).stdout)).toMatchObject({ removed: 1 })
    await waitUntil(`${ip} to leave every jail`, async () => !(await f2b.bannedIps(SHARED)).includes(ip) && !(await f2b.bannedIps('local')).includes(ip), 10_000)
  })

  it("with fail2ban.unbanAllJails, a fleet ban that runs out leaves the shared jail only: the host's own ban in another jail stays (issue 11, point 9)", async () => {
    const all = writeHostConfig({
      dir: tdb.dir,
      name: 'db-4',
      dbUrl: tdb.url,
      sharedLog: f2b.path('shared.log'),
      fail2ban: { client: f2b.clientArgv(), sharedJail: SHARED, unbanAllJails: true },
    })
    const ip = '203.0.113.44'
    expect((await runProgram(BIN.readdb, ['--config', all])).code).toBe(0)
    expect((await add2db(ip)).code).toBe(0)
    expect(JSON.parse((await runProgram(BIN.readdb, ['--config', all])).stdout)).toMatchObject({ added: 1 })
    await f2b.waitForBan(SHARED, ip)
    await f2b.waitForSharedLogRead(SHARED, ip, f2b.path('shared.log'))
    // This host's own jail bans it too, for longer than the fleet ban (a recidive, here 10 minutes).
    await f2b.client('set', 'local', 'banip', ip)
    // The fleet ban runs out (moved to its start here rather than waited out, so a slow machine cannot let it expire before it is applied).
    await central.db.updateTable('bans').set({ expires_at: sql`created_at` }).where('ip', '=', ip).execute()
    expect(JSON.parse((await runProgram(BIN.readdb, ['--config', all])).stdout)).toMatchObject({ endedLocally: 1 })
    await waitUntil(`${ip} to leave the shared jail`, async () => !(await f2b.bannedIps(SHARED)).includes(ip), 10_000)
    expect(await f2b.bannedIps('local')).toContain(ip)
  })

  it("allowlist: never applied (6), including a ban stored before the entry; the config's own list is honoured", async () => {
    const before = await insertBan(central, 'web-2', null, report('198.51.100.70'))
    expect((await cli('allow', 'add', '198.51.100.64/26', '--reason', 'office')).stdout).toBe('198.51.100.64/26: added to the allowlist\n')
    expect((await cli('allow', 'add', '198.51.100.64/26')).stdout).toBe('198.51.100.64/26: already in the allowlist\n')
    const list = (await cli('allow', 'list')).stdout.trimEnd().split('\n')
    expect(list).toHaveLength(2)
    expect(list).toContainEqual(expect.stringMatching(/^198\.51\.100\.64\/26\t\d{4}-.*\toperator@ops-1\toffice$/))
    expect(list).toContainEqual(expect.stringMatching(/^2001:db8:40::\/48\t.*\tunban --allow$/))
    expect(await add2db('198.51.100.71')).toMatchObject({ code: 0, stderr: 'add2db: 198.51.100.71 is allowlisted (central allowlist); not reported\n' })
    expect(await stored('198.51.100.71')).toBe(0)
    expect(await add2db('192.0.2.200')).toMatchObject({ code: 0, stderr: 'add2db: 192.0.2.200 is allowlisted (config); not reported\n' })
    expect(JSON.parse((await readdb()).stdout)).toMatchObject({ allowlisted: 1, linesWritten: 0 })
    expect(await statusOf('198.51.100.70')).toEqual([BanStatus.Allowlisted])
    expect((await f2b.bannedIps(SHARED)).includes('198.51.100.70')).toBe(false)
    expect((await cli('allow', 'remove', '198.51.100.64/26')).stdout).toBe('198.51.100.64/26: removed from the allowlist\n')
    expect(before).toBeGreaterThan(0)
  })

  it("fleet members' own addresses: registered by their readdb, never reported or applied by hosts that allow fleet addresses", async () => {
    // This host's readdb registered its own addresses when it first polled.
    const registered = (
      await central.db.selectFrom('host_addresses').innerJoin('hosts', 'hosts.id', 'host_addresses.host_id').select('address').where('hosts.name', '=', 'db-1').execute()
    ).map((r) => r.address)
    expect(new Set(registered)).toEqual(new Set(ownAddresses().map((a) => a.address)))
    // Another fleet member, web-9, registers 198.51.100.250 as its own.
    const web9 = await registerHost(central.db, central.adapter, 'web-9', null)
    expect(await registerHostAddresses(central, web9, [parseNetwork('198.51.100.250')])).toBe(1)
    expect(await registerHostAddresses(central, web9, [parseNetwork('198.51.100.250')])).toBe(0)
    expect(await add2db('198.51.100.250')).toMatchObject({ code: 0, stderr: 'add2db: 198.51.100.250 is allowlisted (central allowlist); not reported\n' })
    const planted = await insertBan(central, 'web-2', null, report('198.51.100.250'))
    expect(JSON.parse((await readdb()).stdout)).toMatchObject({ allowlisted: 1, linesWritten: 0 })
    expect((await central.db.selectFrom('ban_host_status').select('status').where('ban_id', '=', planted).where('host', '=', 'db-1').executeTakeFirstOrThrow()).status).toBe(
      BanStatus.Allowlisted,
    )
    // A host whose config turns it off applies it like any other ban.
    const f2bDb = join(tdb.dir, 'db-2-fail2ban.sqlite3')
    createFail2banStateDb(f2bDb)
    const db2 = writeHostConfig({ dir: tdb.dir, name: 'db-2', dbUrl: tdb.url, fail2ban: { database: f2bDb }, extra: { host: { name: 'db-2', allowFleetAddresses: false } } })
    expect((await runProgram(BIN.readdb, ['--config', db2])).code).toBe(0)
    expect((await central.db.selectFrom('ban_host_status').select('status').where('ban_id', '=', planted).where('host', '=', 'db-2').executeTakeFirstOrThrow()).status).toBe(
      BanStatus.Added,
    )
  })

  it('host.neverBan: never reported by add2db (exit 0, says why), never applied by readdb (6)', async () => {
    const guarded = writeHostConfig({ dir: tdb.dir, name: 'web-g', dbUrl: tdb.url, extra: { host: { name: 'web-g', neverBan: ['198.51.100.53', '2001:db8:53::/48'] } } })
    const r = await runProgram(BIN.add2db, ['--config', guarded, '--jail', 'sshd', '--ip', '198.51.100.53'])
    expect(r).toMatchObject({ code: 0, stderr: 'add2db: 198.51.100.53 is allowlisted (infrastructure: host.neverBan or the database server); not reported\n' })
    expect(await stored('198.51.100.53')).toBe(0)
    // A guarded host skips a row naming it, whoever reported it.
    const f2bDb = join(tdb.dir, 'web-g-fail2ban.sqlite3')
    createFail2banStateDb(f2bDb)
    const poller = writeHostConfig({
      dir: tdb.dir,
      name: 'web-g',
      dbUrl: tdb.url,
      fail2ban: { database: f2bDb },
      extra: { host: { name: 'web-g', neverBan: ['198.51.100.53', '2001:db8:53::/48'] } },
    })
    const planted = [await insertBan(central, 'web-2', null, report('198.51.100.53')), await insertBan(central, 'web-2', null, report('2001:db8:53::1'))]
    expect((await runProgram(BIN.readdb, ['--config', poller])).code).toBe(0)
    for (const id of planted) {
      expect((await central.db.selectFrom('ban_host_status').select('status').where('ban_id', '=', id).where('host', '=', 'web-g').executeTakeFirstOrThrow()).status).toBe(
        BanStatus.Allowlisted,
      )
    }
  })

  it("flood limit: past it a host's reports are stored held, never lost; other hosts apply them only once released", async () => {
    expect((await cli('bans', 'limit', '3')).stdout).toMatch(/flood limit: 3 bans a minute per host/)
    try {
      const flooder = writeHostConfig({ dir: tdb.dir, name: 'flood-1', dbUrl: tdb.url })
      const report = (ip: string) => runProgram(BIN.add2db, ['--config', flooder, '--jail', 'sshd', '--ip', ip])
      for (let i = 0; i < 3; i++) expect(await report(`203.0.113.${100 + i}`)).toMatchObject({ code: 0, stderr: '' })
      for (const ip of ['203.0.113.150', '203.0.113.151']) {
        const held = await report(ip)
        // Stored, so fail2ban gets exit 0; the admin sees why the fleet does not apply it yet.
        expect(held.code).toBe(0)
        expect(held.stderr).toMatch(/^add2db: warning: 203\.0\.113\.15[01] stored but held: flood-1 is past the fleet's flood limit; .*bans release --reporter flood-1/)
        expect(await stored(ip)).toBe(1)
      }
      expect((await cli('bans', 'held')).stdout).toMatch(/^REPORTER +HELD.*\nflood-1 +2 /)
      expect((await readdb()).code).toBe(0)
      expect(await statusOf('203.0.113.102')).toEqual([BanStatus.Added])
      // Held: not stamped, so db-1 has not even seen them.
      expect(await statusOf('203.0.113.150')).toEqual([BanStatus.Pending])
      expect((await cli('export')).stdout).not.toMatch(/203\.0\.113\.15[01]/)
      expect((await cli('bans', 'release', '--reporter', 'flood-1')).stdout).toMatch(/^2 held bans of flood-1 released/)
      expect((await readdb()).code).toBe(0)
      expect(await statusOf('203.0.113.150')).toEqual([BanStatus.Added])
      expect(await statusOf('203.0.113.151')).toEqual([BanStatus.Added])
      // Dropping deletes what is still held, and nothing else.
      const more = await report('203.0.113.152')
      expect(more.stderr).toMatch(/stored but held/)
      expect((await cli('bans', 'drop', '--reporter', 'flood-1')).stdout).toMatch(/^1 held ban of flood-1 dropped/)
      expect(await stored('203.0.113.152')).toBe(0)
      expect(await stored('203.0.113.150')).toBe(1)
      expect((await cli('bans', 'held')).stdout).toBe('no held bans\n')
    } finally {
      await cli('bans', 'limit', '1000')
    }
  })

  it.each([
    [['unban'], /unban: expected exactly one ADDRESS or CIDR/],
    [['unban', '203.0.113.7/24'], /invalid address "203\.0\.113\.7\/24": host bits set; did you mean 203\.0\.113\.0\/24\?/],
    [['unban', 'example.org'], /invalid address "example\.org"/],
    [['allow', 'frob'], /allow: expected `add ADDRESS\|CIDR`/],
    [['allow', 'add'], /allow: expected `add ADDRESS\|CIDR`/],
    [['allow', 'list', 'extra'], /allow: expected/],
  ])('f2b-central %j: exit 2 with one line', async (args, message) => {
    const r = await cli(...args)
    expect(r.code).toBe(2)
    expect(r.stderr).toMatch(message)
    expect(r.stderr.trimEnd().split('\n')).toHaveLength(1)
  })
})
