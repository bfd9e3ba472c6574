// Issue 11, point 1: a burst from one host loses no ban on the default flood limit. A
// botnet makes one host's fail2ban report hundreds of bans a minute; every one of them must
// reach the other hosts' shared jails, and only past the fleet's limit (the migration's
// default, 1000 a minute per host, enforced by the database: f2b_report_ban on MySQL,
// direct-host-writes on SQLite) are further reports held, and shown by `status`.
//
// The reports go through add2db's own code (reportBan, with the host's own database account
// on MySQL) on a connection kept open, exactly as readdb's daemon stores add2db's hand-over
// (packages/readdb/src/handover.ts): 1001 process starts would take minutes on a small
// machine, and the fast path of a real burst is that hand-over anyway. B and C are the built
// readdb against private fail2ban servers.
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { BanReport } from '@f2b-central/core/ban/ban-report'
import { loadConfig } from '@f2b-central/core/config/load-config'
import type { CentralDb } from '@f2b-central/core/db/db-adapter'
import { openDatabase } from '@f2b-central/core/db/open-database'
import { newReportIdentity, reportBan } from '@f2b-central/core/report/report-ban'
import { BanStatus } from '@f2b-central/core/schema/ban-status'
import { fromDbTime } from '@f2b-central/core/time/db-time'
import { createTestDatabase, dialects, type TestDatabase } from './setup/dialects.js'
import { Fail2banServer, waitUntil } from './setup/fail2ban-server.js'
import { BIN, runProgram, writeHostConfig, writeOperatorConfig } from './setup/programs.js'

const SHARED = 'f2b-central-shared'
const BURST = 300
const DEFAULT_LIMIT = 1000

// Distinct documentation-range addresses: 198.18.0.0/15 has room for every report here.
const address = (block: number, i: number) => `198.${18 + block}.${Math.floor(i / 250)}.${(i % 250) + 1}`

describe.each(dialects())('%s: a burst of bans from one host', (dialect) => {
  let tdb: TestDatabase
  let central: CentralDb
  const servers: Record<'b' | 'c', Fail2banServer | undefined> = { b: undefined, c: undefined }
  const configs: Record<string, string> = {}
  let operator: string

  beforeAll(async () => {
    tdb = await createTestDatabase(dialect)
    central = await tdb.openMigrated()
    const started = await Promise.allSettled(
      (['b', 'c'] as const).map((k) =>
        Fail2banServer.start({
          name: `burst-${k}-${dialect}`,
          shippedFiles: true,
          jails: (dir) => `[${SHARED}]\nenabled = true\nlogpath = ${join(dir, 'shared.log')}\nbackend = polling\n`,
          beforeStart: (s) => writeFileSync(s.path('shared.log'), ''),
        }),
      ),
    )
    // Keep whichever started, so afterAll stops it even when the other failed.
    started.forEach((r, i) => {
      if (r.status === 'fulfilled') servers[i === 0 ? 'b' : 'c'] = r.value
    })
    for (const r of started) if (r.status === 'rejected') throw r.reason
    for (const k of ['b', 'c'] as const) {
      const s = servers[k]!
      configs[k] = writeHostConfig({ dir: tdb.dir, name: `burst-${k}`, dbUrl: tdb.url, sharedLog: s.path('shared.log'), fail2ban: { client: s.clientArgv(), sharedJail: SHARED } })
    }
    configs.a = writeHostConfig({ dir: tdb.dir, name: 'burst-a', dbUrl: tdb.url })
    configs.d = writeHostConfig({ dir: tdb.dir, name: 'burst-d', dbUrl: tdb.url })
    operator = writeOperatorConfig({ dir: tdb.dir, dbUrl: tdb.url })
    // Registered before the burst, as a running fleet is: their cursors start before it.
    for (const k of ['b', 'c'] as const) expect(await readdb(k)).toMatchObject({ code: 0, stderr: '' })
  }, 90_000)

  afterAll(async () => {
    await Promise.all(Object.values(servers).map((s) => s?.stop()))
    await central?.close()
    await tdb?.drop()
  })

  const readdb = (k: 'b' | 'c') => runProgram(BIN.readdb, ['--config', configs[k]!], { timeoutMs: 60_000 })
  const cli = (...args: string[]) => runProgram(BIN.cli, [...args, '--config', operator])

  /** Report `ips` one after another as host `k`, on one connection of k's own account; the outcomes' held flags. */
  async function burst(k: 'a' | 'd', ips: readonly string[]): Promise<boolean[]> {
    const config = loadConfig({ path: configs[k] })
    const own = await openDatabase(config.database.target, { timeoutMs: config.database.timeoutMs })
    try {
      const held: boolean[] = []
      for (const ip of ips) {
        const ban: BanReport = { ip, jail: 'sshd', protocol: 'tcp', port: 'ssh', bantime: 3600 }
        const outcome = await reportBan(config, ban, newReportIdentity(), own)
        // Stored, never spooled or refused: a spooled ban would reach nobody within the burst.
        if (outcome.kind !== 'stored') throw new Error(`${ip}: ${outcome.kind}${outcome.kind === 'spooled' ? `: ${outcome.reason}` : ''}`)
        held.push(outcome.held)
      }
      return held
    } finally {
      await own.close()
    }
  }

  it(`${BURST} bans from one host within a minute, default limit: none held, every one applied by B and C in their shared jails`, async () => {
    const ips = Array.from({ length: BURST }, (_, i) => address(0, i))
    const held = await burst('a', ips)
    expect(held.filter(Boolean)).toHaveLength(0)
    const stored = await central.db
      .selectFrom('bans as b')
      .innerJoin('hosts as h', 'h.id', 'b.reporter_id')
      .select((eb) => [eb.fn.countAll<number>().as('n'), eb.fn.count<number>('b.held_at').as('held')])
      .where('h.name', '=', 'burst-a')
      .executeTakeFirstOrThrow()
    expect([Number(stored.n), Number(stored.held)]).toEqual([BURST, 0])

    const [rb, rc] = await Promise.all([readdb('b'), readdb('c')])
    expect([rb.code, rc.code, rb.stderr + rc.stderr]).toEqual([0, 0, ''])
    for (const host of ['burst-b', 'burst-c']) {
      const rows = await central.db.selectFrom('ban_host_status').select(['ip', 'status']).where('host', '=', host).execute()
      expect(
        rows
          .filter((r) => Number(r.status) === BanStatus.Added)
          .map((r) => r.ip)
          .sort(),
        host,
      ).toEqual([...ips].sort())
      expect(rows, host).toHaveLength(BURST)
    }
    for (const k of ['b', 'c'] as const) {
      const s = servers[k]!
      await waitUntil(`all ${BURST} addresses in ${k}'s shared jail`, async () => (await s.bannedIps(SHARED)).length >= BURST, 30_000)
      expect((await s.bannedIps(SHARED)).sort(), k).toEqual([...ips].sort())
    }
    expect((await cli('bans', 'held')).stdout).toBe('no held bans\n')
  }, 120_000)

  it(`the default limit is the boundary: ${DEFAULT_LIMIT} within a minute stored unheld, the next one held and shown by status`, async () => {
    // A host of its own, so the minute's count is exactly what this test reported. The 1001
    // reports must all land within the minute the limit counts (about 10 s here); a machine
    // too starved for that would see the 1001st unheld, not a lost ban.
    const ips = Array.from({ length: DEFAULT_LIMIT + 1 }, (_, i) => address(1, i))
    const held = await burst('d', ips)
    expect(held.slice(0, DEFAULT_LIMIT).filter(Boolean)).toHaveLength(0)
    expect(held[DEFAULT_LIMIT]).toBe(true)
    const last = await central.db.selectFrom('bans').select('held_at').where('ip', '=', ips[DEFAULT_LIMIT]!).executeTakeFirstOrThrow()
    expect(last.held_at).not.toBeNull()

    const text = await cli('status')
    expect(text.stderr).toBe('')
    const since = fromDbTime(String(last.held_at))
    expect(text.stdout).toContain(
      `\nheld: 1 ban from burst-d since ${since.toISOString().slice(0, 19).replace('T', ' ')} (past the flood limit; \`f2b-central bans release --reporter burst-d\` or \`bans drop\`)\n`,
    )
    const json = JSON.parse((await cli('status', '--json')).stdout) as { held: unknown[] }
    expect(json.held).toEqual([{ reporter: 'burst-d', count: 1, since: since.toISOString(), newest: since.toISOString() }])
  }, 120_000)
})
