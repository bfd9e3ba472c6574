// Issue 2's "done when": a ban one host's fail2ban makes reaches two other hosts' fail2ban
// through the central database, with every host's status visible in ban_host_status.
// Three private fail2ban servers configured from the shipped fail2ban/ files; the real,
// built add2db (run by fail2ban's action) and readdb.
import { appendFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { CentralDb } from '@f2b-central/core/db/db-adapter'
import { BanStatus } from '@f2b-central/core/schema/ban-status'
import { createTestDatabase, dialects, type TestDatabase } from './setup/dialects.js'
import { Fail2banServer, waitUntil } from './setup/fail2ban-server.js'
import { BIN, runProgram, writeHostConfig } from './setup/programs.js'
import { reportingJail } from './setup/jails.js'

const SHARED = 'f2b-central-shared'

// Host A's ordinary jail: a simple filter on a log the test writes, reporting through the shipped action.
// fail2ban cuts the date off before the failregex sees the line, leaving the space after it.
const AUTH_FILTER = `[Definition]
failregex = ^ auth failure from <HOST>$
datepattern = {^LN-BEG}%%Y-%%m-%%d %%H:%%M:%%S
`

describe.each(dialects())('%s: a fleet of three fail2ban hosts', (dialect) => {
  let tdb: TestDatabase
  let central: CentralDb
  const servers: Record<string, Fail2banServer> = {}
  const configs: Record<string, string> = {}

  function sharedJail(dir: string) {
    return `[${SHARED}]
enabled = true
logpath = ${join(dir, 'shared.log')}
backend = polling
`
  }

  async function startHost(name: string, extraJails: (dir: string) => string = () => ''): Promise<Fail2banServer> {
    return Fail2banServer.start({
      name,
      shippedFiles: true,
      filters: { 'test-auth': AUTH_FILTER },
      jails: (dir) => `${sharedJail(dir)}\n${extraJails(dir)}`,
      beforeStart: (s) => {
        writeFileSync(s.path('shared.log'), '')
        writeFileSync(s.path('auth.log'), '')
      },
    })
  }

  beforeAll(async () => {
    tdb = await createTestDatabase(dialect)
    central = await tdb.openMigrated()
    const cfgA = join(tdb.dir, 'host-a.yml')
    // A reports through the shipped action; its add2db is the built bundle with A's config.
    servers.a = await startHost('host-a', (dir) => reportingJail({ logpath: join(dir, 'auth.log'), config: cfgA, filter: 'test-auth' }))
    // C also has a jail with a 100 s ban time and counts a ban as recent only with more than 99 %
    // of it left: after a second or two, an address held there is "nearly expired" for C, read
    // from fail2ban's real ban times without waiting minutes (or racing a slow machine).
    // B also has a port-limited jail like sshd (port 22, 10 minutes): not in fail2ban.allPortsJails.
    const started = await Promise.allSettled([
      startHost('host-b', (dir) => `[ssh22]\nenabled = true\nfilter = test-auth\nlogpath = ${join(dir, 'auth.log')}\nport = 22\nbantime = 600\n`),
      startHost('host-c', (dir) => `[short]\nenabled = true\nfilter = test-auth\nlogpath = ${join(dir, 'auth.log')}\nbantime = 100\n`),
    ])
    // Keep whichever started, so afterAll stops it even when the other failed.
    started.forEach((r, i) => {
      if (r.status === 'fulfilled') servers[i === 0 ? 'b' : 'c'] = r.value
    })
    for (const r of started) if (r.status === 'rejected') throw r.reason
    // A and B read ban state through fail2ban-client, C from fail2ban's own database.
    for (const name of ['a', 'b', 'c'] as const) {
      const s = servers[name]!
      configs[name] = writeHostConfig({
        dir: tdb.dir,
        name: `host-${name}`,
        dbUrl: tdb.url,
        sharedLog: s.path('shared.log'),
        fail2ban: name === 'c' ? { client: s.clientArgv(), database: s.dbFile, sharedJail: SHARED, recentBanFraction: 0.99 } : { client: s.clientArgv(), sharedJail: SHARED },
      })
    }
    // Register every host before the attack, as a fleet running readdb would have.
    for (const name of ['a', 'b', 'c']) expect((await readdb(name)).code).toBe(0)
  }, 120_000)

  afterAll(async () => {
    await Promise.all(Object.values(servers).map((s) => s.stop()))
    await central?.close()
    await tdb?.drop()
  })

  const readdb = (host: string) => runProgram(BIN.readdb, ['--config', configs[host]!])
  const statuses = async (ip: string) => {
    const rows = await central.db.selectFrom('ban_host_status').select(['host', 'status']).where('ip', '=', ip).orderBy('host').execute()
    return Object.fromEntries(rows.map((r) => [r.host, Number(r.status)]))
  }

  it('an attack on A is banned on B and C through their shared jails; every status is 1', async () => {
    const ip = '203.0.113.66'
    const now = new Date().toISOString().slice(0, 19).replace('T', ' ')
    appendFileSync(servers.a!.path('auth.log'), `${now} auth failure from ${ip}\n${now} auth failure from ${ip}\n`)
    await servers.a!.waitForBan('auth', ip)
    // fail2ban runs the action (add2db) right after its own ban.
    await waitUntil('A to report the ban', async () => (await statuses(ip))['host-a'] === BanStatus.Added, 15_000)
    expect(await central.db.selectFrom('bans').select(['jail', 'port', 'protocol', 'bantime']).where('ip', '=', ip).executeTakeFirstOrThrow()).toEqual({
      jail: 'auth',
      port: 'ssh',
      protocol: 'tcp',
      bantime: 600,
    })
    const [rb, rc] = await Promise.all([readdb('b'), readdb('c')])
    expect([rb.code, rc.code, rb.stderr + rc.stderr]).toEqual([0, 0, ''])
    await Promise.all([servers.b!.waitForBan(SHARED, ip), servers.c!.waitForBan(SHARED, ip)])
    expect(await statuses(ip)).toEqual({ 'host-a': BanStatus.Added, 'host-b': BanStatus.Added, 'host-c': BanStatus.Added })
    // A has nothing to do for its own ban.
    expect(JSON.parse((await readdb('a')).stdout || '{"examined":0}')).toMatchObject({ examined: 0 })
  })

  it("reads real ban times: held by the shared jail with most of the fleet ban's time left → 2; with less → stays 0, applied once it ends", async () => {
    const recent = '198.51.100.77'
    const nearly = '198.51.100.78'
    // Both shared jails ban for 1 d (the shipped jail file); the fleet bans last 1 d and 10 d.
    await servers.b!.client('set', SHARED, 'banip', recent)
    await servers.c!.client('set', SHARED, 'banip', nearly)
    expect((await runProgram(BIN.add2db, ['--config', configs.a!, '--jail', 'auth', '--ip', recent])).code).toBe(0)
    expect((await runProgram(BIN.add2db, ['--config', configs.a!, '--jail', 'auth', '--ip', nearly, '--bantime', String(10 * 86400)])).code).toBe(0)
    expect((await readdb('b')).code).toBe(0)
    expect((await readdb('c')).code).toBe(0)
    expect((await statuses(recent))['host-b']).toBe(BanStatus.AlreadyBanned)
    expect((await statuses(nearly))['host-c']).toBe(BanStatus.Pending)
    // Its local ban ends (unbanned here rather than waiting a day): the retry applies it.
    await servers.c!.client('set', SHARED, 'unbanip', nearly)
    expect((await readdb('c')).code).toBe(0)
    expect((await statuses(nearly))['host-c']).toBe(BanStatus.Added)
    await servers.c!.waitForBan(SHARED, nearly)
  })

  it("issue 11, point 5: a port-limited local ban (B's ssh22, 9 of its 10 minutes left) does not hide the fleet's all-ports ban: 1, and B's shared jail bans it", async () => {
    const ip = '198.51.100.79'
    await servers.b!.client('set', 'ssh22', 'banip', ip)
    expect((await runProgram(BIN.add2db, ['--config', configs.a!, '--jail', 'auth', '--ip', ip])).code).toBe(0)
    expect(JSON.parse((await readdb('b')).stdout)).toMatchObject({ added: 1, alreadyBanned: 0, linesWritten: 1 })
    expect((await statuses(ip))['host-b']).toBe(BanStatus.Added)
    await servers.b!.waitForBan(SHARED, ip)
    expect(await servers.b!.bannedIps('ssh22')).toContain(ip)
  })
})
