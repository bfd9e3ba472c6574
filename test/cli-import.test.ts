// f2b-central import, as built, on every dialect: a plain address list (the persistent-ban
// lists of shared/seeds/004: one address a line, comments, CIDRs) from a file or stdin, and
// the old Python scripts' MySQL table ip_table (shared/seeds/002) with --legacy.
import { chmodSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import type { CentralDb } from '@f2b-central/core/db/db-adapter'
import { fromDbTime, toDbTime } from '@f2b-central/core/time/db-time'
import { createTestDatabase, dialects, type TestDatabase } from './setup/dialects.js'
import { adminConnection, createMysqlDatabase } from './setup/mariadb.js'
import { DAY, runCli } from './setup/operator.js'
import { writeOperatorConfig } from './setup/programs.js'

const LIST = [
  '# persistent bans, one address a line (as /etc/shitlist)',
  '203.0.113.21',
  '203.0.113.22   # from the mail jail',
  '203.0.113.21',
  '203.0.113.23\r',
  '198.51.100.0/24',
  '198.51.100.7/32',
  '2001:DB8:0:0::7',
  '2001:db8::8/128',
  '2001:db8::/64',
  'not-an-ip',
  '10.0.0.256',
  '127.0.0.1',
  '',
  '   ',
].join('\n')

/** The URL a test server gave, as `--from` takes it: the password goes in --password-file. */
function withoutPassword(url: string): string {
  const u = new URL(url)
  u.password = ''
  return u.toString()
}

const ago = (days: number) => new Date(Math.floor(Date.now() / 1000 - days * DAY) * 1000)
const legacyTime = (d: Date) => toDbTime(d).slice(0, 19)

describe.each(dialects())('%s: f2b-central import', (dialect) => {
  let tdb: TestDatabase
  let central: CentralDb
  let config: string
  let listFile: string
  const run = (args: string[], input?: string) => runCli(['import', ...args, '--config', config], { input })

  async function bans(jail: string) {
    return central.db
      .selectFrom('bans as b')
      .innerJoin('hosts as r', 'r.id', 'b.reporter_id')
      .leftJoin('ban_status as s', (j) => j.onRef('s.ban_id', '=', 'b.id').onRef('s.host_id', '=', 'b.reporter_id'))
      .select(['b.ip', 'r.name as reporter', 'b.bantime', 'b.created_at', 'b.expires_at', 's.status'])
      .where('b.jail', '=', jail)
      .orderBy('b.id')
      .execute()
  }

  beforeAll(async () => {
    tdb = await createTestDatabase(dialect)
    central = await tdb.openMigrated()
    config = writeOperatorConfig({ dir: tdb.dir, dbUrl: tdb.url })
    listFile = join(tdb.dir, 'shitlist')
    writeFileSync(listFile, LIST)
  })
  afterAll(async () => {
    await central?.close()
    await tdb?.drop()
  })

  it('stores every valid address once as a ban of this host, and reports the rest by line', async () => {
    const r = await run([listFile])
    expect(r.code).toBe(0)
    expect(r.stdout).toBe(
      `imported ${listFile} as jail import reported by ops: 6 stored, 0 already banned\n` +
        'skipped: 3 invalid lines, 2 networks larger than one address (unsupported for now), 1 duplicate\n',
    )
    expect(r.stderr).toBe(
      [
        `f2b-central: import: ${listFile} line 11: invalid "not-an-ip": not an IPv4 or IPv6 address`,
        `f2b-central: import: ${listFile} line 12: invalid "10.0.0.256": not an IPv4 or IPv6 address`,
        `f2b-central: import: ${listFile} line 13: invalid "127.0.0.1": loopback addresses cannot be banned`,
        '',
      ].join('\n'),
    )
    const rows = await bans('import')
    expect(rows.map((b) => b.ip)).toEqual(['203.0.113.21', '203.0.113.22', '203.0.113.23', '198.51.100.7', '2001:db8::7', '2001:db8::8'])
    for (const b of rows) {
      expect(b).toMatchObject({ reporter: 'ops', bantime: 86400, status: 1 })
      const span = fromDbTime(b.expires_at!).getTime() - fromDbTime(b.created_at).getTime()
      expect(Math.abs(span - 86400_000)).toBeLessThan(2000)
    }
  })

  it('a second import of the same list stores nothing twice (--json lists what was skipped)', async () => {
    const r = await run([listFile, '--json'])
    expect(r.code).toBe(0)
    const out = JSON.parse(r.stdout) as Record<string, unknown>
    expect(out).toMatchObject({ jail: 'import', reporter: 'ops', addresses: 6, stored: 0, alreadyBanned: 6, invalid: 3, unsupported: 2, duplicates: 1 })
    expect(out.unsupportedLines).toEqual([
      { line: 6, text: '198.51.100.0/24', problem: 'networks larger than one address are not supported yet' },
      { line: 10, text: '2001:db8::/64', problem: 'networks larger than one address are not supported yet' },
    ])
    expect((await bans('import')).length).toBe(6)
  })

  it('reads stdin with another jail, reporter and ban time; permanent bans have no expiry', async () => {
    const r = await run(['-', '--jail', 'blocklist', '--as', 'edge-1', '--bantime', '2h'], '203.0.113.21\n203.0.113.30\n')
    expect(r).toMatchObject({ code: 0, stderr: '' })
    expect(r.stdout).toMatch(/^imported stdin as jail blocklist reported by edge-1: 2 stored, 0 already banned\n/)
    const rows = await bans('blocklist')
    expect(rows.map((b) => [b.ip, b.reporter, b.bantime, b.status])).toEqual([
      ['203.0.113.21', 'edge-1', 7200, 1],
      ['203.0.113.30', 'edge-1', 7200, 1],
    ])
    const perm = await run(['-', '--jail', 'forever', '--bantime', 'permanent'], '192.0.2.99\n192.0.2.98\n')
    expect(perm.code).toBe(0)
    const minusOne = await run(['-', '--jail', 'forever', '--bantime=-1'], '192.0.2.97\n192.0.2.98\n')
    expect(minusOne.stdout).toMatch(/: 1 stored, 1 already banned\n/)
    expect((await bans('forever')).map((b) => [b.ip, b.bantime, b.expires_at])).toEqual([
      ['192.0.2.99', -1, null],
      ['192.0.2.98', -1, null],
      ['192.0.2.97', -1, null],
    ])
  })

  it('--strict: one invalid line exits 2 and stores nothing', async () => {
    const r = await run(['-', '--strict', '--jail', 'strict'], '192.0.2.10\n192.0.2.300\n192.0.2.11\n')
    expect(r.code, r.stderr).toBe(2)
    expect(r.stdout).toBe('')
    expect(r.stderr).toBe(
      'f2b-central: import: stdin line 2: invalid "192.0.2.300": not an IPv4 or IPv6 address\n' +
        'f2b-central: import: 1 invalid line in stdin with --strict: nothing stored (run `f2b-central import --help`)\n',
    )
    expect(await bans('strict')).toEqual([])
  })

  it('an unreadable file exits 1', async () => {
    const r = await run([join(tdb.dir, 'missing.txt')])
    expect(r.code).toBe(1)
    expect(r.stderr).toBe(`f2b-central: import: cannot read ${join(tdb.dir, 'missing.txt')}: ENOENT\n`)
  })

  describe.skipIf(!inject('mysqlAvailable'))("--legacy from the old scripts' MySQL table", () => {
    let legacy: Awaited<ReturnType<typeof createMysqlDatabase>>
    let passwordFile: string
    const created = { a: ago(30), b: ago(3), c: ago(1) }

    beforeAll(async () => {
      legacy = await createMysqlDatabase()
      passwordFile = join(tdb.dir, 'legacy-password')
      writeFileSync(passwordFile, `${decodeURIComponent(new URL(legacy.url).password)}\n`, { mode: 0o600 })
      const c = await adminConnection()
      try {
        await c.query(`USE \`${legacy.name}\``)
        // The table as the old README creates it, plus the host columns its add2db.py added.
        await c.query(`CREATE TABLE IF NOT EXISTS ip_table (
          id bigint(20) unsigned NOT NULL AUTO_INCREMENT,
          added_by varchar(255) COLLATE utf8_unicode_ci DEFAULT NULL,
          created datetime NOT NULL default CURRENT_TIMESTAMP,
          jailname text COLLATE utf8_unicode_ci NOT NULL,
          protocol varchar(16) COLLATE utf8_unicode_ci NOT NULL,
          port varchar(32) COLLATE utf8_unicode_ci NOT NULL,
          ip varchar(64) COLLATE utf8_unicode_ci NOT NULL,
          host_web1 int(11) NOT NULL DEFAULT 0,
          host_db1 int(11) NOT NULL DEFAULT 0,
          host_mail1 int(11) NOT NULL DEFAULT 0,
          PRIMARY KEY (id),
          KEY added_by (added_by,ip)
        ) ENGINE=MyISAM DEFAULT CHARSET=utf8 COLLATE=utf8_unicode_ci`)
        const rows: unknown[][] = [
          ['web-1', legacyTime(created.a), 'sshd', 'tcp', '22', '203.0.113.10', 1, 1, 0],
          ['db.1', legacyTime(created.b), 'postfix', 'tcp', '587', '198.51.100.11', 2, 1, 3],
          ['web-1', legacyTime(created.b), 'sshd', 'tcp', '21', '999.1.1.1', 1, 0, 0],
          ['web-1', legacyTime(created.c), 'recidive', 'tcp', '0:65535', '2001:DB8::20', 1, 0, 0],
          [null, legacyTime(created.c), 'sshd', 'tcp', '22', '203.0.113.12', 0, 0, 0],
          ['web-1', legacyTime(created.c), 'bad jail', 'tcp', '22', '203.0.113.13', 1, 0, 0],
        ]
        for (const r of rows) {
          await c.query('INSERT INTO ip_table (added_by, created, jailname, protocol, port, ip, host_web1, host_db1, host_mail1) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)', r)
        }
      } finally {
        await c.end()
      }
    })
    afterAll(async () => {
      await legacy?.drop()
    })

    it('maps rows to bans with their created time, expiry +25 days, hosts and per-host statuses', async () => {
      const from = new URL(withoutPassword(legacy.url))
      const r = await run(['--legacy', '--from', from.toString(), '--password-file', passwordFile])
      expect(r.code).toBe(0)
      expect(r.stdout).toBe(
        `imported mysql://${from.username}@${from.hostname}:${from.port || 3306}/${legacy.name} ip_table: 6 rows, 3 stored, 0 already imported, 3 invalid\n` +
          'hosts: db.1, mail1, web-1; 6 host statuses stored\n',
      )
      expect(r.stderr.trim().split('\n')).toEqual([
        expect.stringMatching(/ip_table row 3: invalid ip "999\.1\.1\.1": not an IPv4 or IPv6 address$/),
        expect.stringMatching(/ip_table row 5: added_by is empty$/),
        expect.stringMatching(/ip_table row 6: invalid jail "bad jail"/),
      ])
      const rows = await central.db
        .selectFrom('bans as b')
        .innerJoin('hosts as r', 'r.id', 'b.reporter_id')
        .select(['b.id', 'b.ip', 'b.jail', 'b.port', 'r.name as reporter', 'b.created_at', 'b.expires_at', 'b.bantime'])
        .where('b.jail', 'in', ['sshd', 'postfix', 'recidive'])
        .orderBy('b.created_at')
        .execute()
      expect(rows.map((b) => [b.ip, b.jail, b.port, b.reporter, b.bantime])).toEqual([
        ['203.0.113.10', 'sshd', '22', 'web-1', 25 * DAY],
        ['198.51.100.11', 'postfix', '587', 'db.1', 25 * DAY],
        ['2001:db8::20', 'recidive', '0:65535', 'web-1', 25 * DAY],
      ])
      expect(rows.map((b) => fromDbTime(b.created_at).getTime())).toEqual([created.a, created.b, created.c].map((d) => d.getTime()))
      for (const b of rows) expect(fromDbTime(b.expires_at!).getTime() - fromDbTime(b.created_at).getTime()).toBe(25 * DAY * 1000)

      const statuses = await central.db
        .selectFrom('ban_host_status')
        .select(['ip', 'host', 'status', 'error'])
        .where(
          'ban_id',
          'in',
          rows.map((b) => b.id),
        )
        .orderBy('ip')
        .orderBy('host')
        .execute()
      const by = Object.fromEntries(statuses.filter((s) => s.host !== 'ops' && s.host !== 'edge-1').map((s) => [`${s.ip} ${s.host}`, Number(s.status)]))
      expect(by).toEqual({
        '198.51.100.11 db.1': 1,
        '198.51.100.11 mail1': 3,
        '198.51.100.11 web-1': 2,
        '2001:db8::20 db.1': 0,
        '2001:db8::20 mail1': 0,
        '2001:db8::20 web-1': 1,
        '203.0.113.10 db.1': 1,
        '203.0.113.10 mail1': 0,
        '203.0.113.10 web-1': 1,
      })
      expect(statuses.find((s) => s.host === 'mail1' && Number(s.status) === 3)?.error).toMatch(/^imported from the legacy ip_table \(row 2\)/)
    })

    it('a second run imports nothing twice (--json); a wrong database or table exits 1', async () => {
      const r = await run(['--legacy', '--from', withoutPassword(legacy.url), '--password-file', passwordFile, '--json'])
      expect(r.code).toBe(0)
      expect(JSON.parse(r.stdout)).toMatchObject({ rows: 6, stored: 0, alreadyImported: 3, statuses: 0 })
      const missing = new URL(withoutPassword(legacy.url))
      missing.pathname = `/${tdb.dialect === 'mysql' ? new URL(tdb.url).pathname.slice(1) : legacy.name}`
      if (tdb.dialect === 'mysql') {
        const wrong = await run(['--legacy', '--from', missing.toString(), '--password-file', passwordFile])
        expect(wrong).toMatchObject({ code: 1, stderr: 'f2b-central: the legacy database has no table ip_table (check the database name in --from)\n' })
      }
      const gone = new URL(withoutPassword(legacy.url))
      gone.pathname = '/f2b_no_such_database'
      const unreachable = await run(['--legacy', '--from', gone.toString(), '--password-file', passwordFile])
      expect(unreachable.code).toBe(1)
      expect(unreachable.stderr).toMatch(/^f2b-central: legacy database mysql:\/\/.*\/f2b_no_such_database: .*Unknown database/)
    })

    // Issue 9: the same check as database.passwordFile, before the old database is reached.
    it('refuses a --password-file other users can read, exit 1, with the chmod that fixes it', async () => {
      const loose = join(tdb.dir, 'legacy-password-loose')
      writeFileSync(loose, 'secret\n', { mode: 0o640 })
      chmodSync(loose, 0o640)
      const r = await run(['--legacy', '--from', withoutPassword(legacy.url), '--password-file', loose])
      expect(r).toMatchObject({
        code: 1,
        stdout: '',
        stderr: `f2b-central: password file ${loose} is accessible to other users (mode 640); refusing to use it (chmod 600 ${loose})\n`,
      })
    })
  })
})

// Issue 10: a command line is visible to every user (ps, /proc) and kept in shell history.
describe.concurrent('f2b-central import never takes a password on its command line, nor prints one', () => {
  it.each([
    ['--from with a password', ['--legacy', '--from', 'mysql://legacy:s3cret@db.example/fail2ban'], 'mysql://legacy:***@db.example/fail2ban'],
    ['and a --password-file', ['--legacy', '--from', 'mysql://legacy:s3cret@db.example/fail2ban', '--password-file', '/nonexistent'], 'mysql://legacy:***@db.example/fail2ban'],
    ['an empty one', ['--legacy', '--from', 'mysql://legacy:@db.example/fail2ban'], 'mysql://legacy:***@db.example/fail2ban'],
    ['and no host', ['--legacy', '--from', 'mysql://legacy:s3cret@/fail2ban'], 'mysql://legacy:***@/fail2ban'],
    ['a malformed escape', ['--legacy', '--from', 'mysql://legacy:s3cr%zzet@db.example/fail2ban'], 'mysql://legacy:***@db.example/fail2ban'],
    ['a / in it', ['--legacy', '--from', 'mysql://legacy:s3/cret@db.example/fail2ban'], 'mysql://legacy:***@db.example/fail2ban'],
    ['another scheme', ['--legacy', '--from', 'postgres://legacy:s3cret@db.example/fail2ban'], 'postgres://legacy:***@db.example/fail2ban'],
  ])('%s: exit 2, one line, the password not echoed', async (_what, args, shown) => {
    const r = await runCli(['import', ...args, '--config', '/nonexistent.yml'])
    expect(r.code, r.stderr).toBe(2)
    expect(r.stdout).toBe('')
    expect(r.stderr.trim().split('\n')).toHaveLength(1)
    expect(r.stderr).toContain(
      `f2b-central: import: invalid --from ${JSON.stringify(shown)}: a password on the command line is visible to every user (ps) and kept in shell history; put it in a file (mode 0600) and pass --password-file FILE`,
    )
    expect(r.stderr).not.toMatch(/s3|cr%zz/)
  })

  it('a --from URL given as FILE by mistake is not echoed with its password either', async () => {
    const r = await runCli(['import', 'mysql://legacy:s3cret@db.example/fail2ban', '--config', '/nonexistent.yml'])
    expect(r.code).toBe(1)
    expect(r.stderr).toBe('f2b-central: import: cannot read mysql://legacy:***@db.example/fail2ban: ENOENT\n')
  })
})

describe.concurrent('f2b-central import arguments', () => {
  it.each([
    [[], /^f2b-central: import: FILE is required \(- reads stdin\)/],
    [['a.txt', 'b.txt'], /^f2b-central: import: unexpected argument "b\.txt"/],
    [['a.txt', '--jail', 'a b'], /^f2b-central: import: invalid jail "a b"/],
    [['a.txt', '--as', 'x y'], /^f2b-central: import: invalid --as "x y"/],
    [['a.txt', '--bantime', '0'], /^f2b-central: import: invalid --bantime "0": must be longer than 0 seconds/],
    [['a.txt', '--bantime', 'forever'], /^f2b-central: import: invalid --bantime "forever"/],
    [['--legacy'], /^f2b-central: import: --legacy needs --from mysql:\/\/USER@HOST\/DB/],
    [['--legacy', 'a.txt', '--from', 'mysql://u@h/d'], /^f2b-central: import: --legacy reads --from, not a file/],
    [['--legacy', '--from', 'sqlite:/tmp/x.sqlite'], /^f2b-central: import: invalid --from "sqlite:\/tmp\/x\.sqlite": the old scripts kept their table in MySQL/],
    [['--legacy', '--from', 'mysql://nouser/db'], /^f2b-central: import: invalid --from "mysql:\/\/nouser\/db"/],
    [['--legacy', '--from', 'mysql://u@h/d', '--strict'], /^f2b-central: import: --strict does not apply to --legacy/],
    [['a.txt', '--from', 'mysql://u@h/d'], /^f2b-central: import: --from and --password-file go with --legacy/],
  ])('%j: exit 2 with one line', async (args, message) => {
    const r = await runCli(['import', ...args, '--config', '/nonexistent.yml'])
    expect(r.code, r.stderr).toBe(2)
    expect(r.stderr).toMatch(message)
    expect(r.stderr.trim().split('\n')).toHaveLength(1)
  })
})
