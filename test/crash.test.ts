// Issue 4: readdb killed (-9) after appending to the shared log and before recording the
// statuses. The next poll must neither lose those bans nor apply them again in a way that
// changes the outcome. A MariaDB trigger holds the status insert so the kill lands exactly there.
import { spawn } from 'node:child_process'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { sql } from 'kysely'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { CentralDb } from '@f2b-central/core/db/db-adapter'
import { insertBan } from '@f2b-central/core/db/queries/bans'
import { BanStatus } from '@f2b-central/core/schema/ban-status'
import { createTestDatabase, dialects, type TestDatabase } from './setup/dialects.js'
import { Fail2banServer, waitUntil } from './setup/fail2ban-server.js'
import { BIN, runProgram, writeHostConfig } from './setup/programs.js'

const SHARED = 'f2b-central-shared'
const IPS = ['203.0.113.91', '203.0.113.92', '2001:db8:91::1']

describe.runIf(dialects().includes('mysql'))('mysql: readdb killed between the shared log and the statuses', () => {
  let tdb: TestDatabase
  let central: CentralDb
  let f2b: Fail2banServer
  let config: string

  beforeAll(async () => {
    tdb = await createTestDatabase('mysql')
    central = await tdb.openMigrated()
    f2b = await Fail2banServer.start({
      name: 'crash',
      shippedFiles: true,
      jails: (dir) => `[${SHARED}]\nenabled = true\nlogpath = ${join(dir, 'shared.log')}\nbackend = polling\n`,
      beforeStart: (s) => writeFileSync(s.path('shared.log'), ''),
    })
    config = writeHostConfig({
      dir: tdb.dir,
      name: 'crash-1',
      dbUrl: tdb.url,
      sharedLog: f2b.path('shared.log'),
      fail2ban: { client: f2b.clientArgv(), database: f2b.dbFile, sharedJail: SHARED },
    })
    expect((await runProgram(BIN.readdb, ['--config', config])).code).toBe(0)
  }, 60_000)
  afterAll(async () => {
    await sql`DROP TRIGGER IF EXISTS hold_status`.execute(central.db).catch(() => undefined)
    await f2b?.stop()
    await central?.close()
    await tdb?.drop()
  })

  const lines = () => readFileSync(f2b.path('shared.log'), 'utf8').split('\n').filter(Boolean)

  it('loses nothing and applies nothing twice', async () => {
    const ids = []
    for (const ip of IPS) ids.push(await insertBan(central, 'web-1', null, { ip, jail: 'sshd', protocol: 'tcp', port: 'ssh', bantime: 3600 }))
    await sql`CREATE TRIGGER hold_status BEFORE INSERT ON ban_status FOR EACH ROW SET @held = SLEEP(60)`.execute(central.db)

    const child = spawn(process.execPath, [BIN.readdb, '--config', config], { stdio: 'ignore' })
    const exited = new Promise<NodeJS.Signals | null>((r) => child.on('exit', (_code, signal) => r(signal)))
    await waitUntil('readdb to append its lines', () => lines().length === IPS.length, 15_000)
    child.kill('SIGKILL')
    expect(await exited).toBe('SIGKILL')
    // A real crash leaves no statement running on the server; the trigger's SLEEP would, so
    // end that session as the server would once it noticed the dead client.
    const dbName = new URL(tdb.url).pathname.slice(1)
    const stuck = await sql<{ id: number }>`SELECT id FROM information_schema.processlist WHERE db = ${dbName} AND info LIKE '%SLEEP%' AND id <> CONNECTION_ID()`.execute(
      central.db,
    )
    for (const { id } of stuck.rows) await sql`KILL ${sql.raw(String(Number(id)))}`.execute(central.db)
    await sql`DROP TRIGGER hold_status`.execute(central.db)

    // The lines reached fail2ban; the statuses did not reach the database.
    for (const ip of IPS) await f2b.waitForBan(SHARED, ip)
    const pending = await central.db.selectFrom('ban_host_status').select('status').where('host', '=', 'crash-1').where('ban_id', 'in', ids).execute()
    expect(pending.map((r) => Number(r.status))).toEqual([0, 0, 0])

    // The next poll (taking over the dead process's lock) finds them banned: 2, no new line.
    const again = await runProgram(BIN.readdb, ['--config', config])
    expect(again.code).toBe(0)
    expect(JSON.parse(again.stdout)).toMatchObject({ alreadyBanned: IPS.length, linesWritten: 0 })
    expect(lines()).toHaveLength(IPS.length)
    const done = await central.db.selectFrom('ban_host_status').select('status').where('host', '=', 'crash-1').where('ban_id', 'in', ids).execute()
    expect(done.map((r) => Number(r.status))).toEqual([BanStatus.AlreadyBanned, BanStatus.AlreadyBanned, BanStatus.AlreadyBanned])
  })
})
