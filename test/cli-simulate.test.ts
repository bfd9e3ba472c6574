// f2b-central simulate, as built, on every dialect: a test ban recorded as this host reaches
// another host through the real readdb (its shared log gets the line), and --clean deletes
// the simulated bans everywhere, naming the hosts that keep a local ban, while a real ban of
// the same address stays.
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { CentralDb } from '@f2b-central/core/db/db-adapter'
import { fromDbTime } from '@f2b-central/core/time/db-time'
import { createFail2banStateDb } from '../scripts/fail2ban-state-db.mjs'
import { createTestDatabase, dialects, type TestDatabase } from './setup/dialects.js'
import { runCli, seedBan, seedHosts } from './setup/operator.js'
import { BIN, runProgram, writeHostConfig, writeOperatorConfig } from './setup/programs.js'

describe.each(dialects())('%s: f2b-central simulate', (dialect) => {
  let tdb: TestDatabase
  let central: CentralDb
  let opsConfig: string
  let web2Config: string
  let sharedLog: string
  let realHost: number

  const simBans = (ip: string) => central.db.selectFrom('bans').select(['id', 'jail', 'bantime', 'created_at', 'expires_at']).where('ip', '=', ip).orderBy('id').execute()

  beforeAll(async () => {
    tdb = await createTestDatabase(dialect)
    central = await tdb.openMigrated()
    opsConfig = writeOperatorConfig({ dir: tdb.dir, name: 'web-1', dbUrl: tdb.url })
    const f2bDb = join(tdb.dir, 'web-2-fail2ban.sqlite3')
    createFail2banStateDb(f2bDb)
    sharedLog = join(tdb.dir, 'web-2-shared.log')
    web2Config = writeHostConfig({ dir: tdb.dir, name: 'web-2', dbUrl: tdb.url, sharedLog, fail2ban: { database: f2bDb } })
    realHost = (await seedHosts(central, [{ name: 'real' }])).real!
  })
  afterAll(async () => {
    await central?.close()
    await tdb?.drop()
  })

  it('records a test ban as this host that the next readdb of another host applies', async () => {
    const r = await runCli(['simulate', '192.0.2.77', '--config', opsConfig])
    expect(r).toMatchObject({ code: 0, stderr: '' })
    const [sim] = await simBans('192.0.2.77')
    expect(sim).toMatchObject({ jail: 'f2b-central-simulate', bantime: 600 })
    expect(fromDbTime(sim!.expires_at!).getTime() - fromDbTime(sim!.created_at).getTime()).toBe(600_000)
    expect(r.stdout).toBe(
      `recorded simulated ban ${sim!.id}: 192.0.2.77 jail=f2b-central-simulate reporter=web-1, expires ${sim!.expires_at!.slice(0, 19)} UTC\n` +
        'watch it reach the fleet: f2b-central bans show 192.0.2.77; remove it: f2b-central simulate --clean 192.0.2.77\n',
    )
    const poll = await runProgram(BIN.readdb, ['--config', web2Config])
    expect(poll.code, poll.stderr).toBe(0)
    expect(readFileSync(sharedLog, 'utf8')).toMatch(new RegExp(` f2b-central: ban 192\\.0\\.2\\.77 jail=f2b-central-simulate reporter=web-1 ban_id=${sim!.id}\\n`))
    const show = JSON.parse((await runCli(['bans', 'show', '192.0.2.77', '--json', '--config', opsConfig])).stdout) as {
      bans: { id: number; hosts: { host: string; status: number }[] }[]
    }
    expect(show.bans.find((b) => b.id === sim!.id)!.hosts.map((h) => [h.host, h.status])).toEqual([
      ['real', 0],
      ['web-1', 1],
      ['web-2', 1],
    ])
  })

  it('--clean deletes the simulated bans everywhere, says who keeps a local ban, and leaves real bans alone', async () => {
    await seedBan(central, { ip: '192.0.2.77', jail: 'sshd', reporterId: realHost, created: -60 })
    const second = await runCli(['simulate', '192.0.2.77', '--jail', 'f2b-central-simulate-b', '--bantime', '1h', '--json', '--config', opsConfig])
    expect(JSON.parse(second.stdout)).toMatchObject({ ip: '192.0.2.77', jail: 'f2b-central-simulate-b', reporter: 'web-1' })
    const r = await runCli(['simulate', '--clean', '192.0.2.77', '--config', opsConfig])
    expect(r).toMatchObject({ code: 0, stderr: '' })
    expect(r.stdout).toBe(
      'deleted 1 simulated ban of 192.0.2.77 (jail f2b-central-simulate) everywhere\n' +
        'applied by web-2: hosts that applied it keep the local ban until its ban time ends, unless it is lifted with `f2b-central unban`\n',
    )
    expect((await simBans('192.0.2.77')).map((b) => b.jail)).toEqual(['sshd', 'f2b-central-simulate-b'])
    const other = await runCli(['simulate', '--clean', '192.0.2.77', '--jail', 'f2b-central-simulate-b', '--json', '--config', opsConfig])
    expect(JSON.parse(other.stdout)).toMatchObject({ deleted: 1, appliedBy: [] })
    expect((await simBans('192.0.2.77')).map((b) => b.jail)).toEqual(['sshd'])
    const orphans = await central.db.selectFrom('ban_status as s').leftJoin('bans as b', 'b.id', 's.ban_id').select('s.ban_id').where('b.id', 'is', null).execute()
    expect(orphans).toEqual([])
  })
})

describe.concurrent('f2b-central simulate arguments', () => {
  it.each([
    [[], /^f2b-central: simulate: IP is required/],
    [['192.0.2.300'], /^f2b-central: simulate: invalid address "192\.0\.2\.300": not an IPv4 or IPv6 address/],
    [['127.0.0.1'], /^f2b-central: simulate: invalid address "127\.0\.0\.1": loopback addresses cannot be banned/],
    [['192.0.2.1', '--jail', 'sshd'], /^f2b-central: simulate: invalid jail "sshd": simulated bans use f2b-central-simulate/],
    [['--clean', '192.0.2.1', '--jail', 'sshd'], /^f2b-central: simulate: invalid jail "sshd"/],
    [['--clean', '192.0.2.1', '--bantime', '1h'], /^f2b-central: simulate: --bantime does not apply to --clean/],
    [['192.0.2.1', '--bantime', '0s'], /^f2b-central: simulate: invalid --bantime "0s"/],
    [['192.0.2.1', '192.0.2.2'], /^f2b-central: simulate: unexpected argument "192\.0\.2\.2"/],
  ])('%j: exit 2 with one line', async (args, message) => {
    const r = await runCli(['simulate', ...args, '--config', '/nonexistent.yml'])
    expect(r.code, r.stderr).toBe(2)
    expect(r.stderr).toMatch(message)
    expect(r.stderr.trim().split('\n')).toHaveLength(1)
  })
})
