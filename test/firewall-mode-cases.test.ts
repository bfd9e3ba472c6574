// Issue 13: readdb's firewall mode, case by case, on the real kernel (network namespaces this
// test creates), for both backends. Where firewall-mode.test.ts shows the drops with real
// connections, this file reads the kernel sets themselves after each one-shot readdb run
// (cron's way of running it), so every case is one poll or one resync and nothing is timed.
//
//   namespace   host          runs
//   fw-<b>      fw-<b>        readdb in firewall mode alone (no fail2ban section)
//   both-<b>    both-<b>      readdb with fail2ban (a private server, its shared jail) and firewall.backend
//
// for <b> = nft and ipset. Each namespace holds nothing but lo; with MariaDB a relay on
// 127.0.0.1:3306 inside it reaches the server through a unix socket. nft and ipset are reached
// through PATH shims (test/setup/firewall-tools.ts) that keep their input and can be made to
// fail. Bans are planted straight into the database, from a reporter that never polls.
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { ChildProcess } from 'node:child_process'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { CentralDb } from '@f2b-central/core/db/db-adapter'
import { BanStatus } from '@f2b-central/core/schema/ban-status'
import { requirePrograms } from '../scripts/test-machine.mjs'
import { createTestDatabase, dialects, type DialectName, type TestDatabase } from './setup/dialects.js'
import { Fail2banServer, waitUntil } from './setup/fail2ban-server.js'
import { Daemon, toolShim } from './setup/firewall-tools.js'
import { Lan, NETNS_TOOL, netnsSupport, removeStaleNamespaces, startUnixForwarder, waitForOutput } from './setup/netns.js'
import { at, DAY, HOUR, MINUTE, runCli, seedBan, seedHosts } from './setup/operator.js'
import { BIN, writeHostConfig, writeOperatorConfig } from './setup/programs.js'

const NODE = process.execPath
const dialect: DialectName = dialects().includes('mysql') ? 'mysql' : 'sqlite'
const support = netnsSupport()
const SHARED = 'f2b-central-shared'
// ipset's longest timeout (about 24.8 days), written out here rather than imported: the test checks the product's constant.
const IPSET_MAX = 2_147_483

type Backend = 'nftables' | 'ipset'
interface Case {
  backend: Backend
  short: 'nft' | 'ipset'
  /** A /24 of addresses per backend, so one block's bans are told apart from the other's. */
  net: string
}
const CASES: Case[] = [
  { backend: 'nftables', short: 'nft', net: '203.0.113' },
  { backend: 'ipset', short: 'ipset', net: '198.51.100' },
]

type Entry = { timeout: number | null; expires: number | null }

interface Host {
  name: string
  ns: string
  config: string
  shim: string
  toolLog: string
  failFlag: string
}

describe.runIf(support.ok)(`firewall mode, case by case (${dialect})`, () => {
  let tdb: TestDatabase
  let central: CentralDb
  let lan: Lan
  let forwarder: { close(): Promise<void> } | undefined
  let reporterId: number
  let opsConfig: string
  const services: ChildProcess[] = []

  beforeAll(async () => {
    requirePrograms('ip', 'nft', 'ipset', 'iptables', 'ip6tables', 'fail2ban-client')
    await removeStaleNamespaces()
    tdb = await createTestDatabase(dialect)
    central = await tdb.openMigrated()
    lan = await Lan.create({
      bridgeAddresses: [],
      members: Object.fromEntries(
        CASES.flatMap((c) => [
          [`fw${c.short}`, []],
          [`both${c.short}`, []],
        ]),
      ),
    })
    if (dialect === 'mysql') {
      const url = new URL(tdb.url)
      const socket = join(tdb.dir, 'db.sock')
      forwarder = await startUnixForwarder(socket, url.hostname, Number(url.port || 3306))
      // The hosts' URLs name the server's own address: inside each namespace, that address is the relay.
      for (const c of CASES)
        for (const ns of [`fw${c.short}`, `both${c.short}`]) {
          const relay = lan.spawn(ns, [NODE, NETNS_TOOL, 'relay', `${url.hostname}:${url.port || 3306}`, socket])
          services.push(relay)
          await waitForOutput(relay, 'ready')
        }
    }
    reporterId = (await seedHosts(central, [{ name: 'reporter' }])).reporter!
    opsConfig = writeOperatorConfig({ dir: tdb.dir, name: 'ops', dbUrl: tdb.url })
  }, 60_000)

  afterAll(async () => {
    for (const s of services) s.kill('SIGTERM')
    await forwarder?.close()
    await lan?.destroy()
    await central?.close()
    await tdb?.drop()
  }, 60_000)

  const plant = (ip: string, created: number, expires: number | null, extra: { revoked?: number } = {}) =>
    seedBan(central, { ip, jail: 'sshd', reporterId, created, expires, ...extra })

  function makeHost(c: Case, kind: 'fw' | 'both', fail2ban: Record<string, unknown> | false, firewall: Record<string, unknown> = {}): Host {
    const name = `${kind}-${c.short}`
    const shim = join(tdb.dir, `shim-${name}`)
    mkdirSync(shim, { recursive: true })
    const toolLog = join(tdb.dir, `${name}-tool-input.log`)
    const failFlag = join(tdb.dir, `${name}-tool-fails`)
    writeFileSync(toolLog, '')
    for (const tool of ['nft', 'ipset'] as const) toolShim(shim, tool, toolLog, failFlag)
    const config = writeHostConfig({
      dir: tdb.dir,
      name,
      dbUrl: tdb.url,
      fail2ban,
      extra: { firewall: { backend: c.backend, resyncMinutes: 10, ...firewall }, readdb: { schedule: '* * * * * *' } },
    })
    return { name, ns: `${kind}${c.short}`, config, shim, toolLog, failFlag }
  }

  type Run = { code: number; stdout: string; stderr: string; lines: Record<string, unknown>[] }
  async function readdb(h: Host, ...args: string[]): Promise<Run> {
    const r = await lan.exec(h.ns, ['env', `PATH=${h.shim}:${process.env.PATH}`, NODE, BIN.readdb, '--config', h.config, ...args])
    const lines = r.stdout
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, unknown>)
    return { ...r, lines }
  }
  async function readdbOk(h: Host, ...args: string[]): Promise<Run> {
    const r = await readdb(h, ...args)
    expect(r.code, `readdb ${args.join(' ')} on ${h.name}\n${r.stdout}\n${r.stderr}`).toBe(0)
    return r
  }
  const resyncLine = (r: Run) => r.lines.find((l) => l.msg === 'firewall resync')
  const pollLine = (r: Run) => r.lines.find((l) => typeof l.msg === 'string' && (l.msg as string).startsWith('poll'))

  /** Every entry of the host's kernel sets, read with the tools themselves: text → configured timeout and seconds left (null: none). */
  async function kernel(h: Host, backend: Backend): Promise<Map<string, Entry>> {
    const out = new Map<string, Entry>()
    if (backend === 'ipset') {
      for (const set of ['f2b-central-v4', 'f2b-central-v6']) {
        const r = await lan.exec(h.ns, ['ipset', 'save', set])
        expect(r.code, r.stderr).toBe(0)
        for (const line of r.stdout.split('\n')) {
          const m = /^add \S+ (\S+)(?: timeout (\d+))?$/.exec(line)
          if (!m) continue
          const t = m[2] === undefined || m[2] === '0' ? null : Number(m[2])
          out.set(m[1]!, { timeout: t, expires: t })
        }
      }
      return out
    }
    for (const set of ['bans_v4', 'bans_v4_addr', 'bans_v6', 'bans_v6_addr']) {
      const r = await lan.exec(h.ns, ['nft', '-j', 'list', 'set', 'inet', 'f2b_central', set])
      expect(r.code, r.stderr).toBe(0)
      type Val = string | { prefix: { addr: string; len: number } }
      type Elem = Val | { elem: { val: Val; timeout?: number; expires?: number } }
      const doc = JSON.parse(r.stdout) as { nftables: { set?: { elem?: Elem[] } }[] }
      const text = (v: Val) => (typeof v === 'string' ? v : `${v.prefix.addr}/${v.prefix.len}`)
      for (const item of doc.nftables)
        for (const e of item.set?.elem ?? []) {
          if (typeof e === 'object' && 'elem' in e)
            out.set(text(e.elem.val), { timeout: e.elem.timeout ?? null, expires: e.elem.timeout === undefined ? null : (e.elem.expires ?? 0) })
          else out.set(text(e), { timeout: null, expires: null })
        }
    }
    return out
  }

  // As if the allowlist's entries were made an hour ago: a one-shot run resyncs for an entry
  // made up to 10 s before its stored resync (a resync running while it was made may have
  // missed it), so the cases after an allowlist change start from a quiet allowlist.
  const ageAllowlist = () =>
    central.db
      .updateTable('allowlist')
      .set({ created_at: at(-HOUR) })
      .execute()

  async function statusOf(h: Host, banId: number): Promise<{ status: number; error: string | null } | undefined> {
    const row = await central.db.selectFrom('ban_host_status').select(['status', 'error']).where('ban_id', '=', banId).where('host', '=', h.name).executeTakeFirst()
    return row ? { status: Number(row.status), error: row.error } : undefined
  }

  describe.each(CASES)('$backend', (c) => {
    let fw: Host
    let both: Host
    let f2b: Fail2banServer
    const ip = (n: number) => `${c.net}.${n}`
    const inSet = async (h: Host, addr: string) => (await kernel(h, c.backend)).get(addr)

    beforeAll(async () => {
      f2b = await Fail2banServer.start({
        name: `fw-both-${c.short}`,
        shippedFiles: true,
        jails: (dir) => `[${SHARED}]\nenabled = true\nlogpath = ${join(dir, 'shared.log')}\nbackend = polling\n`,
        beforeStart: (s) => writeFileSync(s.path('shared.log'), ''),
      })
      fw = makeHost(c, 'fw', false)
      both = makeHost(c, 'both', { client: f2b.clientArgv(), sharedJail: SHARED }, {})
      // The first run of each: sets and rules created, the first resync stored with the host.
      for (const h of [fw, both]) expect(resyncLine(await readdbOk(h))).toMatchObject({ reason: 'schedule' })
    }, 60_000)
    afterAll(async () => {
      await f2b?.stop()
    })

    it('both fail2ban and firewall: a fleet ban lands in the shared jail and the kernel set (1); with the tool failing it stays 0 with the error (the jail has it), and a later poll puts it in the set', async () => {
      const first = await plant(ip(10), 0, 600)
      await readdbOk(both)
      await f2b.waitForBan(SHARED, ip(10))
      expect(await statusOf(both, first)).toEqual({ status: BanStatus.Added, error: null })
      expect((await inSet(both, ip(10)))?.timeout).toBeGreaterThan(500)

      writeFileSync(both.failFlag, '')
      try {
        const second = await plant(ip(11), 0, 600)
        const failed = await readdbOk(both)
        expect(pollLine(failed)?.msg, failed.stdout).toMatch(/^poll: bans kept pending: firewall: .*made to fail by the test/)
        const pending = await statusOf(both, second)
        expect(pending?.status).toBe(BanStatus.Pending)
        expect(pending?.error).toMatch(/made to fail by the test/)
        // fail2ban took it all the same: the tool's failure costs the set, not the jail.
        await f2b.waitForBan(SHARED, ip(11))
        rmSync(both.failFlag)
        expect(await inSet(both, ip(11))).toBeUndefined()

        const again = await readdbOk(both)
        expect(pollLine(again), again.stdout).toMatchObject({ msg: 'poll', examined: 1 })
        expect((await inSet(both, ip(11)))?.timeout).toBeGreaterThan(500)
        // Retried with the shared jail already holding it: 2, now that the set has it too.
        expect(await statusOf(both, second)).toEqual({ status: BanStatus.AlreadyBanned, error: null })

        // The same with a resync due (cron's run after resyncMinutes): the failing resync holds back neither the jail nor the run.
        await central.db
          .updateTable('hosts')
          .set({ resynced_at: at(-11 * MINUTE) })
          .where('name', '=', both.name)
          .execute()
        writeFileSync(both.failFlag, '')
        const third = await plant(ip(12), 0, 600)
        const due = await readdbOk(both)
        expect(due.lines.find((l) => l.msg === 'firewall resync failed')?.problem, due.stdout).toMatch(/made to fail by the test/)
        expect((await statusOf(both, third))?.status).toBe(BanStatus.Pending)
        await f2b.waitForBan(SHARED, ip(12))
        rmSync(both.failFlag)
        // Still due, so the next run resyncs, and the set has it.
        const later = await readdbOk(both)
        expect(resyncLine(later), later.stdout).toMatchObject({ reason: 'schedule' })
        expect((await inSet(both, ip(12)))?.timeout).toBeGreaterThan(500)
        expect(await statusOf(both, third)).toEqual({ status: BanStatus.AlreadyBanned, error: null })
      } finally {
        rmSync(both.failFlag, { force: true })
      }
    })

    it('a new central allowlist entry covering an address in the set: a daemon resyncs (reason allowlist) at its next tick and takes it out', async () => {
      const id = await plant(ip(20), 0, HOUR)
      await plant(ip(21), 0, HOUR)
      await readdbOk(fw)
      expect(await statusOf(fw, id)).toEqual({ status: BanStatus.Added, error: null })
      expect(await inSet(fw, ip(20))).toBeDefined()

      const daemon = new Daemon(lan.spawn(fw.ns, ['env', `PATH=${fw.shim}:${process.env.PATH}`, NODE, BIN.readdb, '--config', fw.config, '--daemon']))
      try {
        const seen = () => daemon.lines().filter((l) => l.msg === 'firewall resync')
        // Its first tick resyncs anyway ('start'): the allowlist changes after that one.
        await waitUntil('the daemon to resync at start', () => seen().some((l) => l.reason === 'start'), 20_000).catch((e: Error) => {
          throw new Error(`${e.message}\n${daemon.out}`)
        })
        const before = seen().length
        const add = await runCli(['allow', 'add', `${c.net}.20/31`, '--config', opsConfig])
        expect(add.code, add.stderr).toBe(0)
        const line = await waitUntil(
          'a resync for the allowlist',
          () =>
            seen()
              .slice(before)
              .find((l) => l.reason === 'allowlist'),
          20_000,
        ).catch((e: Error) => {
          throw new Error(`${e.message}\n${daemon.out}`)
        })
        expect(line).toMatchObject({ removed: 2, added: 0 })
        const set = await kernel(fw, c.backend)
        expect(set.has(ip(20))).toBe(false)
        expect(set.has(ip(21))).toBe(false)
      } finally {
        expect(await daemon.stop()).toBe(0)
        expect(daemon.lines().filter((l) => Number(l.level) >= 50)).toEqual([])
        await ageAllowlist()
      }
    })

    it("a new central allowlist entry covering an address in the set: cron's next one-shot run resyncs (reason allowlist) and takes it out; an entry older than the stored resync starts none", async () => {
      const id = await plant(ip(25), 0, HOUR)
      await readdbOk(fw)
      expect(await statusOf(fw, id)).toEqual({ status: BanStatus.Added, error: null })
      expect(await inSet(fw, ip(25))).toBeDefined()
      // Not the schedule: the stored resync is recent.
      expect(resyncLine(await readdbOk(fw))).toBeUndefined()
      const add = await runCli(['allow', 'add', ip(25), '--config', opsConfig])
      expect(add.code, add.stderr).toBe(0)
      const run = await readdbOk(fw)
      expect(resyncLine(run), run.stdout).toMatchObject({ reason: 'allowlist', removed: 1, added: 0 })
      expect(await inSet(fw, ip(25))).toBeUndefined()
      await ageAllowlist()
      expect(resyncLine(await readdbOk(fw))).toBeUndefined()
    })

    it('a resync sets again an entry whose kernel timeout is wrong (shortened by hand, or the fleet ban extended), counted as refreshed in the log line and the stored drift; a permanent ban has no timeout; a ban longer than ipset allows gets its max', async () => {
      const shortened = ip(30)
      const extended = ip(31)
      const permanent = ip(32)
      const long = ip(33)
      await plant(shortened, 0, HOUR)
      const extendedId = await plant(extended, 0, HOUR)
      await plant(permanent, 0, null)
      await plant(long, 0, 30 * DAY)
      await readdbOk(fw)
      let set = await kernel(fw, c.backend)
      expect(set.get(shortened)?.expires).toBeGreaterThan(HOUR - MINUTE)
      expect(set.get(permanent)).toEqual({ timeout: null, expires: null })
      // ipset counts its max down like any timeout; nft keeps the whole 30 days.
      const longLeft = set.get(long)?.expires ?? 0
      if (c.backend === 'ipset') expect([longLeft, longLeft <= IPSET_MAX && longLeft > IPSET_MAX - MINUTE]).toEqual([longLeft, true])
      else expect(longLeft).toBeGreaterThan(30 * DAY - MINUTE)
      // The kernel agrees with the fleet: a resync finds nothing to change (ipset's max is no drift).
      expect(resyncLine(await readdbOk(fw, '--resync'))).toMatchObject({ refreshed: 0, drift: 0 })

      // By hand: the kernel entry runs out in a minute, though the fleet bans it for an hour.
      const byHand =
        c.backend === 'ipset'
          ? ['ipset', 'add', 'f2b-central-v4', shortened, 'timeout', '60', '-exist']
          : ['sh', '-c', `nft delete element inet f2b_central bans_v4_addr '{ ${shortened} }' && nft add element inet f2b_central bans_v4_addr '{ ${shortened} timeout 60s }'`]
      expect((await lan.exec(fw.ns, byHand)).code).toBe(0)
      expect((await inSet(fw, shortened))?.expires).toBeLessThanOrEqual(60)
      // The fleet's ban extended to a day: the kernel still has an hour.
      await central.db
        .updateTable('bans')
        .set({ expires_at: at(DAY), bantime: DAY })
        .where('id', '=', extendedId)
        .execute()

      const resync = resyncLine(await readdbOk(fw, '--resync'))
      expect(resync).toMatchObject({ reason: 'requested', refreshed: 2, added: 0, removed: 0, drift: 2 })
      set = await kernel(fw, c.backend)
      expect(set.get(shortened)?.expires).toBeGreaterThan(HOUR - MINUTE)
      expect(set.get(extended)?.expires).toBeGreaterThan(DAY - MINUTE)
      expect(set.get(permanent)).toEqual({ timeout: null, expires: null })
      const stored = await central.db.selectFrom('hosts').select(['resync_drift', 'firewall_entries']).where('name', '=', fw.name).executeTakeFirstOrThrow()
      expect(Number(stored.resync_drift)).toBe(2)
      expect(Number(stored.firewall_entries)).toBe(set.size)
    })

    it('a batch with hostile rows and valid bans: the valid ones are in the set (1), the hostile ones 3 and never in the tool input; the set holds nothing else', async () => {
      await readdbOk(fw)
      const before = await kernel(fw, c.backend)
      // Shell or nft text, everything, a newline, an element option, host bits set, canonical but far too wide.
      const hostile = [`${ip(40)} }; flush ruleset`, '0.0.0.0/0', `${ip(41)}\nflush`, `${ip(42)} timeout 1s`, `${c.net}.0/8`, '10.0.0.0/8']
      const valid = [ip(43), `${c.net}.48/29`, `2001:db8:${c.short === 'nft' ? 13 : 14}::1`]
      const ids = new Map<string, number>()
      for (const v of [...hostile.slice(0, 2), valid[0]!, ...hostile.slice(2), ...valid.slice(1)]) ids.set(v, await plant(v, 0, HOUR))
      const logBefore = readFileSync(fw.toolLog, 'utf8').length
      const run = await readdbOk(fw)
      expect(pollLine(run), run.stdout).toMatchObject({ msg: 'poll', added: valid.length, errors: hostile.length })
      for (const v of valid) expect(await statusOf(fw, ids.get(v)!), v).toEqual({ status: BanStatus.Added, error: null })
      for (const v of hostile) expect((await statusOf(fw, ids.get(v)!))?.status, JSON.stringify(v)).toBe(BanStatus.Error)
      const after = await kernel(fw, c.backend)
      expect([...after.keys()].sort()).toEqual([...new Set([...before.keys(), ...valid])].sort())
      const input = readFileSync(fw.toolLog, 'utf8').slice(logBefore)
      for (const v of valid) expect(input).toContain(v)
      for (const bad of ['flush ruleset', '0.0.0.0/0', '\nflush\n', 'timeout 1s', `${c.net}.0/8`, '10.0.0.0/8']) expect(input).not.toContain(bad)
    })

    it('a ban that expired before the host saw it is 5 and never reaches the set; a revoked one is 4 and leaves the set', async () => {
      const expired = await plant(ip(50), -HOUR, -MINUTE)
      const revoked = await plant(ip(51), 0, HOUR)
      await readdbOk(fw)
      expect(await statusOf(fw, expired)).toEqual({ status: BanStatus.Expired, error: null })
      expect(await statusOf(fw, revoked)).toEqual({ status: BanStatus.Added, error: null })
      expect(await inSet(fw, ip(50))).toBeUndefined()
      expect(await inSet(fw, ip(51))).toBeDefined()

      const unban = await runCli(['unban', ip(51), '--config', opsConfig])
      expect(unban.code, unban.stderr).toBe(0)
      const run = await readdbOk(fw)
      expect(pollLine(run), run.stdout).toMatchObject({ msg: 'poll', removed: 1 })
      expect(await statusOf(fw, revoked)).toEqual({ status: BanStatus.Removed, error: null })
      expect(await inSet(fw, ip(51))).toBeUndefined()
    })

    it('scheduled resync (firewall.resyncMinutes 10) in one-shot runs: due when the stored last resync is older than the period, not otherwise', async () => {
      const addr = ip(60)
      await plant(addr, 0, HOUR)
      await readdbOk(fw)
      expect(await inSet(fw, addr)).toBeDefined()
      // Drift the schedule can find: the entry taken out by hand.
      const del = c.backend === 'ipset' ? ['ipset', 'del', 'f2b-central-v4', addr] : ['nft', 'delete', 'element', 'inet', 'f2b_central', 'bans_v4_addr', `{ ${addr} }`]
      expect((await lan.exec(fw.ns, del)).code).toBe(0)
      const lastResync = (seconds: number) =>
        central.db
          .updateTable('hosts')
          .set({ resynced_at: at(seconds) })
          .where('name', '=', fw.name)
          .execute()

      await lastResync(-9 * MINUTE)
      const early = await readdbOk(fw)
      expect(resyncLine(early), early.stdout).toBeUndefined()
      expect(await inSet(fw, addr)).toBeUndefined()

      await lastResync(-11 * MINUTE)
      const due = await readdbOk(fw)
      expect(resyncLine(due), due.stdout).toMatchObject({ reason: 'schedule', added: 1, drift: 1 })
      expect(await inSet(fw, addr)).toBeDefined()
      // Stored anew: the next run is not due.
      expect(resyncLine(await readdbOk(fw))).toBeUndefined()
    })
  })
})

if (!support.ok)
  describe('firewall mode, case by case', () => {
    it(`cannot run: ${support.reason}`, () => {
      requirePrograms('ip', 'nft', 'ipset', 'iptables')
      throw new Error('network namespaces with nftables do not work here: run the suite as root where they do')
    })
  })
