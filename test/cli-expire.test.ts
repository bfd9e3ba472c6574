// f2b-central expire, as built, on every dialect: timed-out bans get status 5 for every
// registered host that never applied them (no row or status 0), in bounded batches; decided
// statuses, active bans and revoked bans are left alone; a second run changes nothing.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { CentralDb } from '@f2b-central/core/db/db-adapter'
import { BanStatus } from '@f2b-central/core/schema/ban-status'
import { createTestDatabase, dialects, type TestDatabase } from './setup/dialects.js'
import { DAY, HOUR, runCli, seedBan, seedHosts, seedStatus } from './setup/operator.js'
import { writeOperatorConfig } from './setup/programs.js'

describe.each(dialects())('%s: f2b-central expire', (dialect) => {
  let tdb: TestDatabase
  let central: CentralDb
  let config: string
  let h: Record<string, number>
  const bansOf: Record<string, number> = {}

  async function statuses(banId: number): Promise<Record<string, number>> {
    const rows = await central.db.selectFrom('ban_host_status').select(['host', 'status']).where('ban_id', '=', banId).orderBy('host').execute()
    return Object.fromEntries(rows.map((r) => [r.host, Number(r.status)]))
  }

  beforeAll(async () => {
    tdb = await createTestDatabase(dialect)
    central = await tdb.openMigrated()
    config = writeOperatorConfig({ dir: tdb.dir, dbUrl: tdb.url })
    h = await seedHosts(central, [{ name: 'a' }, { name: 'b' }, { name: 'c' }])
    const { a = 0, b = 0, c = 0 } = h
    bansOf.expired = await seedBan(central, { ip: '203.0.113.1', reporterId: a, created: -2 * DAY, expires: -HOUR })
    await seedStatus(central, bansOf.expired, a, BanStatus.Added)
    await seedStatus(central, bansOf.expired, b, BanStatus.Pending)
    bansOf.decided = await seedBan(central, { ip: '203.0.113.2', reporterId: a, created: -2 * DAY, expires: -HOUR })
    await seedStatus(central, bansOf.decided, a, BanStatus.Added)
    await seedStatus(central, bansOf.decided, b, BanStatus.AlreadyBanned)
    await seedStatus(central, bansOf.decided, c, BanStatus.Error, { error: 'x' })
    bansOf.active = await seedBan(central, { ip: '203.0.113.3', reporterId: a, created: -HOUR, expires: HOUR })
    bansOf.permanent = await seedBan(central, { ip: '203.0.113.4', reporterId: a, created: -HOUR, expires: null })
    bansOf.revoked = await seedBan(central, { ip: '203.0.113.5', reporterId: a, created: -2 * DAY, expires: -HOUR, revoked: -2 * HOUR })
    // More expired bans than one batch, nobody's status recorded.
    for (let i = 0; i < 25; i++) await seedBan(central, { ip: `198.51.100.${i + 1}`, reporterId: c, created: -3 * DAY, expires: -DAY })
  })
  afterAll(async () => {
    await central?.close()
    await tdb?.drop()
  })

  it('marks expired bans 5 for hosts that never applied them, in batches, and says how many', async () => {
    const r = await runCli(['expire', '--batch-size', '10', '--config', config])
    expect(r).toMatchObject({ code: 0, stderr: '' })
    // 1 + 25 bans; b's status 0 and c's missing row on the first, all three hosts on each of the 25.
    expect(r.stdout).toBe('expired 26 bans: 77 host statuses set to 5 (expired)\n')
    expect(await statuses(bansOf.expired!)).toEqual({ a: BanStatus.Added, b: BanStatus.Expired, c: BanStatus.Expired })
    expect(await statuses(bansOf.decided!)).toEqual({ a: BanStatus.Added, b: BanStatus.AlreadyBanned, c: BanStatus.Error })
    expect(await statuses(bansOf.active!)).toEqual({ a: 0, b: 0, c: 0 })
    expect(await statuses(bansOf.permanent!)).toEqual({ a: 0, b: 0, c: 0 })
    expect(await statuses(bansOf.revoked!)).toEqual({ a: 0, b: 0, c: 0 })
    const rows = await central.db
      .selectFrom('ban_status')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('status', '=', BanStatus.Expired)
      .executeTakeFirstOrThrow()
    expect(Number(rows.n)).toBe(77)
  })

  it('a second run finds nothing left to do (--json)', async () => {
    const r = await runCli(['expire', '--json', '--config', config])
    expect(r.code).toBe(0)
    expect(JSON.parse(r.stdout)).toEqual({ bans: 0, statuses: 0 })
  })

  it('a host registered later gets 5 for bans that expired before it ever polled', async () => {
    await seedHosts(central, [{ name: 'd' }])
    const r = await runCli(['expire', '--json', '--config', config])
    expect(JSON.parse(r.stdout)).toEqual({ bans: 27, statuses: 27 })
    expect((await statuses(bansOf.decided!)).d).toBe(BanStatus.Expired)
  })
})

describe.concurrent('f2b-central expire arguments', () => {
  it.each([
    [['--batch-size', '0'], /^f2b-central: expire: invalid --batch-size "0": expected 1-50000/],
    [['--batch-size', 'ten'], /^f2b-central: expire: invalid --batch-size "ten"/],
    [['now'], /^f2b-central: expire: Unexpected argument 'now'/],
    [['--older-than', '1d'], /^f2b-central: expire: Unknown option '--older-than'/],
  ])('%j: exit 2 with one line', async (args, message) => {
    const r = await runCli(['expire', ...args, '--config', '/nonexistent.yml'])
    expect(r.code, r.stderr).toBe(2)
    expect(r.stderr).toMatch(message)
    expect(r.stderr.trim().split('\n')).toHaveLength(1)
  })
})
