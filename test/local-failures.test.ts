// Issue 11, points 3 and 4: a local problem on a host (a full disk under the shared log,
// fail2ban down, the shared jail stopped, a failing fail2ban-client) keeps bans pending with
// the error, and the first poll after the problem is fixed applies them. The built readdb
// against a private fail2ban server whose shared jail follows a log on a tiny tmpfs.
import { execFileSync } from 'node:child_process'
import { mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { CentralDb } from '@f2b-central/core/db/db-adapter'
import { insertBan } from '@f2b-central/core/db/queries/bans'
import { BanStatus } from '@f2b-central/core/schema/ban-status'
import { createTestDatabase, dialects, type TestDatabase } from './setup/dialects.js'
import { Fail2banServer } from './setup/fail2ban-server.js'
import { BIN, runProgram, writeHostConfig, writeOperatorConfig } from './setup/programs.js'

const SHARED = 'f2b-central-shared'
const report = (ip: string) => ({ ip, jail: 'sshd', protocol: 'tcp', port: 'ssh', bantime: 3600 })

/** Fill the filesystem holding `dir` to the last byte; returns the filler's path. */
function fillUp(dir: string): string {
  const filler = join(dir, 'filler')
  const chunk = Buffer.alloc(4096, 1)
  let size = 0
  for (;;) {
    try {
      writeFileSync(filler, chunk, { flag: 'a' })
      size += chunk.length
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err
      break
    }
  }
  // The last block may still take a few bytes; take them too.
  for (const n of [1024, 64, 1]) {
    try {
      for (;;) writeFileSync(filler, Buffer.alloc(n, 1), { flag: 'a' })
    } catch {
      // full at this granularity
    }
  }
  expect(size).toBeGreaterThan(0)
  return filler
}

describe.each(dialects())('%s: a local failure keeps bans pending, and the next poll applies them', (dialect) => {
  let tdb: TestDatabase
  let central: CentralDb
  let f2b: Fail2banServer
  let disk: string
  let mounted = false
  let sharedLog: string
  let viaDb: string
  let viaClient: string
  let operator: string

  beforeAll(async () => {
    tdb = await createTestDatabase(dialect)
    central = await tdb.openMigrated()
    // A real filesystem that fills up: 64 KiB of tmpfs holding only the shared log.
    disk = join(tdb.dir, 'disk')
    mkdirSync(disk)
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', disk])
    mounted = true
    sharedLog = join(disk, 'shared.log')
    f2b = await Fail2banServer.start({
      name: `lossd-${dialect}`,
      shippedFiles: true,
      // DEBUG: waitForSharedLogRead sees the action thread handle each line ('already banned').
      files: { 'fail2ban.d/debug.local': '[DEFAULT]\nloglevel = DEBUG\n' },
      jails: `[${SHARED}]\nenabled = true\nlogpath = ${sharedLog}\nbackend = polling\n`,
      beforeStart: () => writeFileSync(sharedLog, ''),
    })
    // Ban state from fail2ban's own database: the mode that needs no fail2ban to read it.
    viaDb = writeHostConfig({ dir: tdb.dir, name: 'lf-db', dbUrl: tdb.url, sharedLog, fail2ban: { client: f2b.clientArgv(), database: f2b.dbFile, sharedJail: SHARED } })
    // Ban state through fail2ban-client.
    viaClient = writeHostConfig({ dir: tdb.dir, name: 'lf-client', dbUrl: tdb.url, sharedLog, fail2ban: { client: f2b.clientArgv(), sharedJail: SHARED } })
    operator = writeOperatorConfig({ dir: tdb.dir, name: 'lf-ops', dbUrl: tdb.url })
    expect((await readdb(viaDb)).code).toBe(0)
    expect((await readdb(viaClient)).code).toBe(0)
  }, 60_000)

  afterAll(async () => {
    await f2b?.stop()
    if (mounted) execFileSync('umount', [disk])
    await central?.close()
    await tdb?.drop()
  })

  const readdb = (config: string) => runProgram(BIN.readdb, ['--config', config])
  const poll = async (config: string) => {
    const r = await readdb(config)
    expect([r.code, r.stderr]).toEqual([0, ''])
    return JSON.parse(r.stdout) as Record<string, unknown>
  }
  const statusOf = async (banId: number, host: string) => {
    const row = await central.db.selectFrom('ban_host_status').select(['status', 'error']).where('ban_id', '=', banId).where('host', '=', host).executeTakeFirstOrThrow()
    return { status: Number(row.status), error: row.error }
  }

  it('point 4: the shared log on a full disk: 0 with the ENOSPC error, no half line; with space again the next poll applies it (1) and clears the error', async () => {
    const ip = '203.0.113.120'
    const filler = fillUp(disk)
    const before = statSync(sharedLog).size
    try {
      const id = await insertBan(central, 'web-1', null, report(ip))
      const r = await poll(viaDb)
      expect(r).toMatchObject({ added: 0, keptPending: 1, errors: 0, linesWritten: 0, localProblem: expect.stringMatching(/^cannot append to shared log .*ENOSPC/) })
      expect(await statusOf(id, 'lf-db')).toEqual({ status: BanStatus.Pending, error: expect.stringMatching(/^cannot append to shared log .*shared\.log: ENOSPC/) })
      expect(statSync(sharedLog).size).toBe(before)
      // Still full: retried, still pending, same error.
      expect(await poll(viaDb)).toMatchObject({ keptPending: 1, linesWritten: 0 })
      rmSync(filler)
      expect(await poll(viaDb)).toMatchObject({ added: 1, linesWritten: 1 })
      expect(await statusOf(id, 'lf-db')).toEqual({ status: BanStatus.Added, error: null })
      await f2b.waitForBan(SHARED, ip)
      expect(readFileSync(sharedLog, 'utf8')).toMatch(new RegExp(`ban ${ip.replace(/\./g, '\\.')} jail=sshd reporter=web-1 ban_id=${id}\\n$`))
    } finally {
      rmSync(filler, { force: true })
    }
  })

  it('point 4: an unban that fails (fail2ban-client cannot reach fail2ban): 0 with the error, retried until it is out of the shared jail (4)', async () => {
    const ip = '203.0.113.121'
    const id = await insertBan(central, 'web-1', null, report(ip))
    expect(await poll(viaDb)).toMatchObject({ added: 1 })
    await f2b.waitForBan(SHARED, ip)
    // A line read after the unban would ban it again (the hand-over banned it before the read).
    await f2b.waitForSharedLogRead(SHARED, ip, sharedLog)
    expect((await runProgram(BIN.cli, ['unban', ip, '--config', operator])).code).toBe(0)
    await f2b.halt()
    try {
      const r = await poll(viaDb)
      expect(r).toMatchObject({
        removed: 0,
        errors: 0,
        keptPending: 1,
        localProblem: expect.stringMatching(/^cannot unban locally: fail2ban-client set f2b-central-shared unbanip <1 address> failed: /),
      })
      expect(await statusOf(id, 'lf-db')).toEqual({ status: BanStatus.Pending, error: expect.stringMatching(/^cannot unban locally: /) })
    } finally {
      await f2b.resume()
    }
    // fail2ban restored the ban from its database when it started again: the retry takes it out.
    await f2b.waitForBan(SHARED, ip)
    expect(await poll(viaDb)).toMatchObject({ removed: 1 })
    expect(await statusOf(id, 'lf-db')).toEqual({ status: BanStatus.Removed, error: null })
    expect(await f2b.bannedIps(SHARED)).not.toContain(ip)
  })

  it('point 3: fail2ban stopped, ban state read from its database: the bans stay 0 with the reason and no line is written; started again, the next poll applies them (1)', async () => {
    const ip = '203.0.113.130'
    const id = await insertBan(central, 'web-1', null, report(ip))
    const size = statSync(sharedLog).size
    await f2b.halt()
    try {
      const r = await readdb(viaDb)
      expect([r.code, r.stderr]).toEqual([0, ''])
      const line = JSON.parse(r.stdout) as Record<string, unknown>
      expect(line).toMatchObject({
        level: 40,
        added: 0,
        keptPending: 1,
        linesWritten: 0,
        localProblem: expect.stringMatching(/^fail2ban is not answering: fail2ban socket \S+: status failed: (ENOENT|ECONNREFUSED)/),
      })
      expect(line.msg).toMatch(/^poll: bans kept pending: fail2ban is not answering/)
      expect(await statusOf(id, 'lf-db')).toEqual({ status: BanStatus.Pending, error: expect.stringMatching(/^fail2ban is not answering/) })
      expect(statSync(sharedLog).size).toBe(size)
    } finally {
      await f2b.resume()
    }
    expect(await poll(viaDb)).toMatchObject({ added: 1, linesWritten: 1 })
    expect(await statusOf(id, 'lf-db')).toEqual({ status: BanStatus.Added, error: null })
    await f2b.waitForBan(SHARED, ip)
  })

  it.each([
    ["ban state from fail2ban's database", 'lf-db'],
    ['ban state through fail2ban-client', 'lf-client'],
  ])('point 3: the shared jail stopped (%s): the ban stays 0 with the reason; the jail started again, the next poll applies it (1)', async (_, host) => {
    const config = host === 'lf-db' ? viaDb : viaClient
    const ip = host === 'lf-db' ? '203.0.113.131' : '203.0.113.132'
    const id = await insertBan(central, 'web-1', null, report(ip))
    const size = statSync(sharedLog).size
    await f2b.client('stop', SHARED)
    try {
      expect(await poll(config)).toMatchObject({ added: 0, linesWritten: 0, localProblem: `the shared jail ${SHARED} is not running (fail2ban runs: no jail)` })
      expect(await statusOf(id, host)).toEqual({ status: BanStatus.Pending, error: expect.stringMatching(/^the shared jail .* is not running/) })
      expect(statSync(sharedLog).size).toBe(size)
    } finally {
      await f2b.client('reload')
    }
    expect(await poll(config)).toMatchObject({ linesWritten: expect.any(Number) })
    expect(await statusOf(id, host)).toEqual({ status: BanStatus.Added, error: null })
    await f2b.waitForBan(SHARED, ip)
  })
})
