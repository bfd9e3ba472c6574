import { existsSync, readdirSync } from 'node:fs'
import { createServer, type Server } from 'node:net'
import { join } from 'node:path'
import BetterSqlite3 from 'better-sqlite3'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { CentralDb } from '@f2b-central/core/db/db-adapter'
import { BanStatus } from '@f2b-central/core/schema/ban-status'
import { createTestDatabase, dialects, type TestDatabase } from './setup/dialects.js'
import { BIN, runProgram, writeHostConfig, writeOperatorConfig } from './setup/programs.js'

describe.each(dialects())('%s: add2db', (dialect) => {
  let tdb: TestDatabase
  let central: CentralDb
  let config: string
  const add2db = (...args: string[]) => runProgram(BIN.add2db, ['--config', config, ...args])
  const banCount = async () =>
    Number(
      (
        await central.db
          .selectFrom('bans')
          .select((eb) => eb.fn.countAll().as('n'))
          .executeTakeFirstOrThrow()
      ).n,
    )

  beforeAll(async () => {
    tdb = await createTestDatabase(dialect)
    central = await tdb.openMigrated()
    config = writeHostConfig({ dir: tdb.dir, name: 'web-1', dbUrl: tdb.url, extra: { bans: { defaultBantime: 7200 } } })
  })
  afterAll(async () => {
    await central?.close()
    await tdb?.drop()
  })

  it("stores a ban and the reporter's status 1, silently, exit 0", async () => {
    const r = await add2db('--jail', 'sshd', '--ip', '2001:DB8::0:5', '--protocol', 'tcp', '--port', 'ssh', '--bantime', '600')
    expect(r).toMatchObject({ code: 0, stdout: '', stderr: '' })
    const row = await central.db.selectFrom('ban_host_status').selectAll().where('ip', '=', '2001:db8::5').executeTakeFirstOrThrow()
    expect(row).toMatchObject({ jail: 'sshd', protocol: 'tcp', port: 'ssh', added_by: 'web-1', host: 'web-1', status: BanStatus.Added })
  })

  it("takes the old add2db.py flags, and the config's default ban time", async () => {
    const r = await add2db('-j', 'postfix', '-pr', 'tcp', '-p', 'smtp,465,submission', '-i', '198.51.100.40')
    expect(r.code).toBe(0)
    const ban = await central.db.selectFrom('bans').selectAll().where('ip', '=', '198.51.100.40').executeTakeFirstOrThrow()
    expect(ban).toMatchObject({ jail: 'postfix', port: 'smtp,465,submission', bantime: 7200 })
  })

  it.each([
    [[], /missing --jail/],
    [['--jail', 'sshd'], /missing --ip/],
    [['--jail', 'sshd', '--ip'], /--ip needs a value/],
    [['--jail', 'sshd', '--ip', '192.0.2.1', '--ip', '192.0.2.2'], /--ip given twice/],
    [['--jail', 'sshd', '--ip', '192.0.2.1', '--frobnicate', 'x'], /unknown argument "--frobnicate"/],
    [['--jail', 'sshd', '--ip', '192.0.2.1', 'stray'], /unknown argument "stray"/],
    [['--jail', 'sshd', '--ip', '192.0.2.300'], /invalid ip "192\.0\.2\.300": not an IPv4 or IPv6 address/],
    [['--jail', 'sshd', '--ip', '0.0.0.0/0'], /invalid ip "0\.0\.0\.0\/0"/],
    [['--jail', 'sshd', '--ip', '1.2.3.4\n2026-01-01 00:00:00 +0000 f2b-central: ban 10.0.0.1'], /invalid ip "1\.2\.3\.4\\n2026/],
    [['--jail', 'sshd', '--ip', '$(reboot)'], /invalid ip "\$\(reboot\)"/],
    [['--jail', 'sshd', '--ip', 'fe80::1%eth0'], /zone ids are not allowed/],
    [['--jail', 'sshd', '--ip', '127.0.0.1'], /loopback addresses cannot be banned/],
    [['--jail', 'sshd', '--ip', '１９２.0.2.1'], /not an IPv4 or IPv6 address/],
    [['--jail', 'ssh d', '--ip', '192.0.2.1'], /invalid jail "ssh d"/],
    [['--jail', 'j'.repeat(65), '--ip', '192.0.2.1'], /invalid jail/],
    [['--jail', 'sshd', '--ip', '192.0.2.1', '--port', '70000'], /invalid port "70000"/],
    [['--jail', 'sshd', '--ip', '192.0.2.1', '--port', 'ssh;reboot'], /invalid port/],
    [['--jail', 'sshd', '--ip', '192.0.2.1', '--protocol', 'tcp udp'], /invalid protocol/],
    [['--jail', 'sshd', '--ip', '192.0.2.1', '--bantime', '1h'], /invalid bantime "1h"/],
    [['--jail', 'sshd', '--ip', '192.0.2.1', '--bantime', '0'], /invalid bantime "0"/],
  ])('refuses %j: exit 2, one line, nothing stored', async (args, message) => {
    const before = await banCount()
    const r = await add2db(...args)
    expect(r.code).toBe(2)
    expect(r.stderr).toMatch(/^add2db: /)
    expect(r.stderr).toMatch(message)
    expect(r.stderr.trimEnd().split('\n')).toHaveLength(1)
    expect(await banCount()).toBe(before)
  })

  it('refuses an unmigrated database with exit 1 and the command to run, keeping the ban in the spool', async () => {
    const other = await createTestDatabase(dialect)
    try {
      // No host account can exist before `migrate` (`hosts add` needs the schema): on MySQL the
      // operator's account stands in for a host set up too early.
      const cfg = writeOperatorConfig({ dir: other.dir, name: 'web-2', dbUrl: other.url })
      const r = await runProgram(BIN.add2db, ['--config', cfg, '--jail', 'sshd', '--ip', '192.0.2.9'])
      expect(r.code).toBe(1)
      expect(r.stderr).toMatch(
        /^add2db: error: ban kept in the local spool \(.*web-2-spool\/.*\.ban\.json\): the database has no f2b-central schema \(run `f2b-central migrate` first\); the next add2db or readdb that reaches the database ships it\n$/,
      )
      expect(readdirSync(join(other.dir, 'web-2-spool')).filter((n) => n.endsWith('.ban.json'))).toHaveLength(1)
    } finally {
      await other.drop()
    }
  })

  it('a database that refuses the account or does not exist: exit 1, the ban kept in the spool', async () => {
    const missing = dialect === 'mysql' ? tdb.url.replace(/\/([^/]+)$/, '/$1_missing') : `sqlite:${tdb.dir}`
    const cfg = writeHostConfig({ dir: tdb.dir, name: 'web-3', dbUrl: missing })
    const before = await banCount()
    const r = await runProgram(BIN.add2db, ['--config', cfg, '--jail', 'sshd', '--ip', '192.0.2.10'])
    expect(r.code).toBe(1)
    expect(r.stderr).toMatch(/^add2db: error: ban kept in the local spool \(.*web-3-spool\/.*\.ban\.json\): .*(Unknown database|cannot open SQLite database)/)
    expect(r.stderr.trimEnd().split('\n')).toHaveLength(1)
    expect(readdirSync(join(tdb.dir, 'web-3-spool')).filter((n) => n.endsWith('.ban.json'))).toHaveLength(1)
    // refused at once: nothing to spare the next add2db
    expect(existsSync(join(tdb.dir, 'web-3-spool', '.database-silent'))).toBe(false)
    expect(await banCount()).toBe(before)
  })

  it('reports a broken config with exit 1, naming the key', async () => {
    const cfg = writeHostConfig({ dir: tdb.dir, name: 'web-3', dbUrl: tdb.url, extra: { bans: { defaultBantime: 'long' } } })
    const r = await runProgram(BIN.add2db, ['--config', cfg, '--jail', 'sshd', '--ip', '192.0.2.9'])
    expect(r.code).toBe(1)
    expect(r.stderr).toMatch(/bans\.defaultBantime: Invalid input: expected number/)
  })

  // The fuzz corpus's hardest cases through the real binary: 0 with a canonical stored ban, or 2 with nothing.
  it.each([
    '::ffff:192.0.2.44',
    '2001:DB8:0:0:0:0:0:44',
    '192.0.2.044',
    '１９２.0.2.44',
    'fe80::44%eth0',
    '192.0.2.44\n',
    '\u202e192.0.2.44',
    'x'.repeat(100_000),
    '3221225516',
    '0x7f.0.0.1',
  ])('add2db --ip %j: stored canonical (0) or refused (2)', async (ip) => {
    const before = await banCount()
    const r = await add2db('--jail', 'sshd', '--ip', ip)
    expect([0, 2]).toContain(r.code)
    if (r.code === 2) {
      expect(await banCount()).toBe(before)
      expect(r.stderr.length).toBeLessThan(400)
    } else {
      const last = await central.db.selectFrom('bans').select('ip').orderBy('id', 'desc').limit(1).executeTakeFirstOrThrow()
      expect(last.ip).toMatch(/^(192\.0\.2\.44|2001:db8::44)$/)
      expect(await banCount()).toBe(before + 1)
    }
  })

  it('stores every ban when many run at once', async () => {
    const before = await banCount()
    const runs = await Promise.all(Array.from({ length: 12 }, (_, i) => add2db('--jail', 'sshd', '--ip', `203.0.113.${100 + i}`)))
    expect(runs.map((r) => r.code)).toEqual(new Array(12).fill(0))
    expect(await banCount()).toBe(before + 12)
  })
})

describe('add2db never hangs fail2ban', () => {
  let tdb: TestDatabase
  beforeAll(async () => {
    tdb = await createTestDatabase('sqlite')
  })
  afterAll(async () => tdb?.drop())

  it('gives up on a MySQL server that accepts but never answers after the configured timeout, and spools the ban (exit 0)', async () => {
    // A real TCP listener that never speaks the MySQL protocol: what a hung server looks like.
    const sockets: import('node:net').Socket[] = []
    const server: Server = createServer((s) => void sockets.push(s))
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
    const port = (server.address() as { port: number }).port
    try {
      const cfg = writeHostConfig({ dir: tdb.dir, name: 'web-9', dbUrl: `mysql://f2b@127.0.0.1:${port}/fleet` })
      const r = await runProgram(BIN.add2db, ['--config', cfg, '--jail', 'sshd', '--ip', '192.0.2.9'], { timeoutMs: 20_000 })
      expect(r.code).toBe(0)
      expect(r.stderr).toMatch(/^add2db: warning: ban kept in the local spool \(.*\): .*(no answer within 3 s|ETIMEDOUT)/)
      expect(readdirSync(join(tdb.dir, 'web-9-spool')).filter((n) => n.endsWith('.ban.json'))).toHaveLength(1)
      // the next add2db need not wait as well (test/spool.test.ts)
      expect(existsSync(join(tdb.dir, 'web-9-spool', '.database-silent'))).toBe(true)
    } finally {
      for (const s of sockets) s.destroy()
      server.close()
    }
  })

  it('with a list of servers that all hang, still gives up within the one deadline, not one per server (issue 15)', async () => {
    const sockets: import('node:net').Socket[] = []
    const servers: Server[] = []
    for (let i = 0; i < 3; i++) {
      const server = createServer((s) => void sockets.push(s))
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
      servers.push(server)
    }
    try {
      const urls = servers.map((s) => `mysql://f2b@127.0.0.1:${(s.address() as { port: number }).port}/fleet`)
      const cfg = writeHostConfig({ dir: tdb.dir, name: 'web-7', dbUrl: '', extra: { database: { url: urls, timeoutSeconds: 3 } } })
      const r = await runProgram(BIN.add2db, ['--config', cfg, '--jail', 'sshd', '--ip', '192.0.2.7'], { timeoutMs: 20_000 })
      expect(r.code).toBe(0)
      // Each server gets a third of the deadline to connect: all three are tried, and fail2ban waits 3 s, not 9.
      expect(r.stderr).toMatch(
        /^add2db: warning: ban kept in the local spool \(.*\): .*(no answer within 3 s|no server of 3 answered: (127\.0\.0\.1:\d+: connect ETIMEDOUT(; )?){3})/,
      )
      expect(sockets).toHaveLength(3)
      expect(readdirSync(join(tdb.dir, 'web-7-spool')).filter((n) => n.endsWith('.ban.json'))).toHaveLength(1)
    } finally {
      for (const s of sockets) s.destroy()
      for (const s of servers) s.close()
    }
  })

  it('gives up on an SQLite file another process keeps locked, and spools the ban (exit 0)', async () => {
    const central = await tdb.openMigrated()
    await central.close()
    const path = tdb.url.slice('sqlite:'.length)
    const holder = new BetterSqlite3(path)
    holder.exec('BEGIN EXCLUSIVE')
    try {
      const cfg = writeHostConfig({ dir: tdb.dir, name: 'web-8', dbUrl: tdb.url })
      const r = await runProgram(BIN.add2db, ['--config', cfg, '--jail', 'sshd', '--ip', '192.0.2.9'], { timeoutMs: 20_000 })
      expect(r.code).toBe(0)
      expect(r.stderr).toMatch(/^add2db: warning: ban kept in the local spool \(.*\): .*(database is locked|no answer within)/)
      expect(existsSync(join(tdb.dir, 'web-8-spool', '.database-silent'))).toBe(true)
    } finally {
      holder.exec('ROLLBACK')
      holder.close()
    }
  })
})
