// f2b-central purge, as built, on every dialect: bans expired longer ago than the retention
// go with their host statuses (ON DELETE CASCADE, which SQLite only enforces with
// foreign_keys on), in bounded batches; recent, active and permanent bans stay; a retention
// under a day needs --force.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { CentralDb } from '@f2b-central/core/db/db-adapter'
import { BanStatus } from '@f2b-central/core/schema/ban-status'
import { createTestDatabase, dialects, type TestDatabase } from './setup/dialects.js'
import { DAY, HOUR, runCli, seedBan, seedHosts, seedStatus } from './setup/operator.js'
import { writeOperatorConfig } from './setup/programs.js'

describe.each(dialects())('%s: f2b-central purge', (dialect) => {
  let tdb: TestDatabase
  let central: CentralDb
  let config: string
  const purge = (...args: string[]) => runCli(['purge', ...args, '--config', config])

  const remaining = async () => (await central.db.selectFrom('bans').select('ip').orderBy('ip').execute()).map((r) => r.ip)
  const statusRows = async () =>
    Number(
      (
        await central.db
          .selectFrom('ban_status')
          .select((eb) => eb.fn.countAll<number>().as('n'))
          .executeTakeFirstOrThrow()
      ).n,
    )

  beforeAll(async () => {
    tdb = await createTestDatabase(dialect)
    central = await tdb.openMigrated()
    config = writeOperatorConfig({ dir: tdb.dir, dbUrl: tdb.url })
    const { a = 0, b = 0 } = await seedHosts(central, [{ name: 'a' }, { name: 'b' }])
    const seed = async (ip: string, created: number, expires: number | null) => {
      const id = await seedBan(central, { ip, reporterId: a, created, expires })
      await seedStatus(central, id, a, BanStatus.Added)
      await seedStatus(central, id, b, BanStatus.Expired)
    }
    await seed('203.0.113.1', -45 * DAY, -40 * DAY)
    await seed('203.0.113.2', -35 * DAY, -31 * DAY)
    await seed('203.0.113.3', -3 * DAY, -2 * HOUR)
    await seed('203.0.113.4', -HOUR, DAY)
    await seed('203.0.113.5', -400 * DAY, null)
  })
  afterAll(async () => {
    await central?.close()
    await tdb?.drop()
  })

  it('deletes bans that expired before the retention, with their statuses, in batches', async () => {
    expect(await statusRows()).toBe(10)
    const r = await purge('--older-than', '30d', '--batch-size', '1')
    expect(r).toMatchObject({ code: 0, stderr: '' })
    expect(r.stdout).toBe('purged 2 bans that expired more than 30d ago, with 4 host statuses\n')
    expect(await remaining()).toEqual(['203.0.113.3', '203.0.113.4', '203.0.113.5'])
    expect(await statusRows()).toBe(6)
    const orphans = await central.db.selectFrom('ban_status as s').leftJoin('bans as b', 'b.id', 's.ban_id').select('s.ban_id').where('b.id', 'is', null).execute()
    expect(orphans).toEqual([])
  })

  it('refuses a retention under one day without --force, and stores nothing', async () => {
    const r = await purge('--older-than', '1h')
    expect(r.code, r.stderr).toBe(2)
    expect(r.stderr).toBe('f2b-central: purge: --older-than 1h is under 1 day (add --force to purge bans that recent)\n')
    expect(await remaining()).toEqual(['203.0.113.3', '203.0.113.4', '203.0.113.5'])
  })

  it('with --force purges bans expired within the last day; active and permanent bans stay (--json)', async () => {
    const r = await purge('--older-than', '1h', '--force', '--json')
    expect(r.code).toBe(0)
    expect(JSON.parse(r.stdout)).toEqual({ bans: 1, statuses: 2 })
    expect(await remaining()).toEqual(['203.0.113.4', '203.0.113.5'])
    const again = await purge('--older-than', '30d')
    expect(again.stdout).toBe('purged 0 bans that expired more than 30d ago, with 0 host statuses\n')
  })
})

describe.concurrent('f2b-central purge arguments', () => {
  it.each([
    [[], /^f2b-central: purge: --older-than DURATION is required/],
    [['--older-than', '3x'], /^f2b-central: purge: invalid --older-than "3x": expected a duration/],
    [['--older-than', '12h'], /^f2b-central: purge: --older-than 12h is under 1 day \(add --force/],
    [['--older-than', '30d', '--batch-size=-1'], /^f2b-central: purge: invalid --batch-size "-1": expected 1-50000/],
    [['--older-than', '30d', 'all'], /^f2b-central: purge: Unexpected argument 'all'/],
  ])('%j: exit 2 with one line', async (args, message) => {
    const r = await runCli(['purge', ...args, '--config', '/nonexistent.yml'])
    expect(r.code, r.stderr).toBe(2)
    expect(r.stderr).toMatch(message)
    expect(r.stderr.trim().split('\n')).toHaveLength(1)
  })
})
