// Issue 13, fail2ban mode after a restart: the shared jail's bans come back from fail2ban's own
// database (its `dbfile`), not from f2b-central. With that database deleted, the shared log's
// lines still within the jail's findtime ban again; once the log is rotated (or the lines are
// older), they do not come back, and readdb does not re-apply them: the gap README "Firewall
// mode" documents (this host's statuses say 1; a firewall-mode set is resynced, a jail is not).
// A real, private fail2ban server; the shipped shared jail; the built readdb.
import { readFileSync, rmSync, writeFileSync } from 'node:fs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { CentralDb } from '@f2b-central/core/db/db-adapter'
import { insertBan } from '@f2b-central/core/db/queries/bans'
import { createTestDatabase, dialects, type TestDatabase } from './setup/dialects.js'
import { Fail2banServer, waitUntil } from './setup/fail2ban-server.js'
import { BIN, runProgram, writeHostConfig } from './setup/programs.js'

const SHARED = 'f2b-central-shared'

describe.each(dialects())('%s: the shared jail across a fail2ban restart', (dialect) => {
  let tdb: TestDatabase
  let central: CentralDb
  let server: Fail2banServer
  let config: string
  /** The shared log as readdb wrote it, kept by the first test for the second. */
  let sharedLogLines = ''

  beforeAll(async () => {
    tdb = await createTestDatabase(dialect)
    central = await tdb.openMigrated()
    server = await Fail2banServer.start({
      name: `restart-${dialect}`,
      shippedFiles: true,
      jails: '',
      files: { 'jail.d/f2b-central.local': (dir) => `[${SHARED}]\nenabled = true\nlogpath = ${dir}/shared.log\nbackend = polling\n` },
      beforeStart: (s) => writeFileSync(s.path('shared.log'), ''),
    })
    config = writeHostConfig({ dir: tdb.dir, name: 'web-1', dbUrl: tdb.url, sharedLog: server.path('shared.log'), fail2ban: { client: server.clientArgv(), sharedJail: SHARED } })
  }, 60_000)
  afterAll(async () => {
    await server?.stop()
    await central?.close()
    await tdb?.drop()
  })

  const poll = async () => {
    const r = await runProgram(BIN.readdb, ['--config', config])
    expect(r.code, r.stderr).toBe(0)
  }

  it('a fleet ban applied through the shared jail is banned again after fail2ban restarts (restored from its dbfile)', async () => {
    await insertBan(central, 'web-2', null, { ip: '198.51.100.21', jail: 'sshd', protocol: 'tcp', port: '22', bantime: 3600 })
    await poll()
    await server.waitForBan(SHARED, '198.51.100.21')
    expect((await server.dbBans(SHARED)).map((b) => b.ip)).toContain('198.51.100.21')
    // With its line still in the shared log, a restarted fail2ban may read the line and ban before
    // it restores from its dbfile (a race CI lost): with the log emptied, only the dbfile can ban.
    sharedLogLines = readFileSync(server.path('shared.log'), 'utf8')
    await server.halt()
    writeFileSync(server.path('shared.log'), '')
    await server.resume()
    // A restarted fail2ban on a loaded machine takes its time to restore: generous waits.
    await server.waitForLog(new RegExp(`\\[${SHARED}\\] Restore Ban 198\\.51\\.100\\.21`), 30_000)
    await server.waitForBan(SHARED, '198.51.100.21', 30_000)
  }, 60_000)

  it("with fail2ban's database deleted, the shared log still bans it again: its line is within the jail's findtime, and the jail reads the log from the start", async () => {
    await server.halt()
    rmSync(server.dbFile, { force: true })
    writeFileSync(server.path('shared.log'), sharedLogLines)
    await server.resume()
    await server.waitForBan(SHARED, '198.51.100.21')
  }, 60_000)

  it('with the database deleted and the shared log rotated away (or the line older than findtime), the ban is gone, and the next poll does not apply it again (the documented gap)', async () => {
    await server.halt()
    rmSync(server.dbFile, { force: true })
    writeFileSync(server.path('shared.log'), '')
    await server.resume()
    await waitUntil('the shared jail to run', async () => (await server.client('status', SHARED)).includes('Currently banned'), 10_000)
    expect(await server.bannedIps(SHARED)).not.toContain('198.51.100.21')
    await poll()
    expect(await server.bannedIps(SHARED)).not.toContain('198.51.100.21')
    const row = await central.db.selectFrom('ban_host_status').select('status').where('ip', '=', '198.51.100.21').where('host', '=', 'web-1').executeTakeFirstOrThrow()
    expect(Number(row.status)).toBe(1)
  }, 60_000)
})
