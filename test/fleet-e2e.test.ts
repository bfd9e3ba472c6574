// Issue 3: an end-to-end fleet on one machine, driven the way production drives it.
//
// Three hosts A, B, C, each a private fail2ban server configured only from the repository's
// fail2ban/ files plus a per-host jail.d/*.local; one central database (MariaDB when
// reachable, else SQLite); `readdb --daemon` polling every second on every host; the real,
// built add2db run by fail2ban's f2b-central action.
//
// Where the machine allows network namespaces (root, iproute2, nftables), every host lives in
// its own namespace on a private bridged LAN, with fail2ban's own nftables ban actions, and
// the test checks the firewalls with real TCP connections from an attacker namespace and a
// clean one:
//
//   namespace  addresses                                   runs
//   sw         br0 10.213.0.1/24 fd00:f2b::1/64            the bridge; DB relay on 10.213.0.1:3306
//   a          eth0 10.213.0.11 fd00:f2b::11               fail2ban (auth + shared jail), readdb,
//                                                          web :8080, login service :2222 → auth.log
//   b          eth0 10.213.0.12 fd00:f2b::12               the same as a
//   c          eth0 10.213.0.13 fd00:f2b::13               fail2ban (shared + short jail), readdb, web :8080
//   att        eth0 10.213.0.66-68 2001:db8:f2b::66        the attacker
//   clean      eth0 10.213.0.99 fd00:f2b::99               a well-behaved client
//
// Everything a host runs (fail2ban, the add2db its action starts, readdb) runs inside the
// host's namespace, as on a real host, so all of it reaches the database over the LAN: the
// relay in `sw` forwards 10.213.0.1:3306 to a unix socket file that this test process
// forwards to MariaDB.  No interface, route or firewall rule of the root namespace is
// touched.  The test's own fail2ban-client calls run in the root namespace and reach the
// servers through their socket files.
//
// An attack is what it is in production: the attacker connects to the login service on A
// (or B), which logs one failure per connection to the log A's jail follows (maxretry 2).
//
// Without namespaces the same fleet and scenarios run with fail2ban's no-op ban actions and
// no connection checks, and one test fails naming what is missing and how to install it;
// F2B_E2E_NETNS=0 asks for that variant, and then that test passes.
import { spawn, type ChildProcess } from 'node:child_process'
import { appendFileSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { CentralDb } from '@f2b-central/core/db/db-adapter'
import { insertBan } from '@f2b-central/core/db/queries/bans'
import { BanStatus } from '@f2b-central/core/schema/ban-status'
import { requirePrograms } from '../scripts/test-machine.mjs'
import { createTestDatabase, dialects, type DialectName, type TestDatabase } from './setup/dialects.js'
import { Fail2banServer, waitUntil } from './setup/fail2ban-server.js'
import { execCommand, Lan, NETNS_TOOL, netnsSupport, removeStaleNamespaces, startUnixForwarder, waitForOutput, type ExecResult, type NetnsSupport } from './setup/netns.js'
import { BIN, writeHostConfig } from './setup/programs.js'
import { reportingJail } from './setup/jails.js'

const SHARED = 'f2b-central-shared'
const WEB_PORT = 8080
const AUTH_PORT = 2222
const NODE = process.execPath

type Host = 'a' | 'b' | 'c'
const HOSTS: readonly Host[] = ['a', 'b', 'c']
const hostName = (h: Host) => `host-${h}`

// The LAN (also used as plain addresses in the variant without namespaces).
const DB_V4 = '10.213.0.1'
const HOST_ADDR: Record<Host, { 4: string; 6: string }> = {
  a: { 4: '10.213.0.11', 6: 'fd00:f2b::11' },
  b: { 4: '10.213.0.12', 6: 'fd00:f2b::12' },
  c: { 4: '10.213.0.13', 6: 'fd00:f2b::13' },
}
const ATTACKER_V4 = ['10.213.0.66', '10.213.0.67', '10.213.0.68'] as const
const ATTACKER_V6 = '2001:db8:f2b::66'
const CLEAN = { 4: '10.213.0.99', 6: 'fd00:f2b::99' }
const family = (ip: string): 4 | 6 => (ip.includes(':') ? 6 : 4)

// The reporting jails' filter: a simple line the login service writes.  fail2ban cuts the
// date off before the failregex sees the line, leaving the space after it.
const AUTH_FILTER = `[Definition]
failregex = ^ auth failure from <HOST>$
datepattern = {^LN-BEG}%%Y-%%m-%%d %%H:%%M:%%S
`

const support: NetnsSupport = process.env.F2B_E2E_NETNS === '0' ? { ok: false, reason: 'disabled by F2B_E2E_NETNS=0' } : netnsSupport()
const useNetns = support.ok
const dialect: DialectName = dialects().includes('mysql') ? 'mysql' : 'sqlite'
const skipReason = support.ok ? '' : support.reason
if (!support.ok) {
  console.warn(
    `\n*** fleet-e2e: network namespaces are not available here (${skipReason}): real-firewall checks SKIPPED; ` +
      'the fleet runs with no-op ban actions and no connection checks ***\n',
  )
}

const pad = (n: number) => String(n).padStart(2, '0')
const localTime = (d = new Date()) => `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`
const escapeRe = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
/** Part of a test's name that only holds where the firewalls are checked. */
const firewalls = (text: string) => (useNetns ? text : ' (firewalls not checked)')

/** A `readdb --daemon` child: its output, its poll lines, its exit. */
class Daemon {
  out = ''
  err = ''
  readonly exited: Promise<number | null>
  readonly host: Host
  readonly child: ChildProcess
  constructor(host: Host, child: ChildProcess) {
    this.host = host
    this.child = child
    child.stdout?.on('data', (d: Buffer) => (this.out += d.toString()))
    child.stderr?.on('data', (d: Buffer) => (this.err += d.toString()))
    this.exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve(code ?? (signal ? -1 : null))))
  }
  lines(): Record<string, unknown>[] {
    return this.out
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, unknown>)
  }
  async stop(): Promise<number | null> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGTERM')
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 10_000)
    try {
      return await this.exited
    } finally {
      clearTimeout(timer)
    }
  }
}

describe(`fleet end to end (${dialect}; ${useNetns ? 'network namespaces, nftables ban actions, TCP checks' : `NO network namespaces (${skipReason}): no-op ban actions, firewalls NOT checked`})`, () => {
  let tdb: TestDatabase
  let central: CentralDb
  let lan: Lan | undefined
  let forwarder: { close(): Promise<void> } | undefined
  const servers = {} as Record<Host, Fail2banServer>
  const configs = {} as Record<Host, string>
  const daemons = {} as Record<Host, Daemon>
  const services: ChildProcess[] = []

  /** Runs one of the built programs as host h would: inside its namespace when there is one. */
  const runOnHost = (h: Host, argv: string[]): Promise<ExecResult> => (lan ? lan.exec(h, argv) : execCommand(argv))
  const add2db = (h: Host, ip: string) =>
    runOnHost(h, [NODE, BIN.add2db, '--config', configs[h], '--jail', 'auth', '--ip', ip, '--protocol', 'tcp', '--port', String(AUTH_PORT), '--bantime', '600'])

  beforeAll(async () => {
    tdb = await createTestDatabase(dialect)
    central = await tdb.openMigrated()
    let hostDbUrl = tdb.url
    if (useNetns) {
      const stale = await removeStaleNamespaces()
      if (stale.length > 0) console.warn(`fleet-e2e: removed namespaces of an earlier run that died: ${stale.join(', ')}`)
      lan = await Lan.create({
        bridgeAddresses: [`${DB_V4}/24`, 'fd00:f2b::1/64'],
        members: {
          a: [`${HOST_ADDR.a[4]}/24`, `${HOST_ADDR.a[6]}/64`],
          b: [`${HOST_ADDR.b[4]}/24`, `${HOST_ADDR.b[6]}/64`],
          c: [`${HOST_ADDR.c[4]}/24`, `${HOST_ADDR.c[6]}/64`],
          att: [...ATTACKER_V4.map((a) => `${a}/24`), `${ATTACKER_V6}/64`],
          clean: [`${CLEAN[4]}/24`, `${CLEAN[6]}/64`],
        },
        onLink: ['fd00:f2b::/64', '2001:db8:f2b::/64'],
      })
      if (dialect === 'mysql') {
        // The database is "the server on the LAN": 10.213.0.1:3306 → socket file → MariaDB.
        const url = new URL(tdb.url)
        const socket = join(tdb.dir, 'db.sock')
        forwarder = await startUnixForwarder(socket, url.hostname, Number(url.port || 3306))
        const relay = lan.spawn('sw', [NODE, NETNS_TOOL, 'relay', `${DB_V4}:3306`, socket])
        services.push(relay)
        await waitForOutput(relay, 'ready')
        url.hostname = DB_V4
        hostDbUrl = url.toString()
      }
    }

    const nftActions = Object.fromEntries(['nftables', 'nftables-multiport', 'nftables-allports'].map((n) => [n, readFileSync(`/etc/fail2ban/action.d/${n}.conf`, 'utf8')]))
    const start = (h: Host) => {
      // The jail that reports to the fleet (A and B): local ban first, then add2db with this host's config.
      const reporting = (dir: string) => reportingJail({ logpath: join(dir, 'auth.log'), config: join(tdb.dir, `${hostName(h)}.yml`), filter: 'test-auth', port: AUTH_PORT })
      return Fail2banServer.start({
        name: hostName(h),
        netns: lan?.ns(h),
        shippedFiles: true,
        // [DEFAULT] overrides: fail2ban's own nftables actions instead of the harness's no-op.
        jails: useNetns ? 'banaction = nftables-multiport\nbanaction_allports = nftables-allports\n' : '',
        actions: useNetns ? nftActions : {},
        filters: { 'test-auth': AUTH_FILTER },
        files: {
          'jail.d/f2b-central.local': (dir) => `[${SHARED}]\nenabled = true\nlogpath = ${join(dir, 'shared.log')}\nbackend = polling\n`,
          ...(h === 'c'
            ? // C holds an address "nearly expired" in a 100 s jail (its readdb wants 99 % left).
              { 'jail.d/short.local': (dir: string) => `[short]\nenabled = true\nfilter = test-auth\nlogpath = ${join(dir, 'short.log')}\nbantime = 100\n` }
            : { 'jail.d/auth.local': reporting }),
        },
        beforeStart: (s) => {
          for (const f of ['shared.log', 'auth.log', 'short.log']) writeFileSync(s.path(f), '')
        },
      })
    }
    const started = await Promise.allSettled(HOSTS.map(start))
    started.forEach((r, i) => {
      if (r.status === 'fulfilled') servers[HOSTS[i]!] = r.value
    })
    const failed = started.find((r) => r.status === 'rejected')
    if (failed) throw failed.reason

    if (lan) {
      for (const h of HOSTS) {
        const spec = {
          name: hostName(h),
          web: [`${HOST_ADDR[h][4]}:${WEB_PORT}`, `[${HOST_ADDR[h][6]}]:${WEB_PORT}`],
          auth: h === 'c' ? [] : [`${HOST_ADDR[h][4]}:${AUTH_PORT}`, `[${HOST_ADDR[h][6]}]:${AUTH_PORT}`],
          log: servers[h].path('auth.log'),
        }
        const service = lan.spawn(h, [NODE, NETNS_TOOL, 'serve', JSON.stringify(spec)])
        services.push(service)
        await waitForOutput(service, 'ready')
      }
    }

    // A and B read ban state through fail2ban-client, C from fail2ban's own database.
    for (const h of HOSTS) {
      const s = servers[h]
      configs[h] = writeHostConfig({
        dir: tdb.dir,
        name: hostName(h),
        dbUrl: hostDbUrl,
        sharedLog: s.path('shared.log'),
        // C counts a local ban as recent only with more than 99 % of it left, so an address it has
        // held for a second or two is "nearly expired" without waiting on the clock (no race on a slow machine).
        fail2ban: h === 'c' ? { client: s.clientArgv(), database: s.dbFile, sharedJail: SHARED, recentBanFraction: 0.99 } : { client: s.clientArgv(), sharedJail: SHARED },
        extra: { readdb: { schedule: '* * * * * *' } },
      })
    }
    // Only then the daemons: writing a config may run `hosts add`, which blocks this process,
    // and with it the database forwarder a running daemon talks through.
    for (const h of HOSTS) {
      const argv = [NODE, BIN.readdb, '--config', configs[h], '--daemon']
      daemons[h] = new Daemon(h, lan ? lan.spawn(h, argv) : spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] }))
    }
    // Every host is registered before any attack, as in a running fleet: on MySQL by `hosts add`
    // (its account, made by writeHostConfig), on SQLite by its first poll.
    await waitUntil(
      'every readdb daemon to register its host',
      async () => {
        for (const d of Object.values(daemons)) if (d.child.exitCode !== null) throw new Error(`readdb on ${d.host} exited ${d.child.exitCode}: ${d.out}${d.err}`)
        const rows = await central.db.selectFrom('hosts').select('name').execute()
        return rows.length === 3
      },
      20_000,
    )
  }, 120_000)

  afterAll(async () => {
    const errors: string[] = []
    const step = async (what: string, fn: () => Promise<unknown>) => {
      try {
        await fn()
      } catch (error) {
        errors.push(`${what}: ${(error as Error).message}`)
      }
    }
    let exitCodes: Record<string, number | null> = {}
    await step('stopping readdb daemons', async () => {
      const entries = await Promise.all(Object.entries(daemons).map(async ([h, d]) => [h, await d.stop()] as const))
      exitCodes = Object.fromEntries(entries)
    })
    await step('stopping fail2ban servers', () => Promise.all(Object.values(servers).map((s) => s.stop())))
    await step('stopping services', async () => {
      for (const s of services) s.kill('SIGTERM')
    })
    await step('closing the database forwarder', async () => forwarder?.close())
    await step('deleting namespaces', async () => lan?.destroy())
    await step('dropping the database', async () => {
      await central?.close()
      await tdb?.drop()
    })
    if (errors.length > 0) throw new Error(`teardown failed:\n${errors.join('\n')}`)
    const expected = Object.fromEntries(Object.keys(daemons).map((h) => [h, 0]))
    expect(exitCodes, 'readdb --daemon exits 0 on SIGTERM').toEqual(expected)
  }, 60_000)

  // ---- helpers ---------------------------------------------------------------------------

  /** Every (ban, host) status of an address, as { ban_id: { host: status } }. */
  async function statusesByBan(ip: string): Promise<Record<number, Record<string, number>>> {
    const rows = await central.db.selectFrom('ban_host_status').select(['ban_id', 'host', 'status']).where('ip', '=', ip).orderBy('ban_id').orderBy('host').execute()
    const out: Record<number, Record<string, number>> = {}
    for (const r of rows) (out[Number(r.ban_id)] ??= {})[r.host] = Number(r.status)
    return out
  }
  /** The statuses of an address that was reported once, as { host: status }. */
  async function statuses(ip: string): Promise<Record<string, number>> {
    const byBan = Object.values(await statusesByBan(ip))
    if (byBan.length > 1) throw new Error(`${ip} was reported ${byBan.length} times`)
    return byBan[0] ?? {}
  }
  const allAdded = { 'host-a': BanStatus.Added, 'host-b': BanStatus.Added, 'host-c': BanStatus.Added }
  async function waitForStatuses(ip: string, expected: Record<string, number>, timeoutMs = 15_000): Promise<void> {
    await waitUntil(`${ip}: statuses ${JSON.stringify(expected)}`, async () => JSON.stringify(await statuses(ip)) === JSON.stringify(expected), timeoutMs, 200).catch(
      async (error: Error) => {
        throw new Error(`${error.message}; last: ${JSON.stringify(await statuses(ip).catch((e: Error) => e.message))}\n${daemonOutput()}`)
      },
    )
  }
  const daemonOutput = () =>
    Object.values(daemons)
      .map((d) => `--- readdb ${d.host}\n${d.out}${d.err}`)
      .join('\n')

  /** How often each jail of a host logged `Ban IP`. */
  async function banCounts(h: Host, ip: string): Promise<Record<string, number>> {
    const counts: Record<string, number> = {}
    for (const m of (await servers[h].log()).matchAll(new RegExp(`\\[([^\\]]+)\\] Ban ${escapeRe(ip)}$`, 'gm'))) counts[m[1]!] = (counts[m[1]!] ?? 0) + 1
    return counts
  }

  /** The attack: two connections to a host's login service (or, without namespaces, the two lines it would log). */
  async function attack(hosts: Host[], ip: string): Promise<void> {
    await Promise.all(
      hosts.map(async (h) => {
        if (lan) {
          const tries = await probe(ip, [
            [h, AUTH_PORT],
            [h, AUTH_PORT],
          ])
          for (const r of tries) expect(r, `attack connection ${ip} → ${h}:${AUTH_PORT}`).toMatchObject({ result: 'connected', detail: 'denied' })
        } else {
          appendFileSync(servers[h].path('auth.log'), `${localTime()} auth failure from ${ip}\n${localTime()} auth failure from ${ip}\n`)
        }
      }),
    )
  }

  type Target = readonly [Host, number]
  const WEB_ON_EVERY_HOST: readonly Target[] = HOSTS.map((h) => [h, WEB_PORT])
  type Probe = { target: string; result: 'connected' | 'refused' | 'timeout' | 'error'; detail: string }
  const label = (src: string, [h, port]: Target) => `${src} → ${h}:${port}`
  /** TCP connections from `src` (an attacker or clean address) to hosts, same address family, all from one process. */
  async function probe(src: string, targets: readonly Target[]): Promise<Probe[]> {
    if (!lan) throw new Error('no namespaces')
    const from = Object.values(CLEAN).includes(src) ? 'clean' : 'att'
    const addrs = targets.map(([h, port]) => (family(src) === 6 ? `[${HOST_ADDR[h][6]}]:${port}` : `${HOST_ADDR[h][4]}:${port}`))
    const r = await lan.exec(from, [NODE, NETNS_TOOL, 'connect', src, '1500', ...addrs])
    if (r.code !== 0) throw new Error(`connect from ${from} failed (${r.code}): ${r.stderr.trim()}`)
    return JSON.parse(r.stdout) as Probe[]
  }
  async function probeAll(src: string, targets: readonly Target[]): Promise<Record<string, Probe['result']>> {
    const results = await probe(src, targets)
    return Object.fromEntries(targets.map((t, i) => [label(src, t), results[i]!.result]))
  }
  /** Without namespaces there are no firewalls to check: these do nothing. */
  async function expectOpen(src: string, targets: readonly Target[]): Promise<void> {
    if (!lan) return
    expect(await probeAll(src, targets)).toEqual(Object.fromEntries(targets.map((t) => [label(src, t), 'connected'])))
  }
  /** Blocked: refused or timed out.  Polled: fail2ban lists a ban just before its action (nft) has run. */
  async function expectBlocked(src: string, targets: readonly Target[]): Promise<Record<string, Probe['result']>> {
    if (!lan) return {}
    let last: Record<string, Probe['result']> = {}
    try {
      return await waitUntil(
        `${src} to be turned away`,
        async () => {
          last = await probeAll(src, targets)
          return Object.values(last).every((r) => r === 'refused' || r === 'timeout') ? last : false
        },
        10_000,
        200,
      )
    } catch (error) {
      const nft = await Promise.all(HOSTS.map(async (h) => `--- nft ruleset of ${h}\n${(await lan!.exec(h, ['nft', 'list', 'ruleset'])).stdout}`))
      throw new Error(`${(error as Error).message}: ${JSON.stringify(last)}\n${nft.join('\n')}`)
    }
  }

  // ---- scenarios -------------------------------------------------------------------------

  if (useNetns) {
    it("the LAN works before any attack; fail2ban and readdb run inside the hosts' namespaces and are reached through socket files", async () => {
      await Promise.all([ATTACKER_V4[0], ATTACKER_V6, CLEAN[4], CLEAN[6]].map((src) => expectOpen(src, WEB_ON_EVERY_HOST)))
      const identify = async (pid: number) => (await execCommand(['ip', 'netns', 'identify', String(pid)])).stdout.trim()
      for (const h of HOSTS) {
        const pid = Number(readFileSync(servers[h].pidFile, 'utf8').trim())
        expect(await identify(pid), `fail2ban-server of ${h}`).toBe(lan!.ns(h))
        expect(await identify(daemons[h].child.pid!), `readdb of ${h}`).toBe(lan!.ns(h))
        // This process is in the root namespace; the client reaches the server by its socket's path.
        expect(readlinkSync(`/proc/${pid}/ns/net`), `${h} runs in another network namespace than this test`).not.toBe(readlinkSync('/proc/self/ns/net'))
        expect(await servers[h].client('ping')).toMatch(/pong/)
      }
    })
  } else {
    // Says so in the report, and fails unless F2B_E2E_NETNS=0 asked for this variant: a run
    // that could not check the firewalls must not pass as if it had.
    it(`real firewalls NOT checked: network namespaces unavailable (${skipReason}); the same scenarios run with no-op ban actions`, () => {
      if (process.env.F2B_E2E_NETNS === '0') return
      requirePrograms('ip', 'nft')
      throw new Error(`network namespaces with nftables do not work here (${skipReason}): run the suite as root where they do, or set F2B_E2E_NETNS=0 to run without firewalls`)
    })
  }

  /** What the attack scenarios start from: `ip` still reaches B and C, fails on A until A bans it, and every host applies the ban. */
  async function attackAUntilEveryHostApplies(ip: string): Promise<void> {
    await expectOpen(ip, [
      ['b', WEB_PORT],
      ['c', WEB_PORT],
    ])
    await attack(['a'], ip)
    await servers.a.waitForBan('auth', ip)
    await waitForStatuses(ip, allAdded)
  }

  it(`an attack on A is banned by A, then by B and C through their shared jails: every status 1${firewalls(', the attacker is turned away everywhere, a clean client is not')}`, async () => {
    const ip = ATTACKER_V4[0]
    await attackAUntilEveryHostApplies(ip)
    expect(await central.db.selectFrom('bans').select(['jail', 'port', 'protocol', 'bantime']).where('ip', '=', ip).executeTakeFirstOrThrow()).toEqual({
      jail: 'auth',
      port: String(AUTH_PORT),
      protocol: 'tcp',
      bantime: 600,
    })
    await Promise.all([servers.b.waitForBan(SHARED, ip), servers.c.waitForBan(SHARED, ip)])
    await expectBlocked(ip, [
      ['a', AUTH_PORT],
      ['b', WEB_PORT],
      ['c', WEB_PORT],
    ])
    // A's own jail bans the service's port only (nftables-multiport); the fleet's shared jails ban every port.
    await expectOpen(ip, [['a', WEB_PORT]])
    await expectOpen(CLEAN[4], WEB_ON_EVERY_HOST)
    expect(await banCounts('a', ip)).toEqual({ auth: 1 })
    expect(await banCounts('b', ip)).toEqual({ [SHARED]: 1 })
    expect(await banCounts('c', ip)).toEqual({ [SHARED]: 1 })
  })

  it(`the same address attacks A and B at once: both report it, every host holds it, statuses 1 or 2, no jail bans it twice${firewalls(', turned away by all three')}`, async () => {
    const ip = ATTACKER_V4[1]
    await expectOpen(ip, [['c', WEB_PORT]])
    await attack(['a', 'b'], ip)
    await Promise.all([servers.a.waitForBan('auth', ip), servers.b.waitForBan('auth', ip)])
    let byBan: Record<number, Record<string, number>> = {}
    await waitUntil(
      `two reports of ${ip}, decided on every host`,
      async () => {
        byBan = await statusesByBan(ip)
        const all = Object.values(byBan).flatMap((s) => Object.values(s))
        return Object.keys(byBan).length === 2 && all.length === 6 && all.every((s) => s === BanStatus.Added || s === BanStatus.AlreadyBanned)
      },
      15_000,
      200,
    ).catch((error: Error) => {
      throw new Error(`${error.message}: ${JSON.stringify(byBan)}\n${daemonOutput()}`)
    })
    const reporters = await central.db.selectFrom('ban_host_status').select(['ban_id', 'added_by']).where('ip', '=', ip).distinct().execute()
    expect(reporters.map((r) => r.added_by).sort()).toEqual(['host-a', 'host-b'])
    for (const { ban_id, added_by } of reporters) expect(byBan[Number(ban_id)]![added_by], `the reporter's own status`).toBe(BanStatus.Added)
    // C applies it at least once (one line even when both reports arrive in the same poll).
    expect(Object.values(byBan).map((s) => s['host-c'])).toContain(BanStatus.Added)
    await servers.c.waitForBan(SHARED, ip)
    for (const h of HOSTS) {
      const counts = await banCounts(h, ip)
      expect(Object.values(counts).length, `${h} holds ${ip}: ${JSON.stringify(counts)}`).toBeGreaterThan(0)
      expect(
        Object.values(counts).every((n) => n === 1),
        `${h}: no jail bans ${ip} twice: ${JSON.stringify(counts)}`,
      ).toBe(true)
    }
    await expectBlocked(ip, [
      ['a', AUTH_PORT],
      ['b', AUTH_PORT],
      ['c', WEB_PORT],
    ])
    await expectOpen(CLEAN[4], [['c', WEB_PORT]])
  })

  it(`two hosts report the same address at the same moment (two add2db runs): each applies the other's report, every host bans it once${firewalls(' on every port')}`, async () => {
    const ip = ATTACKER_V4[2]
    await expectOpen(ip, WEB_ON_EVERY_HOST)
    const runs = await Promise.all([add2db('a', ip), add2db('b', ip)])
    expect(runs.map((r) => [r.code, r.stderr])).toEqual([
      [0, ''],
      [0, ''],
    ])
    let byBan: Record<number, Record<string, number>> = {}
    await waitUntil(
      `both reports of ${ip} decided everywhere`,
      async () => {
        byBan = await statusesByBan(ip)
        const all = Object.values(byBan).flatMap((s) => Object.values(s))
        return Object.keys(byBan).length === 2 && all.length === 6 && all.every((s) => s !== BanStatus.Pending)
      },
      15_000,
      200,
    ).catch((error: Error) => {
      throw new Error(`${error.message}: ${JSON.stringify(byBan)}\n${daemonOutput()}`)
    })
    // Neither A nor B held it (add2db bans nothing locally), so each applies the other's report;
    // C gets both, in one poll (one line, 1 and 1) or in two (1, then 1 or 2).
    for (const s of Object.values(byBan)) {
      expect(s['host-a']).toBe(BanStatus.Added)
      expect(s['host-b']).toBe(BanStatus.Added)
      expect([BanStatus.Added, BanStatus.AlreadyBanned]).toContain(s['host-c'])
    }
    await Promise.all(HOSTS.map((h) => servers[h].waitForBan(SHARED, ip)))
    for (const h of HOSTS) expect(await banCounts(h, ip), h).toEqual({ [SHARED]: 1 })
    await expectBlocked(ip, WEB_ON_EVERY_HOST)
    await expectOpen(CLEAN[4], WEB_ON_EVERY_HOST)
  })

  it('held on B with most of its ban time left → 2 on B; held on C nearly expired → stays 0 on C, applied once its local ban ends', async () => {
    const recent = '198.51.100.77'
    const nearly = '198.51.100.78'
    await Promise.all([servers.b.client('set', SHARED, 'banip', recent), servers.c.client('set', SHARED, 'banip', nearly)])
    // C's shared jail holds it for its 1 d, and this fleet ban lasts 10 d: less than the fraction
    // of the fleet ban's ban time is left, and the local ban ends first (issue 11, point 5).
    const seen = daemons.c.lines().length
    const tenDays = runOnHost('a', [
      NODE,
      BIN.add2db,
      '--config',
      configs.a,
      '--jail',
      'auth',
      '--ip',
      nearly,
      '--protocol',
      'tcp',
      '--port',
      String(AUTH_PORT),
      '--bantime',
      String(10 * 86400),
    ])
    const runs = await Promise.all([add2db('a', recent), tenDays])
    expect(runs.map((r) => r.code)).toEqual([0, 0])
    await waitForStatuses(recent, { 'host-a': BanStatus.Added, 'host-b': BanStatus.AlreadyBanned, 'host-c': BanStatus.Added })
    // C's daemon looked at it and kept it pending (a poll line with keptPending), and nothing was written for it.
    await waitUntil(
      `C's readdb to keep ${nearly} pending`,
      () =>
        daemons.c
          .lines()
          .slice(seen)
          .some((l) => l.msg === 'poll' && Number(l.keptPending) > 0),
      5_000,
    ).catch((error: Error) => {
      throw new Error(`${error.message}\n${daemonOutput()}`)
    })
    expect((await statuses(nearly))['host-c']).toBe(BanStatus.Pending)
    expect(readFileSync(servers.c.path('shared.log'), 'utf8')).not.toContain(` ${nearly} `)
    expect((await statuses(nearly))['host-c']).toBe(BanStatus.Pending)
    // Its local ban ends (lifted here rather than waited out): C's next poll applies it.
    await servers.c.client('set', SHARED, 'unbanip', nearly)
    await waitForStatuses(nearly, allAdded, 15_000)
    await servers.c.waitForBan(SHARED, nearly)
    expect(await banCounts('b', recent)).toEqual({ [SHARED]: 1 })
  })

  it.runIf(useNetns)(`the database server (${DB_V4}, from database.url) is never banned: not reported by add2db, 6 on every host for a row that names it`, async () => {
    const report = await add2db('a', DB_V4)
    expect(report.code).toBe(0)
    expect(report.stderr).toMatch(new RegExp(`^add2db: ${DB_V4.replaceAll('.', '\\.')} is allowlisted \\(infrastructure: host\\.neverBan or the database server\\); not reported`))
    expect(await central.db.selectFrom('bans').select('id').where('ip', '=', DB_V4).execute()).toEqual([])
    // A row that names it anyway (another system, an old import): every host skips it.
    await insertBan(central, 'host-a', null, { ip: DB_V4, jail: 'auth', protocol: 'tcp', port: '0:65535', bantime: 600 })
    await waitForStatuses(DB_V4, { 'host-a': BanStatus.Added, 'host-b': BanStatus.Allowlisted, 'host-c': BanStatus.Allowlisted })
    for (const h of ['b', 'c'] as const) expect(await banCounts(h, DB_V4), h).toEqual({})
  })

  it(`IPv6: an attack from ${ATTACKER_V6} on A is banned everywhere${firewalls(', and the IPv6 firewalls turn it away')}`, async () => {
    const ip = ATTACKER_V6
    // Its IPv4 sibling 10.213.0.66 is banned by now; bans are per address.
    await attackAUntilEveryHostApplies(ip)
    await Promise.all([servers.b.waitForBan(SHARED, ip), servers.c.waitForBan(SHARED, ip)])
    expect(readFileSync(servers.b.path('shared.log'), 'utf8')).toMatch(new RegExp(` f2b-central: ban ${escapeRe(ip)} jail=auth reporter=host-a ban_id=\\d+\\n`))
    await expectBlocked(ip, [
      ['a', AUTH_PORT],
      ['b', WEB_PORT],
      ['c', WEB_PORT],
    ])
    await expectOpen(CLEAN[6], WEB_ON_EVERY_HOST)
  })

  it("nothing failed on the way: no errors in fail2ban's logs (ban actions, add2db), no failed polls", async () => {
    for (const h of HOSTS) {
      const errors = (await servers[h].log()).split('\n').filter((l) => / (ERROR|CRITICAL) /.test(l))
      expect(errors, `fail2ban log of ${h}`).toEqual([])
      expect(daemons[h].err, `readdb stderr on ${h}`).toBe('')
      expect(
        daemons[h].lines().filter((l) => Number(l.level) >= 50),
        `readdb errors on ${h}`,
      ).toEqual([])
    }
  })
})
