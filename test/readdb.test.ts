import { existsSync, readFileSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { CentralDb } from '@f2b-central/core/db/db-adapter'
import { insertBan } from '@f2b-central/core/db/queries/bans'
import { BanStatus } from '@f2b-central/core/schema/ban-status'
import { createFail2banStateDb } from '../scripts/fail2ban-state-db.mjs'
import { createTestDatabase, dialects, type TestDatabase } from './setup/dialects.js'
import { BIN, runProgram, startDaemon, writeHostConfig, writeOperatorConfig } from './setup/programs.js'

const report = (ip: string) => ({ ip, jail: 'sshd', protocol: 'tcp', port: 'ssh', bantime: 3600 })

describe.each(dialects())('%s: readdb and f2b-central migrate', (dialect) => {
  let tdb: TestDatabase
  let central: CentralDb
  let config: string
  let operator: string
  let sharedLog: string
  let f2bDb: string

  beforeAll(async () => {
    tdb = await createTestDatabase(dialect)
    f2bDb = join(tdb.dir, 'fail2ban.sqlite3')
    createFail2banStateDb(f2bDb)
    sharedLog = join(tdb.dir, 'shared.log')
    operator = writeOperatorConfig({ dir: tdb.dir, dbUrl: tdb.url, sharedLog, fail2ban: { database: f2bDb } })
  })
  afterAll(async () => {
    await central?.close()
    await tdb?.drop()
  })

  it('readdb refuses an unmigrated database, then `f2b-central migrate` creates the schema', async () => {
    // No host account can exist before `migrate` (`hosts add` needs the schema): on MySQL the
    // operator's account stands in for a host set up too early.
    const refused = await runProgram(BIN.readdb, ['--config', operator])
    expect(refused).toMatchObject({ code: 1, stderr: 'readdb: the database has no f2b-central schema (run `f2b-central migrate` first)\n' })
    const status = await runProgram(BIN.cli, ['migrate', '--status', '--config', operator])
    expect(status.stdout).toBe(
      'pending  0001-initial-schema\npending  0002-allowlist-unban-report-key\npending  0003-flood-guard-count\npending  0004-host-addresses\npending  0005-local-expiry-sweep\npending  0006-host-accounts\npending  0007-held-bans\npending  0008-firewall-resync\n',
    )
    const migrated = await runProgram(BIN.cli, ['migrate', '--config', operator])
    expect(migrated.code).toBe(0)
    expect(migrated.stdout).toMatch(
      /: applied 0001-initial-schema\n.*: applied 0002-allowlist-unban-report-key\n.*: applied 0003-flood-guard-count\n.*: applied 0004-host-addresses\n.*: applied 0005-local-expiry-sweep\n.*: applied 0006-host-accounts\n.*: applied 0007-held-bans\n.*: applied 0008-firewall-resync\n$/,
    )
    expect(migrated.stdout).not.toMatch(/password/)
    const again = await runProgram(BIN.cli, ['migrate', '--config', operator])
    expect(again.stdout).toMatch(/schema is up to date/)
    central = await tdb.open()
    config = writeHostConfig({ dir: tdb.dir, name: 'db-1', dbUrl: tdb.url, sharedLog, fail2ban: { database: f2bDb }, extra: { readdb: { schedule: '* * * * * *' } } })
  })

  it('one-shot: applies pending bans, logs one JSON line, and stays silent when idle', async () => {
    const id = await insertBan(central, 'web-1', null, report('192.0.2.50'))
    const r = await runProgram(BIN.readdb, ['--config', config])
    expect(r.code).toBe(0)
    const log = JSON.parse(r.stdout) as Record<string, unknown>
    expect(log).toMatchObject({ msg: 'poll', host: 'db-1', added: 1, linesWritten: 1 })
    expect(readFileSync(sharedLog, 'utf8')).toMatch(new RegExp(` f2b-central: ban 192\\.0\\.2\\.50 jail=sshd reporter=web-1 ban_id=${id}\\n$`))
    const idle = await runProgram(BIN.readdb, ['--config', config])
    expect(idle).toMatchObject({ code: 0, stdout: '', stderr: '' })
  })

  it('--daemon polls on the schedule and exits 0 on SIGTERM', async () => {
    const { child, output, exited } = startDaemon(config)
    try {
      await waitFor(() => output().includes('"msg":"started"'), 10_000)
      const id = await insertBan(central, 'web-1', null, report('192.0.2.51'))
      await waitFor(async () => (await statusOf(id)) === BanStatus.Added, 15_000)
      child.kill('SIGTERM')
      expect(await exited).toBe(0)
      expect(output()).toMatch(/"msg":"stopping"/)
    } finally {
      child.kill('SIGKILL')
    }
  })

  it.each([
    [['--frobnicate'], /^readdb: Unknown option '--frobnicate'/],
    [['extra'], /^readdb: Unexpected argument 'extra'/],
  ])('readdb %j: exit 2 with one line', async (args, message) => {
    const r = await runProgram(BIN.readdb, args)
    expect(r.code).toBe(2)
    expect(r.stderr).toMatch(message)
  })

  it('f2b-central without a command exits 2 with one line', async () => {
    expect(await runProgram(BIN.cli, [])).toMatchObject({ code: 2, stdout: '', stderr: 'f2b-central: missing command (run `f2b-central --help`)\n' })
  })

  it('f2b-central with an unknown command exits 2', async () => {
    const r = await runProgram(BIN.cli, ['frobnicate'])
    expect(r).toMatchObject({ code: 2, stderr: 'f2b-central: unknown command "frobnicate" (run `f2b-central --help`)\n' })
  })

  async function statusOf(banId: number): Promise<number | undefined> {
    const row = await central.db.selectFrom('ban_host_status').select('status').where('ban_id', '=', banId).where('host', '=', 'db-1').executeTakeFirst()
    return row?.status === undefined ? undefined : Number(row.status)
  }
})

async function waitFor(check: () => boolean | Promise<boolean>, timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs
  while (!(await check())) {
    if (Date.now() > until) throw new Error(`condition not met within ${timeoutMs} ms`)
    await new Promise((r) => setTimeout(r, 100))
  }
}

describe('readdb takes one lock per host', () => {
  let tdb: TestDatabase
  let config: string
  let lockFile: string
  beforeAll(async () => {
    tdb = await createTestDatabase('sqlite')
    await (await tdb.openMigrated()).close()
    const f2bDb = join(tdb.dir, 'fail2ban.sqlite3')
    createFail2banStateDb(f2bDb)
    lockFile = join(tdb.dir, 'readdb.lock')
    config = writeHostConfig({ dir: tdb.dir, name: 'lock-1', dbUrl: tdb.url, fail2ban: { database: f2bDb }, extra: { readdb: { lockFile } } })
  })
  afterAll(async () => tdb?.drop())

  it('a second readdb refuses to run while the daemon holds the lock (exit 3), and the lock goes with the daemon', async () => {
    const { child, output, exited } = startDaemon(config)
    try {
      await waitFor(() => output().includes('"msg":"started"'), 10_000)
      expect(readFileSync(lockFile, 'utf8')).toBe(`${child.pid}\n`)
      const second = await runProgram(BIN.readdb, ['--config', config])
      expect(second.code).toBe(3)
      expect(second.stderr).toBe(
        `readdb: readdb is already running on this host (pid ${child.pid}, lock file ${lockFile}) (run either the daemon or the cron/timer poll, not both)\n`,
      )
      child.kill('SIGTERM')
      expect(await exited).toBe(0)
      expect(existsSync(lockFile)).toBe(false)
    } finally {
      child.kill('SIGKILL')
    }
  })

  it('two readdb started at the same moment: one runs, the other exits 3', async () => {
    writeFileSync(lockFile, '999999999\n')
    const both = [startDaemon(config), startDaemon(config)]
    try {
      const first = await Promise.race(both.map((d, i) => d.exited.then((code) => ({ i, code }))))
      expect(first.code).toBe(3)
      expect(both[first.i]!.output()).toMatch(/^readdb: readdb is already running on this host \(pid \d+, lock file /)
      const runner = both[1 - first.i]!
      await waitFor(() => runner.output().includes('"msg":"started"'), 10_000)
      expect(runner.child.exitCode).toBeNull()
      expect(readFileSync(lockFile, 'utf8')).toBe(`${runner.child.pid}\n`)
      runner.child.kill('SIGTERM')
      expect(await runner.exited).toBe(0)
    } finally {
      for (const d of both) d.child.kill('SIGKILL')
    }
  })

  it('a readdb killed with -9 leaves its PID in the file, and the next readdb runs at once', async () => {
    const { child, output, exited } = startDaemon(config)
    try {
      await waitFor(() => output().includes('"msg":"started"'), 10_000)
      child.kill('SIGKILL')
      await exited
      expect(readFileSync(lockFile, 'utf8')).toBe(`${child.pid}\n`)
      const next = await runProgram(BIN.readdb, ['--config', config])
      expect(next).toMatchObject({ code: 0, stderr: '' })
      expect(existsSync(lockFile)).toBe(false)
    } finally {
      child.kill('SIGKILL')
    }
  })

  // A PID in the file decides nothing: a stale one, or one the system reused for another
  // process (PID 1 is always alive), does not block.
  it.each(['999999999', '1'])('a lock file that names pid %s does not block', async (pid) => {
    writeFileSync(lockFile, `${pid}\n`)
    const r = await runProgram(BIN.readdb, ['--config', config])
    expect(r).toMatchObject({ code: 0, stderr: '' })
    expect(existsSync(lockFile)).toBe(false)
  })

  it('refuses a lock file that is a symlink, and leaves its target alone', async () => {
    const target = join(tdb.dir, 'not-a-lock.txt')
    writeFileSync(target, 'precious\n')
    symlinkSync(target, lockFile)
    try {
      const r = await runProgram(BIN.readdb, ['--config', config])
      expect(r.code).toBe(1)
      expect(r.stderr).toMatch(/^readdb: cannot write the lock file .*readdb\.lock: ELOOP/)
      expect(readFileSync(target, 'utf8')).toBe('precious\n')
    } finally {
      unlinkSync(lockFile)
    }
  })
})

// Issue 9: the schedule is a config rule, checked with node-cron's grammar when readdb loads
// the config (one-shot too), before the lock or the database; add2db never loads node-cron.
describe('readdb.schedule', () => {
  let tdb: TestDatabase
  let config: string
  beforeAll(async () => {
    tdb = await createTestDatabase('sqlite')
    await (await tdb.openMigrated()).close()
    config = writeHostConfig({ dir: tdb.dir, name: 'cron-1', dbUrl: tdb.url, extra: { readdb: { schedule: '61 * * * * *' } } })
  })
  afterAll(async () => tdb?.drop())

  it('readdb refuses a schedule node-cron cannot run, daemon or one-shot, naming the key: exit 1', async () => {
    const line = `readdb: ${config}: readdb.schedule: "61 * * * * *" is not a valid cron expression (e.g. "*/5 * * * * *" for every 5 seconds)\n`
    expect(await runProgram(BIN.readdb, ['--config', config, '--daemon'])).toMatchObject({ code: 1, stdout: '', stderr: line })
    expect(await runProgram(BIN.readdb, ['--config', config])).toMatchObject({ code: 1, stdout: '', stderr: line })
    expect(existsSync(join(tdb.dir, 'cron-1-readdb.lock'))).toBe(false)
  })

  it('add2db, which never schedules, still reports with it', async () => {
    const r = await runProgram(BIN.add2db, ['--config', config, '--jail', 'sshd', '--ip', '192.0.2.77', '--port', 'ssh'])
    expect(r).toMatchObject({ code: 0, stderr: '' })
  })
})

describe('readdb when fail2ban is not running', () => {
  let tdb: TestDatabase
  afterAll(async () => tdb?.drop())

  it('exits 1 with one line saying so, and the ban stays pending', async () => {
    tdb = await createTestDatabase('sqlite')
    const central = await tdb.openMigrated()
    try {
      const config = writeHostConfig({
        dir: tdb.dir,
        name: 'nof2b-1',
        dbUrl: tdb.url,
        fail2ban: { client: ['fail2ban-client', '-s', join(tdb.dir, 'no-such.sock')], timeoutSeconds: 10 },
      })
      const id = await insertBan(central, 'web-1', null, report('192.0.2.90'))
      const r = await runProgram(BIN.readdb, ['--config', config])
      expect(r.code).toBe(1)
      expect(r.stderr).toMatch(/^readdb: fail2ban-client status failed: .*\(is fail2ban running\? check `fail2ban\.client` in the config\)\n$/)
      const row = await central.db.selectFrom('ban_host_status').select('status').where('ban_id', '=', id).where('host', '=', 'nof2b-1').executeTakeFirstOrThrow()
      expect(Number(row.status)).toBe(0)
      expect(row).toEqual({ status: 0 })
    } finally {
      await central.close()
    }
  })
})
