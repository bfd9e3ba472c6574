// Issue 10 §3: add2db, readdb and f2b-central run as root, so every file they read or write
// is checked on the descriptor they use: a config or password file someone else could have
// written is refused, a link planted in the spool or in the shared log's place is never
// followed, and a spool directory others may write is never used. Each case runs the built
// programs against real files; `nobody` (uid 65534) plays the other user.
import { randomUUID } from 'node:crypto'
import { execFileSync } from 'node:child_process'
import { chmodSync, chownSync, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { CentralDb } from '@f2b-central/core/db/db-adapter'
import { BanStatus } from '@f2b-central/core/schema/ban-status'
import { createFail2banStateDb } from '../scripts/fail2ban-state-db.mjs'
import { createTestDatabase, dialects, type TestDatabase } from './setup/dialects.js'
import { adminConnection } from './setup/mariadb.js'
import { runCli } from './setup/operator.js'
import { BIN, runProgram, writeHostConfig, writeOperatorConfig } from './setup/programs.js'

const NOBODY = 65534
// Nothing listens on port 1: the database is "down" at once, whatever the dialect under test.
const DOWN_URL = 'mysql://f2b@127.0.0.1:1/f2b_down'

describe.runIf(process.getuid?.() === 0).each(dialects())('%s: files root acts on', (dialect) => {
  let tdb: TestDatabase
  let central: CentralDb
  let n = 0
  const ip = () => `198.51.100.${++n}`
  const bansOf = (address: string) => central.db.selectFrom('bans').select(['id', 'ip']).where('ip', '=', address).execute()

  beforeAll(async () => {
    tdb = await createTestDatabase(dialect)
    central = await tdb.openMigrated()
  })
  afterAll(async () => {
    await central?.close()
    await tdb?.drop()
  })

  function privateFile(name: string, text: string, mode = 0o600): string {
    const p = join(tdb.dir, name)
    writeFileSync(p, text, { mode })
    chmodSync(p, mode)
    return p
  }

  describe('config and password files', () => {
    it('a config owned by another user (0660) is refused by every program, and the fail2ban.client it names never runs', async () => {
      const marker = join(tdb.dir, 'client-ran')
      const client = privateFile('their-client', `#!/bin/sh\nid -u > ${marker}\n`, 0o755)
      const config = writeHostConfig({ dir: tdb.dir, name: 'theirs', dbUrl: tdb.url, fail2ban: { client: [client] } })
      chownSync(config, NOBODY, NOBODY)
      chmodSync(config, 0o660)
      const refusal = `the config file ${config} is owned by uid 65534 (not root) and is writable by its group (mode 660); refusing to use it (chown root ${config} && chmod 640 ${config})\n`

      // `check` asks fail2ban through fail2ban.client once the config is read.
      const check = await runCli(['check', '--config', config])
      expect(check.code).toBe(1)
      expect(check.stdout.split('\n')[0]).toBe(`FAIL  config: ${refusal.trimEnd()}`)
      expect(await runProgram(BIN.readdb, ['--config', config])).toMatchObject({ code: 1, stdout: '', stderr: `readdb: ${refusal}` })
      const address = ip()
      expect(await runProgram(BIN.add2db, ['--config', config, '--jail', 'sshd', '--ip', address])).toMatchObject({ code: 1, stdout: '', stderr: `add2db: ${refusal}` })
      expect(existsSync(marker)).toBe(false)
      expect(await bansOf(address)).toEqual([])
    })

    it('a config its group may write is refused by add2db: exit 1, one line, nothing stored or spooled', async () => {
      const config = writeHostConfig({ dir: tdb.dir, name: 'group-writable', dbUrl: tdb.url })
      chmodSync(config, 0o620)
      const address = ip()
      const r = await runProgram(BIN.add2db, ['--config', config, '--jail', 'sshd', '--ip', address])
      expect(r).toMatchObject({ code: 1, stderr: `add2db: the config file ${config} is writable by its group (mode 620); refusing to use it (chmod 600 ${config})\n` })
      expect(await bansOf(address)).toEqual([])
      expect(existsSync(join(tdb.dir, 'group-writable-spool'))).toBe(false)
    })

    it("a FIFO in the config's place: add2db answers at once (exit 1) instead of waiting for a writer", async () => {
      const fifo = join(tdb.dir, 'fifo.yml')
      execFileSync('mkfifo', ['-m', '600', fifo])
      const r = await runProgram(BIN.add2db, ['--config', fifo, '--jail', 'sshd', '--ip', ip()], { timeoutMs: 10_000 })
      expect(r).toMatchObject({ code: 1, stderr: `add2db: the config file ${fifo} is not a regular file; refusing to use it (name a regular file in the config file)\n` })
    })

    it('a --password-file owned by another user, or a link in its place, is refused before any database is reached', async () => {
      const config = writeOperatorConfig({ dir: tdb.dir, dbUrl: tdb.url })
      const theirs = privateFile('their-password', 'secret\n')
      chownSync(theirs, NOBODY, NOBODY)
      const legacy = ['import', '--legacy', '--from', DOWN_URL, '--config', config, '--password-file']
      expect(await runCli([...legacy, theirs])).toMatchObject({
        code: 1,
        stdout: '',
        stderr: `f2b-central: password file ${theirs} is owned by uid 65534 (not root); refusing to use it (chown root ${theirs})\n`,
      })
      const link = join(tdb.dir, 'password-link')
      symlinkSync(privateFile('real-password', 'secret\n'), link)
      expect(await runCli([...legacy, link])).toMatchObject({
        code: 1,
        stderr: expect.stringMatching(`^f2b-central: password file ${link} is a symbolic link; refusing to follow it`),
      })
    })

    it.runIf(dialect === 'mysql')('hosts add with a --password-file owned by another user creates no account', async () => {
      const config = writeOperatorConfig({ dir: tdb.dir, name: 'operator', dbUrl: tdb.url })
      const theirs = privateFile('their-host-password', 'chosen-by-them\n')
      chownSync(theirs, NOBODY, NOBODY)
      const account = `f2b_t${randomUUID().slice(0, 8)}`
      const r = await runCli(['hosts', 'add', 'web-77', '--account', account, '--password-file', theirs, '--config', config])
      expect(r).toMatchObject({ code: 1, stderr: `f2b-central: --password-file ${theirs} is owned by uid 65534 (not root); refusing to use it (chown root ${theirs})\n` })
      const c = await adminConnection()
      try {
        const [rows] = await c.query('SELECT User FROM mysql.user WHERE User = ?', [account])
        expect(rows).toEqual([])
      } finally {
        // Code that got it wrong created one: leave the shared server as it was.
        await c.query(`DROP USER IF EXISTS '${account}'@'%'`)
        await c.end()
      }
    })
  })

  describe('the spool', () => {
    // A ban someone wants shipped as this host's report, kept where only root may read.
    function plantedEntry(address: string, host: string): string {
      const entry = { ip: address, jail: 'sshd', protocol: 'tcp', port: '22', bantime: 600, key: randomUUID(), host, reportedAt: new Date().toISOString() }
      return privateFile(`planted-${address}`, JSON.stringify(entry))
    }

    it('an entry that is a symbolic link is never read: readdb and add2db report it, leave it in place and ship the rest', async () => {
      const config = writeHostConfig({ dir: tdb.dir, name: 'spooler', dbUrl: tdb.url, fail2ban: { database: join(tdb.dir, 'spooler-f2b.sqlite3') } })
      createFail2banStateDb(join(tdb.dir, 'spooler-f2b.sqlite3'))
      const spool = join(tdb.dir, 'spooler-spool')
      mkdirSync(spool, { mode: 0o700 })
      const planted = ip()
      const target = plantedEntry(planted, 'spooler')
      const before = readFileSync(target, 'utf8')
      const link = join(spool, `20260101000000-${randomUUID()}.ban.json`)
      symlinkSync(target, link)
      // A ban spooled the ordinary way, while the database was down: it still ships.
      const spooled = ip()
      const down = writeHostConfig({ dir: tdb.dir, name: 'spooler-down', dbUrl: DOWN_URL, extra: { spool: { dir: spool }, host: { name: 'spooler' } } })
      expect((await runProgram(BIN.add2db, ['--config', down, '--jail', 'sshd', '--ip', spooled])).code).toBe(0)

      const r = await runProgram(BIN.readdb, ['--config', config])
      expect(r.code, r.stdout + r.stderr).toBe(0)
      const warnings = r.stdout.split('\n').filter((l) => l.includes('spool not shipped'))
      expect(warnings).toHaveLength(1)
      expect(JSON.parse(warnings[0]!)).toMatchObject({ level: 40, problem: expect.stringMatching(`^spool entry ${link} is a symbolic link; refusing to follow it`) })
      expect(r.stdout).toMatch(/"shipped":1/)
      expect(await bansOf(spooled)).toHaveLength(1)
      expect(await bansOf(planted)).toEqual([])
      expect(lstatSync(link).isSymbolicLink()).toBe(true)
      expect(readFileSync(target, 'utf8')).toBe(before)

      const add = await runProgram(BIN.add2db, ['--config', config, '--jail', 'sshd', '--ip', ip()])
      expect(add.code).toBe(0)
      expect(add.stderr).toMatch(new RegExp(`^add2db: warning: ban stored; not shipped from the spool: spool entry ${link} is a symbolic link; refusing to follow it \\(.*\\)\n$`))
      expect(await bansOf(planted)).toEqual([])
    })

    it('a directory others may write is never used: with the database down add2db exits 1 and writes nothing there', async () => {
      const spool = join(tdb.dir, 'open-spool')
      mkdirSync(spool)
      chmodSync(spool, 0o777)
      // Someone who may write the directory plants an entry: it must never be read either.
      const planted = ip()
      symlinkSync(plantedEntry(planted, 'open'), join(spool, `20260101000000-${randomUUID()}.ban.json`))
      const contents = readdirSync(spool)
      const down = writeHostConfig({ dir: tdb.dir, name: 'open-down', dbUrl: DOWN_URL, extra: { spool: { dir: spool } } })
      const address = ip()
      const r = await runProgram(BIN.add2db, ['--config', down, '--jail', 'sshd', '--ip', address])
      expect(r.code).toBe(1)
      expect(r.stderr).toMatch(
        new RegExp(
          `^add2db: gave up: the ban of ${address.replace(/\./g, '\\.')} was not stored \\(.*\\) and the spool failed: spool\\.dir ${spool} is writable by its group and other users \\(mode 777\\); refusing to use it \\(chmod 755 ${spool}\\)\n$`,
        ),
      )
      expect(readdirSync(spool)).toEqual(contents)

      chmodSync(spool, 0o700)
      chownSync(spool, NOBODY, NOBODY)
      const again = await runProgram(BIN.add2db, ['--config', down, '--jail', 'sshd', '--ip', ip()])
      expect(again.code).toBe(1)
      expect(again.stderr).toMatch(`and the spool failed: spool.dir ${spool} is owned by uid 65534 (not root); refusing to use it (chown root ${spool})\n`)
      expect(readdirSync(spool)).toEqual(contents)
    })

    it('a directory others may write: with the database up the ban is stored, and add2db and readdb say the spool was not shipped', async () => {
      const spool = join(tdb.dir, 'open-spool-2')
      mkdirSync(spool)
      chmodSync(spool, 0o757)
      const planted = ip()
      symlinkSync(plantedEntry(planted, 'open-up'), join(spool, `20260101000000-${randomUUID()}.ban.json`))
      const f2bDb = join(tdb.dir, 'open-up-f2b.sqlite3')
      createFail2banStateDb(f2bDb)
      const up = writeHostConfig({ dir: tdb.dir, name: 'open-up', dbUrl: tdb.url, fail2ban: { database: f2bDb }, extra: { spool: { dir: spool } } })
      const address = ip()
      const r = await runProgram(BIN.add2db, ['--config', up, '--jail', 'sshd', '--ip', address])
      expect(r).toMatchObject({
        code: 0,
        stderr: `add2db: warning: ban stored; not shipped from the spool: spool.dir ${spool} is writable by other users (mode 757); refusing to use it (chmod 755 ${spool}); nothing in it was shipped\n`,
      })
      expect(await bansOf(address)).toHaveLength(1)
      const poll = await runProgram(BIN.readdb, ['--config', up])
      expect(poll.code).toBe(0)
      expect(poll.stdout).toMatch(/"msg":"spool not shipped"/)
      expect(await bansOf(planted)).toEqual([])
    })
  })

  it('a shared log that is a symbolic link is never written through: the ban stays pending on that host with the reason, the file it points to untouched', async () => {
    const victim = privateFile('victim', 'root:do-not-touch\n')
    const sharedLog = join(tdb.dir, 'linked-shared.log')
    symlinkSync(victim, sharedLog)
    const f2bDb = join(tdb.dir, 'linked-f2b.sqlite3')
    createFail2banStateDb(f2bDb)
    const reporter = writeHostConfig({ dir: tdb.dir, name: 'reporter', dbUrl: tdb.url })
    const linked = writeHostConfig({ dir: tdb.dir, name: 'linked', dbUrl: tdb.url, sharedLog, fail2ban: { database: f2bDb } })
    const address = ip()
    expect((await runProgram(BIN.add2db, ['--config', reporter, '--jail', 'sshd', '--ip', address])).code).toBe(0)

    const r = await runProgram(BIN.readdb, ['--config', linked])
    expect(r.code, r.stdout + r.stderr).toBe(0)
    expect(readFileSync(victim, 'utf8')).toBe('root:do-not-touch\n')
    expect(lstatSync(sharedLog).isSymbolicLink()).toBe(true)
    const status = await central.db.selectFrom('ban_host_status').select(['status', 'error']).where('ip', '=', address).where('host', '=', 'linked').executeTakeFirstOrThrow()
    // Kept pending with the reason (an admin fixes the file), and applied by the first poll after.
    expect(Number(status.status)).toBe(BanStatus.Pending)
    expect(status.error).toMatch(new RegExp(`^fail2ban\\.sharedLog ${sharedLog} is a symbolic link; refusing to follow it \\(remove the link; `))
  })
})
