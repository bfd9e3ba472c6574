// Issue 13: readdb's firewall mode, for real, in network namespaces this test creates.
//
//   namespace  addresses                                  runs
//   sw         br0 10.77.0.254/24 fd77::254/64            the bridge; with MariaDB, the DB relay on 10.77.0.254:3306
//   rn         eth0 10.77.0.1 fd77::1, eth1 10.78.1.1     readdb --daemon, firewall.backend nftables (forward, killConnections)
//   ri         eth0 10.77.0.2 fd77::2, eth1 10.78.2.1     readdb --daemon, firewall.backend ipset (forward)
//   srvn       eth0 10.78.1.2 (behind rn)                 web :8080, echo :7007
//   srvi       eth0 10.78.2.2 (behind ri)                 web :8080, echo :7007
//   att        eth0 10.77.0.66-69, .130, .131, 2001:db8:77::66   the attacker
//   clean      eth0 10.77.0.99 fd77::99                    a well-behaved client
//
// Neither router runs fail2ban (their configs have no fail2ban section). The fleet's bans come
// from a fail2ban host in the root namespace (a private fail2ban server whose jail runs the
// built add2db), from operators (`f2b-central unban`), and from rows planted in the database.
// Every router also has an admin's stateful table (`ct state established,related accept`), as
// a real router has, so that conntrack tracks its connections.
//
// nft and ipset are reached through PATH shims that keep a copy of every script readdb hands
// them, so the test can show that no hostile stored value ever reached their input.
// Nothing here touches the root namespace's interfaces, routes or firewall.
import { appendFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { ChildProcess } from 'node:child_process'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { stringify } from 'yaml'
import type { CentralDb } from '@f2b-central/core/db/db-adapter'
import { BanStatus } from '@f2b-central/core/schema/ban-status'
import { requirePrograms } from '../scripts/test-machine.mjs'
import { createTestDatabase, dialects, type DialectName, type TestDatabase } from './setup/dialects.js'
import { Fail2banServer, waitUntil } from './setup/fail2ban-server.js'
import { Lan, NETNS_TOOL, netnsSupport, removeStaleNamespaces, startUnixForwarder, waitForOutput } from './setup/netns.js'
import { runCli, seedBan } from './setup/operator.js'
import { BIN, runProgram, writeHostConfig, writeOperatorConfig } from './setup/programs.js'
import { reportingJail } from './setup/jails.js'
import { Daemon, toolShim } from './setup/firewall-tools.js'

const NODE = process.execPath
const dialect: DialectName = dialects().includes('mysql') ? 'mysql' : 'sqlite'
const support = netnsSupport()

const DB_V4 = '10.77.0.254'
const ROUTER = { rn: { 4: '10.77.0.1', 6: 'fd77::1', behind: '10.78.1.2' }, ri: { 4: '10.77.0.2', 6: 'fd77::2', behind: '10.78.2.2' } } as const
type Router = keyof typeof ROUTER
const ROUTERS: readonly Router[] = ['rn', 'ri']
const HOST: Record<Router, string> = { rn: 'router-nft', ri: 'router-ipset' }
const ATT = { reported: '10.77.0.66', short: '10.77.0.67', held: '10.77.0.68', flushed: '10.77.0.69', inNet: '10.77.0.130', inNet2: '10.77.0.131', v6: '2001:db8:77::66' } as const
const CLEAN = { 4: '10.77.0.99', 6: 'fd77::99' } as const
const CIDR = '10.77.0.128/27'
const WEB = 8080
const ECHO = 7007

const AUTH_FILTER = `[Definition]
failregex = ^ auth failure from <HOST>$
datepattern = {^LN-BEG}%%Y-%%m-%%d %%H:%%M:%%S
`
const pad = (n: number) => String(n).padStart(2, '0')
const localTime = (d = new Date()) => `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`

describe.runIf(support.ok)(`firewall mode in network namespaces (${dialect}): nftables and ipset routers`, () => {
  let tdb: TestDatabase
  let central: CentralDb
  let lan: Lan
  let forwarder: { close(): Promise<void> } | undefined
  let reporter: Fail2banServer
  let reporterConfig: string
  let opsConfig: string
  const configs = {} as Record<Router, string>
  const daemons = {} as Record<Router, Daemon>
  const services: ChildProcess[] = []
  const toolLog = {} as Record<Router, string>
  const shimDir = {} as Record<Router, string>
  let dbUrl = ''

  const startDaemon = (r: Router) => {
    daemons[r] = new Daemon(
      lan.spawn(r, [NODE, BIN.readdb, '--config', configs[r], '--daemon'], {
        env: { ...process.env, PATH: `${shimDir[r]}:${process.env.PATH}` },
        stdio: ['ignore', 'pipe', 'pipe'],
      }),
    )
  }

  beforeAll(async () => {
    requirePrograms('ip', 'nft', 'ipset', 'iptables', 'ip6tables', 'conntrack', 'fail2ban-client')
    await removeStaleNamespaces()
    tdb = await createTestDatabase(dialect)
    central = await tdb.openMigrated()
    lan = await Lan.create({
      bridgeAddresses: [`${DB_V4}/24`, 'fd77::254/64'],
      members: {
        rn: [`${ROUTER.rn[4]}/24`, `${ROUTER.rn[6]}/64`],
        ri: [`${ROUTER.ri[4]}/24`, `${ROUTER.ri[6]}/64`],
        att: [
          ...Object.values(ATT)
            .filter((a) => !a.includes(':'))
            .map((a) => `${a}/24`),
          `${ATT.v6}/64`,
        ],
        clean: [`${CLEAN[4]}/24`, `${CLEAN[6]}/64`],
      },
      onLink: ['fd77::/64', '2001:db8:77::/64'],
    })
    await lan.addBehind('rn', 'srvn', '10.78.1.1/24', `${ROUTER.rn.behind}/24`)
    await lan.addBehind('ri', 'srvi', '10.78.2.1/24', `${ROUTER.ri.behind}/24`)
    for (const m of ['att', 'clean']) {
      for (const r of ROUTERS) expect((await lan.exec(m, ['ip', 'route', 'add', `${ROUTER[r].behind.replace(/\.2$/, '.0')}/24`, 'via', ROUTER[r][4]])).code).toBe(0)
    }
    // The admin's own stateful rules on each router: conntrack tracks what passes.
    for (const r of ROUTERS) {
      const admin =
        'add table inet admin\nadd chain inet admin stateful { type filter hook forward priority 0; policy accept; }\nadd rule inet admin stateful ct state established,related accept\n'
      const file = join(tdb.dir, 'admin.nft')
      writeFileSync(file, admin)
      const res = await lan.exec(r, ['nft', '-f', file])
      expect(res, `admin table on ${r}`).toMatchObject({ code: 0 })
    }
    dbUrl = tdb.url
    if (dialect === 'mysql') {
      const url = new URL(tdb.url)
      const socket = join(tdb.dir, 'db.sock')
      forwarder = await startUnixForwarder(socket, url.hostname, Number(url.port || 3306))
      const relay = lan.spawn('sw', [NODE, NETNS_TOOL, 'relay', `${DB_V4}:3306`, socket])
      services.push(relay)
      await waitForOutput(relay, 'ready')
      url.hostname = DB_V4
      dbUrl = url.toString()
    }
    const serve = async (member: string, spec: Record<string, unknown>) => {
      const s = lan.spawn(member, [NODE, NETNS_TOOL, 'serve', JSON.stringify(spec)])
      services.push(s)
      await waitForOutput(s, 'ready')
    }
    for (const r of ROUTERS) {
      await serve(r, { name: r, web: [`${ROUTER[r][4]}:${WEB}`, `[${ROUTER[r][6]}]:${WEB}`] })
      await serve(r === 'rn' ? 'srvn' : 'srvi', { name: `behind-${r}`, web: [`${ROUTER[r].behind}:${WEB}`], echo: [`${ROUTER[r].behind}:${ECHO}`] })
    }

    // The fail2ban host that reports (root namespace, no firewall of its own: the no-op action).
    reporterConfig = writeHostConfig({ dir: tdb.dir, name: 'f2b-host', dbUrl: tdb.url })
    opsConfig = writeOperatorConfig({ dir: tdb.dir, name: 'ops', dbUrl: tdb.url })
    reporter = await Fail2banServer.start({
      name: 'fw-reporter',
      shippedFiles: true,
      jails: '',
      filters: { 'test-auth': AUTH_FILTER },
      files: { 'jail.d/auth.local': (dir) => reportingJail({ logpath: join(dir, 'auth.log'), config: reporterConfig, filter: 'test-auth', port: WEB }) },
      beforeStart: (s) => writeFileSync(s.path('auth.log'), ''),
    })

    for (const r of ROUTERS) {
      shimDir[r] = join(tdb.dir, `shim-${r}`)
      mkdirSync(shimDir[r])
      toolLog[r] = join(tdb.dir, `${r}-tool-input.log`)
      writeFileSync(toolLog[r], '')
      toolShim(shimDir[r], 'nft', toolLog[r])
      toolShim(shimDir[r], 'ipset', toolLog[r])
      configs[r] = join(tdb.dir, `${r}.yml`)
      // No fail2ban section: this host feeds only its kernel sets.
      const doc = {
        database: { url: dbUrl, timeoutSeconds: 3 },
        // With SQLite there is no database server on the LAN: the same address is this host's own infrastructure then.
        host: { name: HOST[r], ...(dialect === 'sqlite' ? { neverBan: [DB_V4] } : {}) },
        firewall: { backend: r === 'rn' ? 'nftables' : 'ipset', forward: true, killConnections: r === 'rn', resyncMinutes: 60 },
        readdb: { schedule: '* * * * * *', lockFile: join(tdb.dir, `${r}.lock`) },
        spool: { dir: join(tdb.dir, `${r}-spool`) },
      }
      writeFileSync(configs[r], stringify(doc), { mode: 0o600 })
      startDaemon(r)
    }
    await waitUntil(
      'both routers to register and load their sets',
      async () => {
        for (const r of ROUTERS) if (daemons[r].child.exitCode !== null) throw new Error(`readdb on ${r} exited: ${daemons[r].out}`)
        return ROUTERS.every((r) => daemons[r].lines().some((l) => l.msg === 'firewall resync'))
      },
      30_000,
    ).catch((e: Error) => {
      throw new Error(`${e.message}\n${output()}`)
    })
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
    await step('stopping readdb', () => Promise.all(Object.values(daemons).map((d) => d.stop())))
    await step('stopping fail2ban', async () => reporter?.stop())
    for (const s of services) s.kill('SIGTERM')
    await step('closing the forwarder', async () => forwarder?.close())
    await step('deleting namespaces', async () => lan?.destroy())
    await step('dropping the database', async () => {
      await central?.close()
      await tdb?.drop()
    })
    if (errors.length > 0) throw new Error(`teardown failed:\n${errors.join('\n')}`)
  }, 60_000)

  const output = () => ROUTERS.map((r) => `--- readdb ${r}\n${daemons[r]?.out ?? ''}`).join('\n')

  type Probe = { target: string; result: 'connected' | 'refused' | 'timeout' | 'error'; detail: string }
  /** One TCP connection from `src` to each target, from the attacker's or the clean namespace. */
  async function probe(src: string, targets: readonly string[]): Promise<Record<string, Probe['result']>> {
    const from = Object.values(CLEAN).includes(src as never) ? 'clean' : 'att'
    const r = await lan.exec(from, [NODE, NETNS_TOOL, 'connect', src, '1500', ...targets])
    if (r.code !== 0) throw new Error(`connect from ${from}: ${r.stderr}`)
    const results = JSON.parse(r.stdout) as Probe[]
    return Object.fromEntries(results.map((p) => [`${src} → ${p.target}`, p.result]))
  }
  /** Each router's own web service and the one behind it. */
  const everywhere = (family: 4 | 6 = 4) =>
    family === 6 ? ROUTERS.map((r) => `[${ROUTER[r][6]}]:${WEB}`) : ROUTERS.flatMap((r) => [`${ROUTER[r][4]}:${WEB}`, `${ROUTER[r].behind}:${WEB}`])
  async function expectOpen(src: string, targets = everywhere(src.includes(':') ? 6 : 4)): Promise<void> {
    let last: Record<string, string> = {}
    await waitUntil(
      `${src} to get through`,
      async () => {
        last = await probe(src, targets)
        return Object.values(last).every((v) => v === 'connected')
      },
      45_000,
      300,
    ).catch(async (e: Error) => {
      throw new Error(`${e.message}: ${JSON.stringify(last)}\n${await rulesets()}\n${output()}`)
    })
  }
  async function expectBlocked(src: string, targets = everywhere(src.includes(':') ? 6 : 4)): Promise<void> {
    let last: Record<string, string> = {}
    await waitUntil(
      `${src} to be dropped`,
      async () => {
        last = await probe(src, targets)
        return Object.values(last).every((v) => v === 'timeout')
      },
      15_000,
      300,
    ).catch(async (e: Error) => {
      throw new Error(`${e.message}: ${JSON.stringify(last)}\n${await rulesets()}\n${output()}`)
    })
  }
  async function rulesets(): Promise<string> {
    const out: string[] = []
    for (const r of ROUTERS)
      out.push(`--- ${r}: nft list ruleset\n${(await lan.exec(r, ['nft', 'list', 'ruleset'])).stdout}\n--- ipset save\n${(await lan.exec(r, ['ipset', 'save'])).stdout}`)
    return out.join('\n')
  }

  async function routerStatuses(ip: string): Promise<Record<string, number[]>> {
    const rows = await central.db.selectFrom('ban_host_status').select(['host', 'status']).where('ip', '=', ip).where('host', 'in', Object.values(HOST)).orderBy('ban_id').execute()
    const out: Record<string, number[]> = {}
    for (const r of rows) (out[r.host] ??= []).push(Number(r.status))
    return out
  }
  async function waitForStatus(ip: string, status: number): Promise<void> {
    await waitUntil(
      `${ip}: status ${status} on both routers`,
      async () => {
        const s = await routerStatuses(ip)
        return Object.values(HOST).every((h) => (s[h]?.length ?? 0) > 0 && s[h]!.every((x) => x === status))
      },
      20_000,
      200,
    ).catch(async (e: Error) => {
      throw new Error(`${e.message}: ${JSON.stringify(await routerStatuses(ip))}\n${output()}`)
    })
  }
  async function attack(ip: string): Promise<void> {
    appendFileSync(reporter.path('auth.log'), `${localTime()} auth failure from ${ip}\n${localTime()} auth failure from ${ip}\n`)
    await reporter.waitForBan('auth', ip)
  }
  /** A row written straight into the database (another system, a planted row): the host routines would refuse most of these. */
  async function plant(ip: string): Promise<void> {
    const reporterRow = await central.db.selectFrom('hosts').select('id').where('name', '=', 'f2b-host').executeTakeFirstOrThrow()
    await seedBan(central, { ip, jail: 'auth', reporterId: Number(reporterRow.id), created: 0, expires: 600 })
  }
  function runAdd2db(ip: string, bantime: number) {
    return runProgram(BIN.add2db, ['--config', reporterConfig, '--jail', 'auth', '--ip', ip, '--protocol', 'tcp', '--port', String(WEB), '--bantime', String(bantime)])
  }
  async function resyncBoth(): Promise<Record<Router, Record<string, unknown>>> {
    const seen = Object.fromEntries(ROUTERS.map((r) => [r, daemons[r].lines().length]))
    for (const r of ROUTERS) daemons[r].child.kill('SIGHUP')
    const out = {} as Record<Router, Record<string, unknown>>
    await waitUntil(
      'a requested resync on both routers',
      () =>
        ROUTERS.every((r) => {
          const line = daemons[r]
            .lines()
            .slice(seen[r])
            .find((l) => l.msg === 'firewall resync' && l.reason === 'requested')
          if (line) out[r] = line
          return line !== undefined
        }),
      15_000,
    )
    return out
  }

  it('before any ban: the attacker and the clean client reach both routers and the networks behind them; neither router runs fail2ban', async () => {
    await expectOpen(ATT.reported)
    await expectOpen(CLEAN[4])
    await expectOpen(ATT.v6)
    for (const r of ROUTERS) expect(readFileSync(configs[r], 'utf8')).not.toMatch(/fail2ban/)
    // The sets and rules were created at start.
    expect((await lan.exec('rn', ['nft', 'list', 'set', 'inet', 'f2b_central', 'bans_v4'])).stdout).toMatch(/flags interval,timeout/)
    expect((await lan.exec('ri', ['ipset', 'list', '-t', 'f2b-central-v4'])).stdout).toMatch(/Type: hash:net[\s\S]*timeout 0/)
    expect((await lan.exec('ri', ['iptables', '-S', 'FORWARD'])).stdout).toContain('-A FORWARD -m set --match-set f2b-central-v4 src -j DROP')
  })

  it('a ban reported by a fail2ban host is dropped by both routers, to them and through them (status 1 each); the clean client still passes; an operator unban (4) lets it through again', async () => {
    await attack(ATT.reported)
    await waitForStatus(ATT.reported, BanStatus.Added)
    await expectBlocked(ATT.reported)
    await expectOpen(CLEAN[4])
    // Its entry carries the fleet ban's remaining time (the jail's bantime is 600 s).
    const element = (await lan.exec('rn', ['nft', 'list', 'set', 'inet', 'f2b_central', 'bans_v4_addr'])).stdout
    const timeout = /10\.77\.0\.66 timeout (\d+)m/.exec(element)
    expect(timeout, element).not.toBeNull()
    expect(Number(timeout![1])).toBeGreaterThanOrEqual(9)
    expect((await lan.exec('ri', ['ipset', 'save', 'f2b-central-v4'])).stdout).toMatch(/^add f2b-central-v4 10\.77\.0\.66 timeout (59\d|600)$/m)

    const unban = await runCli(['unban', ATT.reported, '--config', opsConfig])
    expect(unban.code, unban.stderr).toBe(0)
    await waitForStatus(ATT.reported, BanStatus.Removed)
    await expectOpen(ATT.reported)
  })

  it("an IPv6 ban is dropped by both routers' IPv6 sets", async () => {
    expect((await runAdd2db(ATT.v6, 600)).code).toBe(0)
    await waitForStatus(ATT.v6, BanStatus.Added)
    await expectBlocked(ATT.v6)
    await expectOpen(CLEAN[6])
  })

  it('when the fleet ban runs out, the kernel drops the entry by its timeout and the attacker passes again', async () => {
    const r = await runAdd2db(ATT.short, 20)
    expect(r.code, r.stderr).toBe(0)
    await waitForStatus(ATT.short, BanStatus.Added)
    await expectBlocked(ATT.short)
    await expectOpen(ATT.short)
    expect((await lan.exec('rn', ['nft', 'list', 'set', 'inet', 'f2b_central', 'bans_v4_addr'])).stdout).not.toContain(ATT.short)
    expect((await lan.exec('ri', ['ipset', 'save', 'f2b-central-v4'])).stdout).not.toContain(ATT.short)
  })

  it('killConnections (nftables router): an established connection through the router loses its conntrack entry; without it (ipset router) the entry stays', async () => {
    const holds = ROUTERS.map((r) => lan.spawn('att', [NODE, NETNS_TOOL, 'hold', ATT.held, `${ROUTER[r].behind}:${ECHO}`], { stdio: ['pipe', 'pipe', 'pipe'] }))
    const outs = holds.map((h) => {
      const o = { text: '' }
      h.stdout?.on('data', (d: Buffer) => (o.text += d.toString()))
      return o
    })
    try {
      await Promise.all(holds.map((h) => waitForOutput(h, 'connected')))
      const ping = async (i: number): Promise<string> => {
        const before = outs[i]!.text.split('\n').length
        holds[i]!.stdin!.write('ping\n')
        return waitUntil(
          'an answer',
          () =>
            outs[i]!.text.split('\n')
              .slice(before - 1)
              .find((l) => l === 'reply' || l === 'noreply' || l === 'closed'),
          5000,
          50,
        )
      }
      expect(await ping(0)).toBe('reply')
      expect(await ping(1)).toBe('reply')
      const tracked = async (r: Router) => (await lan.exec(r, ['conntrack', '-L', '-s', ATT.held])).stdout.split('\n').filter((l) => l.includes(`src=${ATT.held}`)).length
      expect(await tracked('rn')).toBe(1)
      expect(await tracked('ri')).toBe(1)

      expect((await runAdd2db(ATT.held, 600)).code).toBe(0)
      await waitForStatus(ATT.held, BanStatus.Added)
      // Both drop every packet of a banned source, established or not.
      await waitUntil('the held connections to stop answering', async () => (await ping(0)) === 'noreply' && (await ping(1)) === 'noreply', 15_000, 200)
      expect(
        await tracked('rn'),
        `conntrack entry deleted on the router with killConnections\n${(await lan.exec('rn', ['conntrack', '-L'])).stdout}\n${daemons.rn.out.slice(-3000)}`,
      ).toBe(0)
      expect(await tracked('ri'), 'conntrack entry kept on the router without').toBe(1)
    } finally {
      for (const h of holds) h.kill('SIGKILL')
    }
  })

  it('a CIDR ban covers its network on both routers (interval set, hash:net); an address inside it banned too is applied beside it', async () => {
    await plant(CIDR)
    await waitForStatus(CIDR, BanStatus.Added)
    await expectBlocked(ATT.inNet)
    await expectBlocked(ATT.inNet2)
    await expectOpen(CLEAN[4])
    await plant(ATT.inNet2)
    await waitForStatus(ATT.inNet2, BanStatus.Added)
    expect((await lan.exec('rn', ['nft', 'list', 'set', 'inet', 'f2b_central', 'bans_v4'])).stdout).toContain(CIDR)
    expect((await lan.exec('rn', ['nft', 'list', 'set', 'inet', 'f2b_central', 'bans_v4_addr'])).stdout).toContain(ATT.inNet2)
    expect((await lan.exec('ri', ['ipset', 'save', 'f2b-central-v4'])).stdout).toContain(`add f2b-central-v4 ${CIDR} timeout`)
    await expectBlocked(ATT.inNet2)
  })

  it('hostile rows never reach nft or ipset input: 3 for what can never be applied, 6 for a network that holds a router, the DB server and the clean client; nothing else is dropped', async () => {
    const hostile = [`10.77.0.70\nflush ruleset`, '10.77.0.70 } ; flush ruleset ; {', '0.0.0.0/0', '010.077.000.099', '10.77.0.99 timeout 1s', '10.77.0.0/8']
    for (const ip of hostile) await plant(ip)
    await plant('10.77.0.0/24')
    await plant(DB_V4)
    for (const ip of hostile) await waitForStatus(ip, BanStatus.Error)
    await waitForStatus('10.77.0.0/24', BanStatus.Allowlisted)
    await waitForStatus(DB_V4, BanStatus.Allowlisted)
    await expectOpen(CLEAN[4])
    for (const r of ROUTERS) {
      const input = readFileSync(toolLog[r], 'utf8')
      expect(input.length, `${r}: readdb handed its tool scripts`).toBeGreaterThan(0)
      for (const bad of ['flush ruleset', '0.0.0.0/0', '010.077', '10.77.0.99', '10.77.0.0/', DB_V4]) expect(input, `${r}'s nft/ipset input`).not.toContain(bad)
    }
    const errors = await central.db.selectFrom('ban_host_status').select(['ip', 'error']).where('host', '=', HOST.rn).where('status', '=', BanStatus.Error).execute()
    expect(errors.length).toBe(hostile.length)
    for (const e of errors) expect(e.error).toMatch(/^refused: not a canonical address or a bannable network/)
  })

  it('a set flushed by hand (and the whole nftables ruleset) is whole again after one resync (SIGHUP); the drift is logged, stored and shown by `status`', async () => {
    expect((await runAdd2db(ATT.flushed, 600)).code).toBe(0)
    await waitForStatus(ATT.flushed, BanStatus.Added)
    await expectBlocked(ATT.flushed)
    for (const set of ['bans_v4', 'bans_v4_addr']) expect((await lan.exec('rn', ['nft', 'flush', 'set', 'inet', 'f2b_central', set])).code).toBe(0)
    expect((await lan.exec('ri', ['ipset', 'flush', 'f2b-central-v4'])).code).toBe(0)
    await expectOpen(ATT.flushed)
    const resync = await resyncBoth()
    await expectBlocked(ATT.flushed)
    await expectBlocked(ATT.held)
    // IPv4: .68, .69, .131 and 10.77.0.128/27 on both; IPv6: 2001:db8:77::66.
    for (const r of ROUTERS) expect(resync[r], r).toMatchObject({ added: 4, removed: 0, drift: 4, entries: 5 })
    const rows = await central.db
      .selectFrom('hosts')
      .select(['name', 'firewall_backend', 'resync_drift', 'firewall_entries', 'drift_total'])
      .where('name', 'in', Object.values(HOST))
      .orderBy('name')
      .execute()
    expect(rows.map((h) => [h.name, h.firewall_backend, Number(h.resync_drift), Number(h.firewall_entries)])).toEqual([
      [HOST.ri, 'ipset', 4, 5],
      [HOST.rn, 'nftables', 4, 5],
    ])
    const status = await runCli(['status', '--config', opsConfig])
    expect(status.stdout).toMatch(new RegExp(`^${HOST.rn}: nftables sets, 5 entries; last resync \\S+ ago found drift 4 \\(\\d+ since the first\\)$`, 'm'))
    expect(status.stdout).toMatch(new RegExp(`^${HOST.ri}: ipset sets, 5 entries; last resync \\S+ ago found drift 4 `, 'm'))

    // Everything gone (a reboot, `nft flush ruleset`): the table, its sets and chains come back.
    expect((await lan.exec('rn', ['nft', 'flush', 'ruleset'])).code).toBe(0)
    await expectOpen(ATT.flushed, [`${ROUTER.rn[4]}:${WEB}`, `${ROUTER.rn.behind}:${WEB}`])
    await resyncBoth()
    await expectBlocked(ATT.flushed)
    // An entry put in by hand that is no fleet ban comes out.
    expect((await lan.exec('ri', ['ipset', 'add', 'f2b-central-v4', CLEAN[4]])).code).toBe(0)
    const again = await resyncBoth()
    expect(again.ri).toMatchObject({ removed: 1, drift: 1 })
    expect(again.rn).toMatchObject({ drift: 0 })
    await expectOpen(CLEAN[4])
  })

  it('`readdb --resync` (one run, no daemon) restores a flushed ipset set, then exits 0', async () => {
    expect(await daemons.ri.stop()).toBe(0)
    expect((await lan.exec('ri', ['ipset', 'flush', 'f2b-central-v4'])).code).toBe(0)
    await expectOpen(ATT.flushed, [`${ROUTER.ri[4]}:${WEB}`])
    const run = await lan.exec('ri', ['env', `PATH=${shimDir.ri}:${process.env.PATH}`, NODE, BIN.readdb, '--config', configs.ri, '--resync'])
    expect(run.code, run.stderr).toBe(0)
    const line = run.stdout
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .find((l) => l.msg === 'firewall resync')
    expect(line).toMatchObject({ reason: 'requested', added: 4, fullLoad: true })
    // Only the resync: no poll ran.
    expect(run.stdout).not.toMatch(/"msg":"poll"/)
    await expectBlocked(ATT.flushed, [`${ROUTER.ri[4]}:${WEB}`, `${ROUTER.ri.behind}:${WEB}`])
    startDaemon('ri')
  })

  it('`f2b-central export --format nft|ipset` prints exactly what the routers load (the same text but for the seconds), and the real tools load it into a fresh namespace with the same entries', async () => {
    const norm = (text: string) => text.replace(/ timeout \d+s?/g, ' timeout N')
    const elements = async (ns: string, format: 'nft' | 'ipset') => {
      const text = format === 'nft' ? (await lan.exec(ns, ['nft', 'list', 'ruleset'])).stdout : (await lan.exec(ns, ['ipset', 'save'])).stdout
      return (text.match(/\b10\.77\.0\.\d+(\/\d+)?|2001:db8:77::66/g) ?? []).sort()
    }
    for (const [format, r, fresh] of [
      ['nft', 'rn', 'srvn'],
      ['ipset', 'ri', 'srvi'],
    ] as const) {
      // Run where readdb runs, with its config: the router's own infrastructure (its database server) is left out alike.
      const out = await lan.exec(r, [NODE, BIN.cli, 'export', '--format', format, '--config', configs[r]])
      expect(out.code, out.stderr).toBe(0)
      expect(out.stdout).not.toContain(DB_V4)
      // The last whole load readdb handed the tool on this router (after the flushes above): its flush, back to its first line.
      const loads = readFileSync(toolLog[r], 'utf8')
      const flush = loads.lastIndexOf(format === 'nft' ? 'flush set inet f2b_central bans_v4\nflush' : 'flush f2b-central-v4-load4\n')
      expect(flush).toBeGreaterThan(0)
      const lastLoad = loads.slice(loads.lastIndexOf(format === 'nft' ? 'add table inet f2b_central' : 'create f2b-central-v4 ', flush))
      expect(norm(lastLoad).startsWith(norm(out.stdout)), `${format} export\n${out.stdout}\nlast load on ${r}\n${lastLoad}`).toBe(true)
      // Loaded for real where nothing else runs (the namespace behind the router), twice: it is idempotent.
      const file = join(tdb.dir, `export.${format}`)
      writeFileSync(file, out.stdout)
      for (let i = 0; i < 2; i++) {
        const load = await lan.exec(fresh, format === 'nft' ? ['nft', '-f', file] : ['sh', '-c', `ipset restore -exist < '${file}'`])
        expect(load, `${format} load ${i}`).toMatchObject({ code: 0, stderr: '' })
      }
      expect(await elements(fresh, format)).toEqual(await elements(r, format))
      expect((await elements(fresh, format)).length).toBeGreaterThan(3)
    }
  })

  it('nothing failed on the way: no error lines from either readdb', () => {
    for (const r of ROUTERS)
      expect(
        daemons[r].lines().filter((l) => Number(l.level) >= 50),
        r,
      ).toEqual([])
  })
})

if (!support.ok)
  describe('firewall mode in network namespaces', () => {
    it(`cannot run: ${support.reason}`, () => {
      requirePrograms('ip', 'nft', 'ipset', 'iptables', 'conntrack')
      throw new Error(`network namespaces with nftables do not work here: run the suite as root where they do`)
    })
  })
