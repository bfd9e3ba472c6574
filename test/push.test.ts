// Issue 12 §1 to §4 against the real parts: three private fail2ban servers, the built
// add2db (run by A's fail2ban), readdb --daemon on B and C (and on A, once the tests of add2db
// storing the ban itself are done), the operator's f2b-central, and the machine's Mosquitto
// (a topic prefix of this run's own). The daemons poll on a schedule that does not come during
// the test (daily at 03:30): whatever B and C apply after their first poll, push made them
// apply. The debug line each poll starts with says what started it, and the test checks that too.
import { appendFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { connectAsync } from 'mqtt'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { CentralDb } from '@f2b-central/core/db/db-adapter'
import { insertBan } from '@f2b-central/core/db/queries/bans'
import { BanStatus } from '@f2b-central/core/schema/ban-status'
import { pollStarts, storedFromAdd2db } from './setup/daemon-log.js'
import { createTestDatabase, dialects, type TestDatabase } from './setup/dialects.js'
import { Fail2banServer, waitUntil } from './setup/fail2ban-server.js'
import { reportingJail } from './setup/jails.js'
import { requireSharedBroker, SHARED_BROKER_URL, subscribe, uniqueTopic } from './setup/mosquitto.js'
import { runCli } from './setup/operator.js'
import { BIN, runProgram, startDaemon, writeHostConfig, writeOperatorConfig, type RunningDaemon } from './setup/programs.js'

const SHARED = 'f2b-central-shared'
const NEVER_DURING_THE_TEST = '0 30 3 * * *'
const AUTH_FILTER = `[Definition]
failregex = ^ auth failure from <HOST>$
datepattern = {^LN-BEG}%%Y-%%m-%%d %%H:%%M:%%S
`
// The fleet runs on MariaDB; SQLite when this machine has none.
const dialect = dialects().includes('mysql') ? 'mysql' : 'sqlite'

describe(`${dialect}: push over MQTT across three fail2ban hosts`, () => {
  let tdb: TestDatabase
  let central: CentralDb
  const servers: Record<string, Fail2banServer> = {}
  const configs: Record<string, string> = {}
  const daemons: Record<string, RunningDaemon> = {}
  const topic = uniqueTopic('push')
  const vallumd = uniqueTopic('vallumd')
  let routerFeed: Awaited<ReturnType<typeof subscribe>>
  // The daemons' add2db sockets (F2B_CENTRAL_SOCKET_DIR), not the machine's /run/f2b-central.
  // A's fail2ban runs add2db with it too: until A's daemon starts there is no socket in it,
  // so add2db stores the ban itself and publishes the wake-up on its own connection.
  let handoverEnv: { F2B_CENTRAL_SOCKET_DIR: string }

  const startHost = (name: string, extra: (dir: string) => string = () => '') =>
    Fail2banServer.start({
      name,
      shippedFiles: true,
      env: handoverEnv,
      filters: { 'test-auth': AUTH_FILTER },
      jails: (dir) => `[${SHARED}]\nenabled = true\nlogpath = ${join(dir, 'shared.log')}\nbackend = polling\n\n${extra(dir)}`,
      // fail2ban logs "IP already banned" at DEBUG when the line is less than 3 s older than the ban.
      files: { 'fail2ban.d/debug.local': '[DEFAULT]\nloglevel = DEBUG\n' },
      beforeStart: (s) => {
        writeFileSync(s.path('shared.log'), '')
        writeFileSync(s.path('auth.log'), '')
      },
    })

  beforeAll(async () => {
    await requireSharedBroker()
    tdb = await createTestDatabase(dialect)
    central = await tdb.openMigrated()
    handoverEnv = { F2B_CENTRAL_SOCKET_DIR: join(tdb.dir, 'run') }
    const cfgA = join(tdb.dir, 'host-a.yml')
    const started = await Promise.allSettled([
      startHost('push-a', (dir) => reportingJail({ logpath: join(dir, 'auth.log'), config: cfgA, filter: 'test-auth' })),
      startHost('push-b'),
      startHost('push-c'),
    ])
    started.forEach((r, i) => {
      if (r.status === 'fulfilled') servers['abc'[i] as string] = r.value
    })
    for (const r of started) if (r.status === 'rejected') throw r.reason
    const mqtt = { url: SHARED_BROKER_URL, topic }
    for (const name of ['a', 'b', 'c'] as const) {
      const s = servers[name] as Fail2banServer
      configs[name] = writeHostConfig({
        dir: tdb.dir,
        name: `host-${name}`,
        dbUrl: tdb.url,
        sharedLog: s.path('shared.log'),
        fail2ban: { client: s.clientArgv(), sharedJail: SHARED },
        extra: {
          readdb: { schedule: NEVER_DURING_THE_TEST },
          // B feeds the routers (vallumd), and never applies 198.51.100.200 (its own allowlist).
          notify: name === 'b' ? { mqtt, vallumd: { topics: [`${vallumd}/blacklist`, `${vallumd}/edge`] } } : { mqtt },
          ...(name === 'b' ? { allowlist: ['198.51.100.200'] } : {}),
        },
      })
    }
    // The operator's commands (unban) run with the operator's account, and wake the fleet too.
    configs.ops = writeOperatorConfig({ dir: tdb.dir, dbUrl: tdb.url, extra: { notify: { mqtt } } })
    expect((await runProgram(BIN.readdb, ['--config', configs.a as string])).code).toBe(0)
    routerFeed = await subscribe(SHARED_BROKER_URL, vallumd)
    for (const name of ['b', 'c']) await startHostDaemon(name)
  }, 120_000)

  const startHostDaemon = async (name: string): Promise<RunningDaemon> => {
    const d = startDaemon(configs[name] as string, { READDB_LOG_LEVEL: 'debug', ...handoverEnv })
    daemons[name] = d
    await waitUntil(`${name}'s daemon to subscribe`, () => d.output().includes(`subscribed to ${topic}/bans`), 20_000)
    await waitUntil(`${name}'s first poll`, () => pollStarts(d, 'schedule').length > 0, 20_000)
    return d
  }

  afterAll(async () => {
    for (const d of Object.values(daemons)) d.child.kill('SIGKILL')
    await routerFeed?.close()
    await Promise.all(Object.values(servers).map((s) => s.stop()))
    await central?.close()
    await tdb?.drop()
  })

  const statuses = async (ip: string) => {
    const rows = await central.db.selectFrom('ban_host_status').select(['host', 'status']).where('ip', '=', ip).orderBy('host').execute()
    return Object.fromEntries(rows.map((r) => [r.host, Number(r.status)]))
  }
  const shared = (name: string) => servers[name] as Fail2banServer
  const schedulePolls = () => ['b', 'c'].map((n) => pollStarts(daemons[n] as RunningDaemon, 'schedule').length)
  /** Two failures of `ip` in A's auth log: A's jail bans it (maxretry 2), and its action runs add2db. */
  const attackA = (ip: string) => {
    const now = new Date().toISOString().slice(0, 19).replace('T', ' ')
    appendFileSync(shared('a').path('auth.log'), `${now} auth failure from ${ip}\n${now} auth failure from ${ip}\n`)
  }
  const bothRecord = (ip: string, status: BanStatus) => async () => {
    const s = await statuses(ip)
    return s['host-b'] === status && s['host-c'] === status
  }

  it("an attack on A: fail2ban's add2db wakes B and C, both ban at once, each with exactly one Ban; the log line finds it already banned", async () => {
    const ip = '203.0.113.66'
    attackA(ip)
    await shared('a').waitForBan('auth', ip, 20_000)
    await Promise.all([shared('b').waitForBan(SHARED, ip, 20_000), shared('c').waitForBan(SHARED, ip, 20_000)])
    await waitUntil(
      'B and C to record it',
      async () => {
        const s = await statuses(ip)
        return s['host-b'] === BanStatus.Added && s['host-c'] === BanStatus.Added
      },
      10_000,
    )
    // The hand-over banned it; then the shared jail read the line and banned nothing twice.
    for (const name of ['b', 'c']) {
      // Throws unless fail2ban reads the line and finds the address already banned.
      await shared(name).waitForLog(new RegExp(`\\[${SHARED}\\] ${ip.replaceAll('.', '\\.')} already banned`), 15_000)
      const bans = (await shared(name).log()).split('\n').filter((l) => l.includes(`[${SHARED}] Ban ${ip}`))
      expect(bans).toHaveLength(1)
    }
    expect(schedulePolls()).toEqual([1, 1])
    expect(pollStarts(daemons.b as RunningDaemon, 'wake-up').length).toBeGreaterThan(0)
    await waitUntil('the routers to be told', () => routerFeed.messages.includes(`${vallumd}/edge/add ${ip}`), 10_000)
    expect(routerFeed.messages.filter((m) => m.endsWith(` ${ip}`))).toEqual([`${vallumd}/blacklist/add ${ip}`, `${vallumd}/edge/add ${ip}`])
  })

  it("an operator's unban wakes them too: out of B's and C's shared jails, and off the routers", async () => {
    const ip = '203.0.113.66'
    const r = await runCli(['unban', ip, '--config', configs.ops as string])
    expect([r.code, r.stderr]).toEqual([0, ''])
    await waitUntil('B and C to take it out', async () => !(await shared('b').bannedIps(SHARED)).includes(ip) && !(await shared('c').bannedIps(SHARED)).includes(ip), 20_000)
    await waitUntil(
      'B and C to record 4',
      async () => {
        const s = await statuses(ip)
        return s['host-b'] === BanStatus.Removed && s['host-c'] === BanStatus.Removed
      },
      10_000,
    )
    await waitUntil('the routers to be told', () => routerFeed.messages.includes(`${vallumd}/edge/del ${ip}`), 10_000)
    expect(schedulePolls()).toEqual([1, 1])
  })

  it('vallumd: an address B never applies (allowlisted) never goes out; an expired ban goes out as del', async () => {
    const allowed = '198.51.100.200'
    const brief = '198.51.100.201'
    expect((await runProgram(BIN.add2db, ['--config', configs.a as string, '--jail', 'auth', '--ip', allowed])).code).toBe(0)
    // Long enough for B to apply it before it runs out, on a loaded machine too.
    expect((await runProgram(BIN.add2db, ['--config', configs.a as string, '--jail', 'auth', '--ip', brief, '--bantime', '6'])).code).toBe(0)
    await shared('c').waitForBan(SHARED, allowed, 20_000)
    await waitUntil('B to decide both', async () => (await statuses(allowed))['host-b'] === BanStatus.Allowlisted && (await statuses(brief))['host-b'] === BanStatus.Added, 10_000)
    await waitUntil('the routers to get the brief ban', () => routerFeed.messages.includes(`${vallumd}/edge/add ${brief}`), 10_000)
    // Past its 6 s, a wake-up (any will do: it is only a hint) makes B's poll sweep it.
    await waitUntil(
      'the expiry to go out',
      async () => {
        const waker = await connectAsync(SHARED_BROKER_URL, { reconnectPeriod: 0 })
        await waker.publishAsync(`${topic}/bans`, '', { qos: 1 })
        await waker.endAsync()
        return routerFeed.messages.includes(`${vallumd}/edge/del ${brief}`)
      },
      30_000,
      1000,
    )
    expect(routerFeed.messages.filter((m) => m.includes(allowed))).toEqual([])
    expect(routerFeed.messages.filter((m) => m.endsWith(` ${brief}`))).toEqual([
      `${vallumd}/blacklist/add ${brief}`,
      `${vallumd}/edge/add ${brief}`,
      `${vallumd}/blacklist/del ${brief}`,
      `${vallumd}/edge/del ${brief}`,
    ])
    expect(schedulePolls()).toEqual([1, 1])
  })

  it('a flood of forged wake-ups costs polls at most 4 a second, never two at once, and never a ban', async () => {
    const b = daemons.b as RunningDaemon
    const before = pollStarts(b, 'wake-up').length
    const banned = await shared('b').bannedIps(SHARED)
    const forger = await connectAsync(SHARED_BROKER_URL, { reconnectPeriod: 0 })
    for (let i = 0; i < 20; i++) await Promise.all(Array.from({ length: 50 }, (_, j) => forger.publishAsync(`${topic}/bans`, String(i * 50 + j), { qos: 1 })))
    await forger.endAsync()
    // The last wake-up of the flood makes one more poll after it; then nothing more comes.
    await waitUntil(
      'the flood to be worked off',
      async () => {
        const n = pollStarts(b, 'wake-up').length
        await new Promise((r) => setTimeout(r, 1500))
        return n > before && pollStarts(b, 'wake-up').length === n
      },
      30_000,
      0,
    )
    const starts = pollStarts(b, 'wake-up')
      .slice(before)
      .map((l) => Number(l.time))
    expect(starts.length).toBeGreaterThan(0)
    expect(starts.length).toBeLessThan(100)
    // Never sooner than 250 ms after the poll before (pino's time is in whole ms).
    for (let i = 1; i < starts.length; i++) expect((starts[i] as number) - (starts[i - 1] as number)).toBeGreaterThanOrEqual(249)
    expect(await shared('b').bannedIps(SHARED)).toEqual(banned)
    expect(b.child.exitCode).toBeNull()
  })

  it('a sustained flood of forged wake-ups backs off to a poll per 4 s, and a real ban during it still comes through', async () => {
    const b = daemons.b as RunningDaemon
    const before = pollStarts(b, 'wake-up').length
    const forger = await connectAsync(SHARED_BROKER_URL, { reconnectPeriod: 0 })
    const floodMs = 9000
    const until = Date.now() + floodMs
    try {
      while (Date.now() < until) {
        await forger.publishAsync(`${topic}/bans`, '', { qos: 1 })
        await new Promise((r) => setTimeout(r, 50))
      }
      // 4 polls a second would be 36; idle wake-up polls double the gap (0.5, 1, 2, 4, 4 s …).
      const during = pollStarts(b, 'wake-up').length - before
      expect(during).toBeGreaterThanOrEqual(2)
      expect(during).toBeLessThanOrEqual(8)
      // A real attack on A while the flood goes on: B still bans it, within the longest gap.
      const ip = '203.0.113.67'
      const now = new Date().toISOString().slice(0, 19).replace('T', ' ')
      appendFileSync(shared('a').path('auth.log'), `${now} auth failure from ${ip}\n${now} auth failure from ${ip}\n`)
      const flooding = (async () => {
        while (!(await shared('b').bannedIps(SHARED)).includes(ip)) await forger.publishAsync(`${topic}/bans`, '', { qos: 1 })
      })()
      await shared('b').waitForBan(SHARED, ip, 30_000)
      await flooding
    } finally {
      await forger.endAsync()
    }
    expect(pollStarts(b, 'schedule')).toHaveLength(1)
  })

  it("the units' path: A's fail2ban runs add2db, A's own daemon stores the ban and wakes B and C on its kept-open link", async () => {
    const a = await startHostDaemon('a')
    // add2db gives the daemon 50 ms to accept; a run that misses it on a starved machine stores
    // the ban itself and wakes B and C on a connection of its own (correct, but not this path):
    // then a fresh attacker. With the daemon's wake-up gone, B and C never ban the first one.
    let ip: string | undefined
    for (let attempt = 0; attempt < 3 && ip === undefined; attempt++) {
      const attacker = `203.0.113.${70 + attempt}`
      attackA(attacker)
      await shared('a').waitForBan('auth', attacker, 20_000)
      await Promise.all([shared('b').waitForBan(SHARED, attacker, 20_000), shared('c').waitForBan(SHARED, attacker, 20_000)])
      // Logged before the daemon publishes: B and C have banned it, so this is final.
      if (storedFromAdd2db(a, attacker)) ip = attacker
    }
    expect(ip, "three attacks, and add2db never handed one to A's daemon").toBeDefined()
    await waitUntil('B and C to record it', bothRecord(ip as string, BanStatus.Added), 10_000)
    expect(schedulePolls()).toEqual([1, 1])
  })

  it("the operator's allowlist changes wake them too: `allow add` keeps a waiting ban out (6) at once, `allow remove` lets the next one in at once", async () => {
    const ban = (ip: string) => insertBan(central, 'host-a', null, { ip, jail: 'sshd', protocol: 'tcp', port: 'ssh', bantime: 3600 })
    const cli = (...args: string[]) => runCli([...args, '--config', configs.ops as string])
    // Stored straight into the database, which wakes nobody: B and C see it at their next poll.
    await ban('198.51.100.90')
    expect(await cli('allow', 'add', '198.51.100.90/31')).toMatchObject({ code: 0, stderr: '' })
    await waitUntil('B and C to skip it', bothRecord('198.51.100.90', BanStatus.Allowlisted), 20_000)
    await ban('198.51.100.91')
    expect(await cli('allow', 'remove', '198.51.100.90/31')).toMatchObject({ code: 0, stderr: '' })
    await Promise.all([shared('b').waitForBan(SHARED, '198.51.100.91', 20_000), shared('c').waitForBan(SHARED, '198.51.100.91', 20_000)])
    await waitUntil('B and C to record it', bothRecord('198.51.100.91', BanStatus.Added), 10_000)
    expect(await statuses('198.51.100.90')).toMatchObject({ 'host-b': BanStatus.Allowlisted, 'host-c': BanStatus.Allowlisted })
    expect(schedulePolls()).toEqual([1, 1])
  })

  it("releasing a host's held bans wakes them: B and C apply them at once", async () => {
    const cli = (...args: string[]) => runCli([...args, '--config', configs.ops as string])
    // A reporter without push: its bans wake nobody, only the release does.
    const flooder = writeHostConfig({ dir: tdb.dir, name: 'host-f', dbUrl: tdb.url })
    const report = (ip: string) => runProgram(BIN.add2db, ['--config', flooder, '--jail', 'sshd', '--ip', ip])
    expect((await cli('bans', 'limit', '1')).code).toBe(0)
    try {
      expect(await report('203.0.113.80')).toMatchObject({ code: 0, stderr: '' })
      expect((await report('203.0.113.81')).stderr).toMatch(/^add2db: warning: 203\.0\.113\.81 stored but held: host-f is past the fleet's flood limit/)
    } finally {
      expect((await cli('bans', 'limit', '1000')).code).toBe(0)
    }
    expect((await cli('bans', 'held')).stdout).toMatch(/\nhost-f +1 /)
    expect(await cli('bans', 'release', '--reporter', 'host-f')).toMatchObject({ code: 0, stderr: '' })
    for (const ip of ['203.0.113.80', '203.0.113.81']) {
      await Promise.all([shared('b').waitForBan(SHARED, ip, 20_000), shared('c').waitForBan(SHARED, ip, 20_000)])
      await waitUntil('B and C to record it', bothRecord(ip, BanStatus.Added), 10_000)
    }
    expect(schedulePolls()).toEqual([1, 1])
  })
})
