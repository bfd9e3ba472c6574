// Issue 10: one host, one identity. Three hosts made with `f2b-central hosts add`, each with
// its own MariaDB account; then, holding host A's password, every attack a stolen host could
// try against the fleet. MySQL/MariaDB only: SQLite is one machine and has no accounts.
import { mkdirSync, readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import type { Connection } from 'mysql2/promise'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { CentralDb } from '@f2b-central/core/db/db-adapter'
import { BanStatus } from '@f2b-central/core/schema/ban-status'
import { createFail2banStateDb } from '../scripts/fail2ban-state-db.mjs'
import { createTestDatabase, dialects, type TestDatabase } from './setup/dialects.js'
import { addHostAccount, connectAs, dropAccounts, hostAccountConfig, type HostAccount } from './setup/host-accounts.js'
import { BIN, runProgram, writeOperatorConfig } from './setup/programs.js'

const DENIED = /^ER_(TABLEACCESS|COLUMNACCESS|DBACCESS|SPECIFIC_ACCESS|PROCACCESS)_DENIED/

describe.runIf(dialects().includes('mysql'))('mysql: one host, one identity', () => {
  let tdb: TestDatabase
  let central: CentralDb
  let operator: string
  const accounts: Record<'a' | 'b' | 'c', HostAccount> = {} as never
  const configs: Record<'a' | 'b' | 'c', string> = {} as never
  let stolen: Connection

  beforeAll(async () => {
    tdb = await createTestDatabase('mysql')
    central = await tdb.openMigrated()
    operator = writeOperatorConfig({ dir: tdb.dir, name: 'ops-1', dbUrl: tdb.url })
    for (const k of ['a', 'b', 'c'] as const) {
      accounts[k] = await addHostAccount(operator, tdb.dir, tdb.url, `web-${k}`)
      const f2bDb = join(tdb.dir, `web-${k}-fail2ban.sqlite3`)
      createFail2banStateDb(f2bDb)
      configs[k] = hostAccountConfig(accounts[k], { dir: tdb.dir, fail2ban: { database: f2bDb } })
    }
    stolen = await connectAs(accounts.a)
  }, 60_000)
  afterAll(async () => {
    await stolen?.end()
    await dropAccounts(Object.values(accounts))
    await central?.close()
    await tdb?.drop()
  })

  const readdb = (k: 'a' | 'b' | 'c') => runProgram(BIN.readdb, ['--config', configs[k]])
  const add2db = (k: 'a' | 'b' | 'c', ip: string) => runProgram(BIN.add2db, ['--config', configs[k], '--jail', 'sshd', '--ip', ip])
  const statusOn = async (ip: string, host: string) =>
    (await central.db.selectFrom('ban_host_status').select('status').where('ip', '=', ip).where('host', '=', host).execute()).map((r) => Number(r.status))
  const hostId = async (name: string) => Number((await central.db.selectFrom('hosts').select('id').where('name', '=', name).executeTakeFirstOrThrow()).id)
  const sequence = async () => Number((await central.db.selectFrom('ban_sequence').select('value').executeTakeFirstOrThrow()).value)
  const cursorOf = async (name: string) => Number((await central.db.selectFrom('hosts').select('cursor_seq').where('name', '=', name).executeTakeFirstOrThrow()).cursor_seq)

  it('`hosts add` gives a working host in one command: a password file 0600, the config lines, a bound account', async () => {
    expect(statSync(accounts.a.passwordFile).mode & 0o777).toBe(0o600)
    const again = await runProgram(BIN.cli, [
      'hosts',
      'add',
      'web-a',
      '--account',
      accounts.a.user,
      '--from',
      '127.0.0.1',
      '--password-file',
      accounts.a.passwordFile,
      '--config',
      operator,
    ])
    expect(again.code).toBe(0)
    expect(again.stdout).toMatch(new RegExp(`^host web-a: account '${accounts.a.user}'@'127\\.0\\.0\\.1', password taken from `))
    expect(again.stdout).toMatch(/database:\n {2}url: mysql:\/\/t\w+_web_a@127\.0\.0\.1:\d+\/f2b_test_\w+\n {2}passwordFile: .*\nhost:\n {2}name: web-a\n/)
    const list = await runProgram(BIN.cli, ['hosts', 'list', '--json', '--config', operator])
    const rows = JSON.parse(list.stdout) as { name: string; accounts: string[] }[]
    expect(rows.find((r) => r.name === 'web-a')?.accounts).toEqual([`${accounts.a.user}@127.0.0.1`])
    // Another host's account cannot be taken over.
    const taken = await runProgram(BIN.cli, ['hosts', 'add', 'web-z', '--account', accounts.a.user, '--password-file', join(tdb.dir, 'z.pw'), '--config', operator])
    expect(taken).toMatchObject({ code: 1 })
    expect(taken.stderr).toMatch(/already speaks for host web-a/)
  })

  it('`check` says which host an account speaks for, and warns about an account bound to none', async () => {
    const own = await runProgram(BIN.cli, ['check', '--config', configs.a])
    expect(own.stdout).toMatch(new RegExp(`^OK +database: .* reachable, schema up to date, account ${accounts.a.user} speaks for this host$`, 'm'))
    const unbound = await runProgram(BIN.cli, ['check', '--config', operator])
    expect(unbound.stdout).toMatch(
      new RegExp(`^OK +database: .*; warning: account ${tdb.operator!.user} is not bound to a host, so it can write for any host \\(run \`f2b-central hosts add ops-1`, 'm'),
    )
  })

  it('hosts report and poll with their own accounts: a ban from B reaches A and C', async () => {
    for (const k of ['a', 'c'] as const) expect((await readdb(k)).code).toBe(0)
    expect(await add2db('b', '203.0.113.10')).toMatchObject({ code: 0, stderr: '' })
    for (const k of ['a', 'c'] as const) expect((await readdb(k)).code).toBe(0)
    expect(await statusOn('203.0.113.10', 'web-a')).toEqual([BanStatus.Added])
    expect(await statusOn('203.0.113.10', 'web-c')).toEqual([BanStatus.Added])
  })

  it('a host account speaks only for its own host: a config naming another host is refused with one line', async () => {
    mkdirSync(join(tdb.dir, 'lying'), { recursive: true })
    const lying = hostAccountConfig({ ...accounts.a, host: 'web-b' }, { dir: join(tdb.dir, 'lying'), fail2ban: { database: join(tdb.dir, 'web-a-fail2ban.sqlite3') } })
    const r = await runProgram(BIN.readdb, ['--config', lying])
    expect(r.code).toBe(1)
    expect(r.stderr).toMatch(new RegExp(`account ${accounts.a.user} speaks for host web-a, not web-b`))
  })

  it.each([
    ['give a ban a huge stamp', 'UPDATE bans SET seq = 999999999'],
    ["raise another host's cursor", "UPDATE hosts SET cursor_seq = 999999999 WHERE name = 'web-b'"],
    ['raise its own cursor directly', "UPDATE hosts SET cursor_seq = 999999999 WHERE name = 'web-a'"],
    ['lower the sequence', 'UPDATE ban_sequence SET value = 0'],
    [
      'insert a ban already revoked (a fleet-wide unban)',
      "INSERT INTO bans (ip, jail, protocol, port, reporter_id, bantime, revoked_at) SELECT '203.0.113.10', 'sshd', 'tcp', '22', id, 60, NOW() FROM hosts LIMIT 1",
    ],
    [
      'insert a ban as another host',
      "INSERT INTO bans (ip, jail, protocol, port, reporter_id, bantime) SELECT '198.51.100.1', 'sshd', 'tcp', '22', id, 60 FROM hosts WHERE name = 'web-b'",
    ],
    ['allowlist the Internet through host_addresses', "INSERT INTO host_addresses (host_id, address) SELECT id, '0.0.0.0/0' FROM hosts WHERE name = 'web-b'"],
    ["write another host's status", "INSERT INTO ban_status (ban_id, host_id, status) SELECT b.id, h.id, 4 FROM bans b, hosts h WHERE h.name = 'web-b' LIMIT 1"],
    ['rewrite statuses', 'UPDATE ban_status SET status = 4'],
    ['rename a host', "UPDATE hosts SET name = 'evil' WHERE name = 'web-b'"],
    ['delete history', 'DELETE FROM bans'],
    ['delete statuses', 'DELETE FROM ban_status'],
    ['touch the allowlist', "INSERT INTO allowlist (network, added_by) VALUES ('0.0.0.0/0', 'x')"],
    ['bind itself to another host', 'UPDATE host_accounts SET host_id = (SELECT 1)'],
    ['raise the flood limit', 'UPDATE fleet_settings SET max_bans_per_minute = 100000000'],
    ['alter the schema', 'ALTER TABLE bans ADD COLUMN x INT'],
    ['drop a table', 'DROP TABLE ban_status'],
    ['change migrations', 'DELETE FROM kysely_migration'],
    ['call the internal host resolver', "CALL f2b_session_host('web-b', NULL, @h)"],
    ['call the internal cursor mover', 'CALL f2b_move_cursor(2, 999999999)'],
  ])('with a stolen host password, it cannot %s', async (_what, statement) => {
    await expect(stolen.query(statement)).rejects.toMatchObject({ code: expect.stringMatching(DENIED) })
  })

  it.each([
    ['report a ban as another host', "CALL f2b_report_ban('web-b', NULL, '198.51.100.2', 'sshd', 'tcp', '22', 60, NULL, 0)"],
    ['heart-beat as another host', "CALL f2b_heartbeat('web-b', NULL)"],
    ["record another host's statuses", "CALL f2b_record_decisions('web-b', '[[1, 4, null, 0]]', 0)"],
    ["move another host's cursor", "CALL f2b_advance_cursor('web-b', 5)"],
    ["register addresses as another host's", "CALL f2b_register_addresses('web-b', '[\"198.51.100.3\"]')"],
    ["record another host's firewall resync", "CALL f2b_record_resync('web-b', 'nftables', 0, 0)"],
  ])('the host routines refuse to %s', async (_what, statement) => {
    await expect(stolen.query(statement)).rejects.toThrow(new RegExp(`account ${accounts.a.user} speaks for host web-a, not web-b`))
  })

  it('the routines keep its own writes sane: no stamp, revocation or network from the caller, no cursor past the sequence', async () => {
    await expect(stolen.query("CALL f2b_report_ban('web-a', NULL, '0.0.0.0/0', 'sshd', 'tcp', '22', 60, NULL, 0)")).rejects.toThrow(/not a valid ban report/)
    await expect(stolen.query("CALL f2b_report_ban('web-a', NULL, '198.51.100.4', 'sshd', 'tcp', '22', 0, NULL, 0)")).rejects.toThrow(/not a valid ban report/)
    await expect(stolen.query("CALL f2b_record_resync('web-a', 'nftables', 10, -5)")).rejects.toThrow(/counts not negative/)
    // An age far in the past is not believed: the ban starts now, by the server's clock.
    await stolen.query("CALL f2b_report_ban('web-a', NULL, '198.51.100.5', 'sshd', 'tcp', '22', 600, NULL, 999999999999)")
    const planted = await central.db.selectFrom('bans').selectAll().where('ip', '=', '198.51.100.5').executeTakeFirstOrThrow()
    expect(planted).toMatchObject({ seq: null, revoked_at: null, held_at: null, reporter_id: await hostId('web-a') })
    expect(Date.now() - Date.parse(`${planted.created_at.replace(' ', 'T')}Z`)).toBeLessThan(60_000)

    // Its readdb registered this machine's own addresses already; nothing may be added to them.
    const own = async () =>
      (
        await central.db
          .selectFrom('host_addresses')
          .select('address')
          .where('host_id', '=', await hostId('web-a'))
          .execute()
      )
        .map((r) => r.address)
        .sort()
    const registered = await own()
    await stolen.query('CALL f2b_register_addresses(\'web-a\', \'["0.0.0.0/0", "::/0", "10.0.0.0/8", "$(reboot)"]\')')
    expect(await own()).toEqual(registered)
    const many = JSON.stringify(Array.from({ length: 65 }, (_, i) => `198.18.0.${i + 1}`))
    await expect(stolen.query('CALL f2b_register_addresses(?, ?)', ['web-a', many])).rejects.toThrow(/at most 64 addresses/)
    expect(await own()).toEqual(registered)

    await stolen.query("CALL f2b_advance_cursor('web-a', 999999999999)")
    expect(await cursorOf('web-a')).toBeLessThanOrEqual(await sequence())
  })

  it('the flood limit holds for a stolen account that calls the routine itself', async () => {
    expect((await runProgram(BIN.cli, ['bans', 'limit', '3', '--config', operator])).code).toBe(0)
    try {
      const held: number[] = []
      for (let i = 0; i < 6; i++) {
        const [sets] = (await stolen.query('CALL f2b_report_ban(?, NULL, ?, ?, ?, ?, 600, NULL, 0)', ['web-a', `198.51.100.${20 + i}`, 'sshd', 'tcp', '22'])) as unknown as [
          { held: number }[][],
        ]
        held.push(Number(sets[0]?.[0]?.held))
      }
      // 198.51.100.5 above counts too: 3 in the minute, then everything is held.
      expect(held.filter((h) => h === 1).length).toBeGreaterThanOrEqual(3)
      expect((await runProgram(BIN.cli, ['bans', 'held', '--config', operator])).stdout).toMatch(/web-a +\d /)
      expect((await readdb('c')).code).toBe(0)
      expect(await statusOn('198.51.100.25', 'web-c')).toEqual([BanStatus.Pending])
    } finally {
      await runProgram(BIN.cli, ['bans', 'drop', '--reporter', 'web-a', '--config', operator])
      await runProgram(BIN.cli, ['bans', 'limit', '1000', '--config', operator])
    }
  })

  it('after every attack, the fleet still works: a new ban from B reaches A and C, and no cursor is past the sequence', async () => {
    expect(await add2db('b', '203.0.113.11')).toMatchObject({ code: 0, stderr: '' })
    for (const k of ['a', 'c'] as const) expect((await readdb(k)).code).toBe(0)
    expect(await statusOn('203.0.113.11', 'web-a')).toEqual([BanStatus.Added])
    expect(await statusOn('203.0.113.11', 'web-c')).toEqual([BanStatus.Added])
    for (const h of ['web-a', 'web-b', 'web-c']) expect(await cursorOf(h)).toBeLessThanOrEqual(await sequence())
  })

  it('an upgrade (`migrate` again, which re-creates the routines) keeps every host able to report and poll', async () => {
    // MariaDB drops the EXECUTE grants of a routine that is dropped and created again.
    const migrated = await runProgram(BIN.cli, ['migrate', '--config', operator])
    expect(migrated.code, migrated.stderr).toBe(0)
    expect(await add2db('b', '203.0.113.12')).toMatchObject({ code: 0, stderr: '' })
    for (const k of ['a', 'c'] as const) expect(await readdb(k)).toMatchObject({ code: 0 })
    expect(await statusOn('203.0.113.12', 'web-a')).toEqual([BanStatus.Added])
    expect(await statusOn('203.0.113.12', 'web-c')).toEqual([BanStatus.Added])
  })

  it('rotate-password sets a new password; remove drops the account and keeps the history', async () => {
    const before = readFileSync(accounts.c.passwordFile, 'utf8')
    const rotated = await runProgram(BIN.cli, ['hosts', 'rotate-password', 'web-c', '--password-file', accounts.c.passwordFile, '--config', operator])
    expect(rotated.code).toBe(0)
    expect(readFileSync(accounts.c.passwordFile, 'utf8')).not.toBe(before)
    expect(statSync(accounts.c.passwordFile).mode & 0o777).toBe(0o600)
    expect((await readdb('c')).code).toBe(0)
    const removed = await runProgram(BIN.cli, ['hosts', 'remove', 'web-c', '--config', operator])
    expect(removed.stdout).toMatch(/^host web-c: 1 account dropped/)
    const refused = await readdb('c')
    expect(refused.code).toBe(1)
    expect(refused.stderr).toMatch(/Access denied/)
    expect(await statusOn('203.0.113.11', 'web-c')).toEqual([BanStatus.Added])
  })
})
