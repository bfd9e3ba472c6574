// Issue 15: f2b-central on a real 3-node MariaDB Galera cluster (test/setup/galera.ts, started
// once for this file on its own loopback ports, never the system's MariaDB):
// - a list of servers: the first that answers, a node outside the Primary component (1047)
//   or a dead one passed over, by the built programs too, and named by check and status;
// - stamping on three nodes at once under certification conflicts: no stamp handed out twice,
//   and cursors read on three nodes meet every ban exactly once;
// - causal reads: a stamp made on node 1 is seen at once by a poll on node 2 while node 2
//   still lags, and decisions recorded there are not lost;
// - a burst of 300 bans from two reporters on two nodes while three hosts poll on three
//   nodes, with `kill -9` of a node in the middle: every ban applied exactly once on every
//   host; the node rejoins and its data matches the others'.
import { randomUUID } from 'node:crypto'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createConnection, type Connection } from 'mysql2/promise'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { parseDatabaseUrls } from '@f2b-central/core/config/database-url'
import type { CentralDb } from '@f2b-central/core/db/db-adapter'
import { migrateToLatest } from '@f2b-central/core/db/migrate'
import { openDatabase } from '@f2b-central/core/db/open-database'
import { storeReport } from '@f2b-central/core/db/queries/bans'
import { registerHost } from '@f2b-central/core/db/queries/hosts'
import { fetchBansAfterCursor } from '@f2b-central/core/db/queries/pending'
import { stampCommittedBans } from '@f2b-central/core/db/queries/sequence'
import { recordDecisions } from '@f2b-central/core/db/queries/statuses'
import { BanStatus } from '@f2b-central/core/schema/ban-status'
import { mysqlRequired } from '../scripts/test-machine.mjs'
import { createFail2banStateDb } from '../scripts/fail2ban-state-db.mjs'
import { waitUntil } from './setup/fail2ban-server.js'
import { commitLargeTransaction, galeraInstallHint, missingGaleraPrograms, startGaleraCluster, type GaleraCluster } from './setup/galera.js'
import { BIN, runProgram, startDaemon, writeHostConfig, type RunningDaemon } from './setup/programs.js'

const missing = missingGaleraPrograms()
if (missing.length > 0) {
  const msg = galeraInstallHint(missing)
  if (mysqlRequired()) throw new Error(`test/galera.test.ts: ${msg}; F2B_REQUIRE_MYSQL=0 skips this file`)
  console.warn(`\n*** test/galera.test.ts SKIPPED: ${msg} ***\n`)
}

const report = (ip: string) => ({ ip, jail: 'sshd', protocol: 'tcp', port: 'ssh', bantime: 3600 })
const DEAD_PORT = 9 // discard: nothing listens on loopback

describe.runIf(missing.length === 0)('a 3-node Galera cluster', () => {
  let cluster: GaleraCluster
  let dir = ''
  const opened: CentralDb[] = []
  const connections: Connection[] = []
  const daemons: RunningDaemon[] = []
  let passwordFile = ''

  /** database.url entries for these nodes (0: a port nothing listens on). */
  const urls = (database: string, ...nodes: number[]) =>
    nodes.map((n) => (n === 0 ? `mysql://${cluster.user}@127.0.0.1:${DEAD_PORT}/${database}` : `mysql://${cluster.user}@127.0.0.1:${cluster.nodes[n - 1]!.port}/${database}`))
  const open = async (database: string, ...nodes: number[]): Promise<CentralDb> => {
    const target = parseDatabaseUrls(urls(database, ...nodes))
    const central = await openDatabase(target.kind === 'mysql' ? { ...target, password: cluster.password } : target, { timeoutMs: 5000, connectionLimit: 8 })
    opened.push(central)
    return central
  }
  /** A plain session on one node, without causal reads: what an unprepared client sees. */
  const plain = async (node: number, database: string): Promise<Connection> => {
    const c = await createConnection({ host: '127.0.0.1', port: cluster.nodes[node - 1]!.port, user: cluster.user, password: cluster.password, database, dateStrings: true })
    connections.push(c)
    return c
  }
  const createDatabase = async (name: string): Promise<CentralDb> => {
    const c = await cluster.connect(1)
    await c.query(`CREATE DATABASE ${name} CHARACTER SET utf8mb4 COLLATE utf8mb4_bin`)
    await c.end()
    const central = await open(name, 1)
    await migrateToLatest(central)
    return central
  }
  const hostConfig = (name: string, database: string, nodes: number[], extra: Record<string, unknown> = {}): string => {
    const f2bDb = join(dir, `${name}-fail2ban.sqlite3`)
    createFail2banStateDb(f2bDb)
    return writeHostConfig({
      dir,
      name,
      dbUrl: '',
      fail2ban: { database: f2bDb },
      extra: { database: { url: urls(database, ...nodes), passwordFile, timeoutSeconds: 5 }, ...extra },
    })
  }

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'f2b-galera-test-'))
    cluster = await startGaleraCluster()
    passwordFile = join(dir, 'db-password')
    writeFileSync(passwordFile, `${cluster.password}\n`, { mode: 0o600 })
  }, 120_000)

  afterAll(async () => {
    for (const d of daemons) d.child.kill('SIGKILL')
    for (const c of connections) await c.end().catch(() => undefined)
    for (const c of opened) await c.close().catch(() => undefined)
    await cluster?.stop()
    rmSync(dir, { recursive: true, force: true })
  }, 60_000)

  it('uses the first server that answers: a dead one and a node outside the Primary component (1047) are passed over, by the programs too', async () => {
    const central = await createDatabase('f2b_list')
    // Node 3 cut off from the others: it stays up, but answers every statement with 1047.
    const n3 = await cluster.connect(3)
    connections.push(n3)
    await n3.query("SET GLOBAL wsrep_provider_options = 'gmcast.isolate=1'")
    try {
      await waitUntil('node 3 to leave the Primary component', async () => (await cluster.status(3)).wsrep_ready === 'OFF', 15_000)
      // Node 3 notices first; the others report a cluster of 2 once they have evicted it.
      await waitUntil(
        'nodes 1 and 2 to evict node 3',
        async () => (await cluster.status(1)).wsrep_cluster_size === '2' && (await cluster.status(2)).wsrep_cluster_size === '2',
        15_000,
      )
      const refused = await plain(3, 'f2b_list').then(
        (c) =>
          c.query('SELECT COUNT(*) FROM hosts').then(
            () => 'answered',
            (err: { errno?: number }) => err.errno,
          ),
        () => 'no connection',
      )
      expect(refused).toBe(1047)

      const listed = await open('f2b_list', 0, 3, 2)
      await registerHost(listed.db, listed.adapter, 'web-list', null)
      expect(listed.serverInUse?.()).toMatchObject({ server: `127.0.0.1:${cluster.nodes[1]!.port}`, position: 3, of: 3, galera: { state: 'Synced', clusterSize: 2 } })
      expect(listed.serverInUse?.()?.skipped.map((s) => s.server)).toEqual([`127.0.0.1:${DEAD_PORT}`, `127.0.0.1:${cluster.nodes[2]!.port}`])
      expect(listed.serverInUse?.()?.skipped[1]?.reason).toMatch(/^Galera node not ready/)

      // The built programs: add2db stores the ban through the third server, check and status name it.
      const config = hostConfig('web-list', 'f2b_list', [3, 0, 1])
      const add = await runProgram(BIN.add2db, ['--config', config, '--jail', 'sshd', '--ip', '192.0.2.150'])
      expect([add.code, add.stderr]).toEqual([0, ''])
      expect(await central.db.selectFrom('bans').select('id').where('ip', '=', '192.0.2.150').execute()).toHaveLength(1)
      const check = await runProgram(BIN.cli, ['check', '--config', config])
      expect(check.stdout).toMatch(
        new RegExp(
          `^OK +database: .* reachable via 127\\.0\\.0\\.1:${cluster.nodes[0]!.port} \\(server 3 of 3 in database\\.url; Galera node Synced, cluster of 2; passed over 127\\.0\\.0\\.1:${cluster.nodes[2]!.port}: Galera node not ready .*, 127\\.0\\.0\\.1:${DEAD_PORT}: connect ECONNREFUSED .*\\), schema up to date`,
          'm',
        ),
      )
      const status = await runProgram(BIN.cli, ['status', '--config', config])
      expect(status.stdout).toMatch(new RegExp(`^database: 127\\.0\\.0\\.1:${cluster.nodes[0]!.port} \\(server 3 of 3`, 'm'))
      // Nothing answers: one error naming every server.
      const none = hostConfig('web-none', 'f2b_list', [0])
      const down = await runProgram(BIN.cli, ['status', '--config', none])
      expect(down.code).toBe(1)
      expect(down.stderr).toMatch(/connect ECONNREFUSED/)
    } finally {
      // Also when an expectation failed: the next tests need all three nodes.
      await n3.query("SET GLOBAL wsrep_provider_options = 'gmcast.isolate=0'")
      await waitUntil(
        'node 3 to rejoin',
        async () => (await cluster.status(3)).wsrep_local_state_comment === 'Synced' && (await cluster.status(1)).wsrep_cluster_size === '3',
        60_000,
      )
    }
  }, 120_000)

  it('stamps handed out on three nodes at once are never handed out twice, and cursors read on three nodes meet every ban exactly once', async () => {
    await createDatabase('f2b_stamp')
    const nodes = [await open('f2b_stamp', 1), await open('f2b_stamp', 2), await open('f2b_stamp', 3)]
    const conflicts = async () => {
      let n = 0
      for (const i of [1, 2, 3]) {
        const s = await cluster.status(i)
        n += Number(s.wsrep_local_cert_failures) + Number(s.wsrep_local_bf_aborts)
      }
      return n
    }
    const conflictsBefore = await conflicts()
    const BANS = 240
    let reported = 0
    // Reporters on nodes 1 and 2, three sessions each.
    const reporters = Array.from({ length: 6 }, async (_, w) => {
      const central = nodes[w % 2]!
      for (let k = w; k < BANS; k += 6) {
        await storeReport(central, `reporter-${w % 2}`, null, report(`198.18.${k >> 8}.${(k & 255) + 1}`))
        reported++
      }
    })
    // Stampers on all three nodes, in small batches so that they overlap often.
    let stamping = true
    const stampers = nodes.flatMap((central) =>
      [0, 1].map(async () => {
        while (stamping) {
          await stampCommittedBans(central, 7)
          await new Promise((r) => setTimeout(r, Math.random() * 5))
        }
      }),
    )
    // Readers: one cursor per node, moved only to stamps read there, as a poll moves its cursor.
    const seen = nodes.map(() => new Map<number, number>())
    const cursors = nodes.map(() => 0)
    const read = async (i: number) => {
      for (;;) {
        const fresh = await fetchBansAfterCursor(nodes[i]!.db, nodes[i]!.adapter, 999_999, cursors[i]!, 50)
        for (const b of fresh) seen[i]!.set(b.id, (seen[i]!.get(b.id) ?? 0) + 1)
        const last = fresh[fresh.length - 1]
        if (last) cursors[i] = last.seq
        if (fresh.length < 50) return
      }
    }
    let reading = true
    const readers = nodes.map(async (_, i) => {
      while (reading) {
        await read(i)
        await new Promise((r) => setTimeout(r, Math.random() * 10))
      }
    })
    try {
      await Promise.all(reporters)
      expect(reported).toBe(BANS)
      // Let the stampers finish what is left, then stop them and the readers.
      await waitUntil(
        'every ban to be stamped',
        async () =>
          Number(
            (
              await nodes[0]!.db
                .selectFrom('bans')
                .select((e) => e.fn.countAll().as('n'))
                .where('seq', 'is', null)
                .executeTakeFirstOrThrow()
            ).n,
          ) === 0,
        30_000,
      )
    } finally {
      stamping = false
      reading = false
      await Promise.allSettled([...stampers, ...readers])
    }
    await Promise.all([...stampers, ...readers])
    for (const i of [0, 1, 2]) await read(i)

    const rows = await nodes[2]!.db.selectFrom('bans').select(['id', 'seq']).execute()
    expect(rows).toHaveLength(BANS)
    expect(new Set(rows.map((r) => Number(r.seq))).size).toBe(BANS)
    const [sequence] = await nodes[1]!.db.selectFrom('ban_sequence').select('value').execute()
    expect(Number(sequence?.value)).toBe(Math.max(...rows.map((r) => Number(r.seq))))
    for (const [i, counts] of seen.entries()) {
      expect({ node: i + 1, seen: counts.size, repeated: [...counts.values()].filter((n) => n !== 1).length }).toEqual({ node: i + 1, seen: BANS, repeated: 0 })
    }
    // The race was real: stamping transactions did conflict at commit and were run again.
    expect(await conflicts()).toBeGreaterThan(conflictsBefore)
  }, 120_000)

  describe('causal reads: while node 2 still applies what node 1 committed before', () => {
    let n1: CentralDb
    let n2: CentralDb
    let lagged: Connection
    beforeAll(async () => {
      await createDatabase('f2b_causal')
      n1 = await open('f2b_causal', 1)
      n2 = await open('f2b_causal', 2)
      // What node 2 shows a session without causal reads.
      lagged = await plain(2, 'f2b_causal')
      await lagged.query('SET SESSION wsrep_sync_wait = 0')
    }, 60_000)

    /**
     * Node 2 is made to lag (a large transaction from node 1 to apply), then node 1 reports and
     * stamps a ban, and `onNode2` runs at once. Repeated until node 2 was seen to lag at that
     * moment (so the case was really tested); returns the ban's id and stamp each round.
     */
    const whileNode2Lags = async (onNode2: (ban: { id: number; seq: number }) => Promise<void>) => {
      let lagSeen = false
      for (let round = 0; round < 3 && !lagSeen; round++) {
        await commitLargeTransaction(cluster, 1)
        const { banId } = await storeReport(n1, 'web-reporter', null, report(`192.0.2.${100 + Math.floor(Math.random() * 100)}`), { reportKey: randomUUID() })
        expect(await stampCommittedBans(n1, 10)).toBe(1)
        const stamped = await n1.db.selectFrom('bans').select('seq').where('id', '=', banId).executeTakeFirstOrThrow()
        lagSeen = ((await lagged.query('SELECT id FROM bans WHERE id = ?', [banId]))[0] as unknown[]).length === 0
        await onNode2({ id: banId, seq: Number(stamped.seq) })
      }
      // Without causal reads node 2 answered from before node 1's commit.
      expect(lagSeen).toBe(true)
    }

    it('a poll on node 2 sees the stamp node 1 just handed out', async () => {
      const host = await registerHost(n2.db, n2.adapter, 'web-fetch', null)
      let cursor = host.cursorSeq
      await whileNode2Lags(async (ban) => {
        const fresh = await fetchBansAfterCursor(n2.db, n2.adapter, host.id, cursor, 100)
        expect(fresh.map((b) => b.id)).toContain(ban.id)
        cursor = fresh[fresh.length - 1]!.seq
      })
    }, 120_000)

    it('decisions a poll records on node 2 for a ban it read on node 1 (a poll that moved mid-batch) are kept, and its cursor moves', async () => {
      const host = await registerHost(n2.db, n2.adapter, 'web-record', null)
      await whileNode2Lags(async (ban) => {
        await recordDecisions(n2, host, [{ banId: ban.id, status: BanStatus.Added, error: null, previous: null }], ban.seq)
        const recorded = await n1.db.selectFrom('ban_status').select('status').where('ban_id', '=', ban.id).where('host_id', '=', host.id).executeTakeFirst()
        expect(recorded?.status).toBe(BanStatus.Added)
        const row = await n1.db.selectFrom('hosts').select('cursor_seq').where('id', '=', host.id).executeTakeFirstOrThrow()
        expect(Number(row.cursor_seq)).toBe(ban.seq)
      })
    }, 120_000)
  })

  it('a burst of 300 bans from two reporters on two nodes while three hosts poll on three nodes, node 2 killed in the middle: every ban applied exactly once on every host; node 2 rejoins with the same data', async () => {
    await createDatabase('f2b_burst')
    const central = await open('f2b_burst', 1, 3)
    const daemon = { readdb: { schedule: '* * * * * *', maxBackoffSeconds: 2, batchSize: 40 } }
    // Each host starts at its own node; h2's is the one killed.
    const hosts = {
      h1: hostConfig('h1', 'f2b_burst', [1, 2, 3], daemon),
      h2: hostConfig('h2', 'f2b_burst', [2, 3, 1], daemon),
      h3: hostConfig('h3', 'f2b_burst', [3, 1, 2], daemon),
    }
    const sharedLog = (h: string) => join(dir, `${h}-shared.log`)
    for (const h of Object.keys(hosts)) writeFileSync(sharedLog(h), '')
    for (const config of Object.values(hosts)) daemons.push(startDaemon(config))

    // Two reporters, each with its own server list (h2's starts at the node that is killed): most
    // reports in-process, as add2db makes them (one routine call with an idempotency key),
    // one in fifteen through the built add2db; a ban every 40 ms or so from each.
    const PER_REPORTER = 150
    const ips = { h1: Array.from({ length: PER_REPORTER }, (_, i) => `198.51.100.${i + 1}`), h2: Array.from({ length: PER_REPORTER }, (_, i) => `203.0.113.${i + 1}`) }
    const reporters = { h1: await open('f2b_burst', 1, 2, 3), h2: await open('f2b_burst', 2, 3, 1) }
    const count = async () =>
      Number(
        (
          await central.db
            .selectFrom('bans')
            .select((e) => e.fn.countAll().as('n'))
            .executeTakeFirstOrThrow()
        ).n,
      )
    const programs: Promise<{ code: number; stderr: string; ms: number }>[] = []
    const burst = (['h1', 'h2'] as const).map(async (h) => {
      for (const [i, ip] of ips[h].entries()) {
        if (i % 15 === 7) programs.push(runProgram(BIN.add2db, ['--config', hosts[h], '--jail', 'sshd', '--ip', ip], { timeoutMs: 20_000 }))
        else await storeReport(reporters[h], h, null, report(ip), { reportKey: randomUUID() })
        await new Promise((r) => setTimeout(r, 30 + Math.random() * 20))
      }
    })
    let killedAt = 0
    const killer = (async () => {
      await waitUntil('a third of the burst to be stored', async () => (await count()) >= 100, 60_000, 20)
      cluster.kill(2)
      killedAt = Date.now()
    })()
    await Promise.all([...burst, killer])
    const results = await Promise.all(programs)
    expect(results).toHaveLength(20)
    // Every add2db exits 0; one may have spooled its ban while the cluster evicted node 2 (the
    // deadline across servers is test/add2db.test.ts's; wall times here depend on the machine's load).
    expect(results.filter((r) => r.code !== 0).map((r) => r.stderr)).toEqual([])
    for (const r of results) expect(r.stderr).toMatch(/^(|add2db: warning: ban kept in the local spool .*\n)$/)

    // While node 2 is down, h2 works through node 3 and status says so.
    const during = await runProgram(BIN.cli, ['status', '--config', hosts.h2])
    expect(during.stdout).toMatch(
      new RegExp(
        `^database: 127\\.0\\.0\\.1:${cluster.nodes[2]!.port} \\(server 2 of 3 in database\\.url; Galera node Synced, cluster of 2; passed over 127\\.0\\.0\\.1:${cluster.nodes[1]!.port}: .*ECONNREFUSED`,
        'm',
      ),
    )

    const applied = async () =>
      Number(
        (
          await central.db
            .selectFrom('ban_host_status')
            .select((e) => e.fn.countAll().as('n'))
            .where('host', 'in', ['h1', 'h2', 'h3'])
            .where('status', '=', BanStatus.Added)
            .executeTakeFirstOrThrow()
        ).n,
      )
    await waitUntil('every ban applied on every host', async () => (await applied()) === 3 * 2 * PER_REPORTER, 90_000, 250)
    const rejoined = await cluster.rejoin(2)
    for (const d of daemons.splice(0)) {
      d.child.kill('SIGTERM')
      expect(await d.exited).toBe(0)
    }

    // Exactly 300 bans, each with its own stamp; 900 (ban, host) statuses, all 1.
    const bans = await central.db.selectFrom('bans').select(['id', 'ip', 'seq', 'reporter_id']).execute()
    expect(bans).toHaveLength(2 * PER_REPORTER)
    expect(new Set(bans.map((b) => b.ip)).size).toBe(2 * PER_REPORTER)
    expect(new Set(bans.map((b) => b.seq)).size).toBe(2 * PER_REPORTER)
    expect(bans.filter((b) => b.seq === null)).toEqual([])
    const statuses = await central.db.selectFrom('ban_host_status').select(['ban_id', 'host', 'status']).where('host', 'in', ['h1', 'h2', 'h3']).execute()
    expect(statuses.filter((s) => Number(s.status) !== BanStatus.Added)).toEqual([])
    expect(statuses).toHaveLength(3 * 2 * PER_REPORTER)
    // Each host's shared log holds every ban it did not report, each exactly once.
    for (const h of ['h1', 'h2', 'h3'] as const) {
      const lines = readFileSync(sharedLog(h), 'utf8').trim().split('\n').filter(Boolean)
      const logged = lines.map((l) => /ban (\S+) jail=/.exec(l)?.[1])
      const expected = [...(h === 'h1' ? [] : ips.h1), ...(h === 'h2' ? [] : ips.h2)].sort()
      expect({ host: h, lines: logged.length, addresses: [...new Set(logged)].sort() }).toEqual({ host: h, lines: expected.length, addresses: expected })
    }

    // Node 2 caught up by an incremental transfer and holds what the others hold.
    expect(rejoined.transfer).toBe('IST')
    const checksums = async (node: number) => {
      const c = await plain(node, 'f2b_burst')
      await c.query('SET SESSION wsrep_sync_wait = 1')
      const [rows] = await c.query('CHECKSUM TABLE hosts, bans, ban_status, ban_sequence')
      return (rows as { Table: string; Checksum: number }[]).map((r) => `${r.Table}=${r.Checksum}`)
    }
    const n1 = await checksums(1)
    expect(await checksums(2)).toEqual(n1)
    expect(await checksums(3)).toEqual(n1)
    expect(killedAt).toBeGreaterThan(0)
  }, 240_000)
})
