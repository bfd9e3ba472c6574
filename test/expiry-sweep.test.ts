// Issue 11, point 7: the expiry sweep (a local ban ends with the fleet's) works through any
// number of bans that expire together in bounded pages and bounded fail2ban-client calls,
// and its mark advances. Before, 60,000 of them were one query and one command line, and
// every poll failed (`spawn E2BIG`, or SQLite's "too many SQL variables") without the sweep
// ever moving on. The built readdb, on every dialect.
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { CentralDb } from '@f2b-central/core/db/db-adapter'
import { registerHost } from '@f2b-central/core/db/queries/hosts'
import { BanStatus } from '@f2b-central/core/schema/ban-status'
import { fromDbTime, toDbTime } from '@f2b-central/core/time/db-time'
import { createTestDatabase, dialects, type TestDatabase } from './setup/dialects.js'
import { Fail2banServer } from './setup/fail2ban-server.js'
import { BIN, runProgram, writeHostConfig } from './setup/programs.js'

const SHARED = 'f2b-central-shared'
const N = 60_000
const PER_SECOND = 1000
// Long IPv6 addresses, canonical: 60,000 of them in one command line are past the kernel's
// bound (about 2.7 MB of arguments against 2 MB).
const address = (i: number) => `2001:db8:ffff:ffff:ffff:ffff:${((i >> 16) + 1).toString(16)}:${(i & 0xffff).toString(16)}`
const ago = (seconds: number) => toDbTime(new Date(Date.now() - seconds * 1000))

/** Store expired bans straight into the tables (a real report takes a process each), applied (1) by `hostId`. */
async function storeExpiredApplied(central: CentralDb, o: { reporterId: number; hostId: number; ips: string[]; expiresAt: (i: number) => string; jail: string }): Promise<void> {
  const { db } = central
  const { value: last } = await db.selectFrom('ban_sequence').select('value').where('id', '=', 1).executeTakeFirstOrThrow()
  for (let i = 0; i < o.ips.length; i += 1000) {
    const rows = o.ips.slice(i, i + 1000).map((ip, k) => {
      const n = i + k
      return {
        ip,
        jail: o.jail,
        protocol: 'tcp',
        port: 'ssh',
        reporter_id: o.reporterId,
        bantime: 3600,
        seq: Number(last) + 1 + n,
        created_at: ago(7200),
        expires_at: o.expiresAt(n),
      }
    })
    await db.insertInto('bans').values(rows).execute()
  }
  const top = Number(last) + o.ips.length
  await db.updateTable('ban_sequence').set({ value: top }).where('id', '=', 1).execute()
  await db
    .insertInto('ban_status')
    .columns(['ban_id', 'host_id', 'status'])
    .expression((eb) =>
      eb
        .selectFrom('bans')
        .select((s) => ['id', s.val(o.hostId).as('host_id'), s.val(BanStatus.Added).as('status')])
        .where('jail', '=', o.jail),
    )
    .execute()
  // The host has seen them all (its cursor is past them): only the sweep has work to do.
  await db.updateTable('hosts').set({ cursor_seq: top }).where('id', '=', o.hostId).execute()
}

describe.each(dialects())('%s: the expiry sweep in bounded pages and calls', (dialect) => {
  let tdb: TestDatabase
  let central: CentralDb
  let f2b: Fail2banServer | undefined

  beforeAll(async () => {
    tdb = await createTestDatabase(dialect)
    central = await tdb.openMigrated()
  })
  afterAll(async () => {
    await f2b?.stop()
    await central?.close()
    await tdb?.drop()
  })

  const sweptUntil = async (name: string) => {
    const row = await central.db.selectFrom('hosts').select('swept_until').where('name', '=', name).executeTakeFirstOrThrow()
    return row.swept_until === null ? null : fromDbTime(String(row.swept_until))
  }

  it(`${N.toLocaleString('en')} applied bans expiring within a minute: every address taken out, at most 500 per fail2ban-client call, the mark advancing poll by poll`, async () => {
    // A stand-in for fail2ban-client that records each call's command and number of
    // arguments: 60,000 real unbans (and the bans before them) would take minutes. That the
    // real fail2ban takes a full call of 500 is checked in the next test.
    const calls = join(tdb.dir, 'calls')
    const unbanned = join(tdb.dir, 'unbanned')
    writeFileSync(calls, '')
    writeFileSync(unbanned, '')
    const client = ['sh', '-c', `echo "$1 $2 $3 $#" >> ${calls}; shift 3; printf '%s\\n' "$@" >> ${unbanned}`, 'fail2ban-client']
    const config = writeHostConfig({ dir: tdb.dir, name: 'sweeper', dbUrl: tdb.url, fail2ban: { client, sharedJail: SHARED } })
    expect((await runProgram(BIN.readdb, ['--config', config])).code).toBe(0)
    const reporter = await registerHost(central.db, central.adapter, 'web-1', null)
    const host = await registerHost(central.db, central.adapter, 'sweeper', null)
    // The last sweep was two minutes ago; since then 60,000 bans ran out, 1,000 a second.
    await central.db
      .updateTable('hosts')
      .set({ swept_until: ago(120) })
      .where('id', '=', host.id)
      .execute()
    const ips = Array.from({ length: N }, (_, i) => address(i))
    await storeExpiredApplied(central, { reporterId: reporter.id, hostId: host.id, ips, jail: 'sweep', expiresAt: (i) => ago(90 - Math.floor(i / PER_SECOND)) })
    const end = fromDbTime(ago(90 - (N - 1) / PER_SECOND))

    const polls: { ended: number; mark: Date }[] = []
    for (let i = 0; i < 20; i++) {
      const r = await runProgram(BIN.readdb, ['--config', config], { timeoutMs: 120_000 })
      expect([r.code, r.stderr]).toEqual([0, ''])
      if (r.stdout === '') break
      polls.push({ ended: Number((JSON.parse(r.stdout) as { endedLocally: number }).endedLocally), mark: (await sweptUntil('sweeper'))! })
    }
    const perCall = readFileSync(calls, 'utf8').trim().split('\n')
    for (const call of perCall) expect(call).toMatch(/^set f2b-central-shared unbanip \d+$/)
    const sizes = perCall.map((c) => Number(c.split(' ').pop()) - 3)
    expect(Math.max(...sizes)).toBe(500)
    expect(sizes.reduce((a, b) => a + b, 0)).toBe(N)
    expect(new Set(readFileSync(unbanned, 'utf8').trim().split('\n'))).toEqual(new Set(ips))
    // Several polls, each ending a bounded share; the mark moves with each and ends past the last expiry.
    expect(polls.length).toBeGreaterThan(1)
    expect(polls.reduce((a, p) => a + p.ended, 0)).toBe(N)
    for (const p of polls) expect(p.ended).toBeLessThanOrEqual(11_000)
    for (let i = 1; i < polls.length; i++) expect(polls[i]!.mark.getTime()).toBeGreaterThan(polls[i - 1]!.mark.getTime())
    expect(polls[0]!.mark.getTime()).toBeLessThan(end.getTime())
    expect(polls[polls.length - 1]!.mark.getTime()).toBeGreaterThanOrEqual(end.getTime())
  }, 300_000)

  it('a real fail2ban takes a full call: 501 expired addresses leave the shared jail in two calls', async () => {
    f2b = await Fail2banServer.start({
      name: `sweep-${dialect}`,
      shippedFiles: true,
      jails: (dir) => `[${SHARED}]\nenabled = true\nlogpath = ${join(dir, 'shared.log')}\nbackend = polling\n`,
      beforeStart: (s) => writeFileSync(s.path('shared.log'), ''),
    })
    const config = writeHostConfig({
      dir: tdb.dir,
      name: 'sweeper-2',
      dbUrl: tdb.url,
      sharedLog: f2b.path('shared.log'),
      fail2ban: { client: f2b.clientArgv(), sharedJail: SHARED },
    })
    expect((await runProgram(BIN.readdb, ['--config', config])).code).toBe(0)
    const host = await registerHost(central.db, central.adapter, 'sweeper-2', null)
    const reporter = await registerHost(central.db, central.adapter, 'web-1', null)
    const ips = Array.from({ length: 501 }, (_, i) => `10.77.${i >> 8}.${i & 255}`)
    for (let i = 0; i < ips.length; i += 500) await f2b.client('set', SHARED, 'banip', ...ips.slice(i, i + 500))
    expect(await f2b.bannedIps(SHARED)).toHaveLength(501)
    await central.db
      .updateTable('hosts')
      .set({ swept_until: ago(60) })
      .where('id', '=', host.id)
      .execute()
    await storeExpiredApplied(central, { reporterId: reporter.id, hostId: host.id, ips, jail: 'sweep-real', expiresAt: () => ago(30) })
    const r = await runProgram(BIN.readdb, ['--config', config])
    expect([r.code, r.stderr]).toEqual([0, ''])
    expect(JSON.parse(r.stdout)).toMatchObject({ endedLocally: 501 })
    expect(await f2b.bannedIps(SHARED)).toEqual([])
  })
})
