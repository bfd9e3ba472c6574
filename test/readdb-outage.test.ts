// readdb when the database goes away: one-shot fails with one line; the daemon backs off and
// recovers by itself. MariaDB is cut off through a TCP proxy rather than stopped, because
// other test files use the same server concurrently.
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { sql } from 'kysely'
import { createConnection } from 'mysql2/promise'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { parseDatabaseUrl } from '@f2b-central/core/config/database-url'
import type { CentralDb } from '@f2b-central/core/db/db-adapter'
import { openDatabase } from '@f2b-central/core/db/open-database'
import { insertBan } from '@f2b-central/core/db/queries/bans'
import { BanStatus } from '@f2b-central/core/schema/ban-status'
import { dialects } from './setup/dialects.js'
import { waitUntil } from './setup/fail2ban-server.js'
import { BIN, runProgram, startDaemon } from './setup/programs.js'
import { startProxiedHost, type ProxiedHost } from './setup/proxied-host.js'
import type { TcpProxy } from './setup/tcp-proxy.js'
import { requirePrograms } from '../scripts/test-machine.mjs'

const execFileAsync = promisify(execFile)

const report = (ip: string) => ({ ip, jail: 'sshd', protocol: 'tcp', port: 'ssh', bantime: 3600 })

describe.runIf(dialects().includes('mysql'))('mysql: readdb through a database outage', () => {
  let host: ProxiedHost
  let central: CentralDb
  let proxy: TcpProxy
  let config: string

  beforeAll(async () => {
    host = await startProxiedHost('outage-1', { readdb: { schedule: '* * * * * *', maxBackoffSeconds: 2 } })
    ;({ central, proxy, config } = host)
  })
  afterAll(() => host?.close())

  const statusOf = async (id: number) =>
    Number((await central.db.selectFrom('ban_host_status').select('status').where('ban_id', '=', id).where('host', '=', 'outage-1').executeTakeFirst())?.status ?? -1)

  it('one-shot: exits 1 with one line naming the database', async () => {
    proxy.cut()
    try {
      const r = await runProgram(BIN.readdb, ['--config', config])
      expect(r.code).toBe(1)
      expect(r.stderr).toMatch(/^readdb: database mysql:\/\/\w+@127\.0\.0\.1:\d+\/f2b_test_\w+: .+\n$/)
      expect(r.stderr.trimEnd().split('\n')).toHaveLength(1)
    } finally {
      proxy.restore()
    }
  })

  // Issue 11 point 8: a server that vanishes without a FIN (a cut link, a crashed VM) is
  // noticed by the kernel's keepalive probes on an idle connection. Read from the kernel: ss
  // shows a `keepalive` timer only on sockets that have SO_KEEPALIVE set.
  it("daemon: its database connections have TCP keepalive on (the kernel's keepalive timer)", async () => {
    requirePrograms('ss')
    const { child, output, exited } = startDaemon(config)
    try {
      await waitUntil('a first poll', () => output().includes('"msg":"started"'), 15_000)
      const ownSockets = async () =>
        (await execFileAsync('ss', ['-tnpoH', 'state', 'established', 'dport', '=', `:${proxy.port}`], { timeout: 10_000 })).stdout
          .split('\n')
          .filter((l) => l.includes(`pid=${child.pid},`))
      // A socket with bytes in flight shows its retransmission timer instead: wait for a
      // moment between polls (every second here) when all are idle.
      let last: string[] = []
      await waitUntil(
        'keepalive timers on every database connection of the daemon',
        async () => {
          last = await ownSockets()
          return last.length > 0 && last.every((l) => /timer:\(keepalive,/.test(l))
        },
        15_000,
      ).catch((err: Error) => {
        throw new Error(`${err.message}; ss said:\n${last.join('\n')}`)
      })
      child.kill('SIGTERM')
      expect(await exited).toBe(0)
    } finally {
      child.kill('SIGKILL')
    }
  })

  it('daemon: keeps running while the database is gone, then recovers by itself', async () => {
    const { child, output, exited } = startDaemon(config)
    try {
      const before = await insertBan(central, 'web-1', null, report('192.0.2.61'))
      await waitUntil('the first ban to be applied', async () => (await statusOf(before)) === BanStatus.Added, 15_000)
      proxy.cut()
      await waitUntil('a failed poll to be logged', () => output().includes('"msg":"poll failed"'), 15_000)
      const during = await insertBan(central, 'web-1', null, report('192.0.2.62'))
      await new Promise((r) => setTimeout(r, 1500))
      expect(child.exitCode).toBeNull()
      expect(await statusOf(during)).toBe(BanStatus.Pending)
      proxy.restore()
      await waitUntil('the ban made during the outage to be applied', async () => (await statusOf(during)) === BanStatus.Added, 20_000)
      // The status is committed before the poll returns and logs: wait for the line, do not race it.
      await waitUntil('the recovery to be logged', () => output().includes('"msg":"recovered: polls succeed again"'), 10_000)
      child.kill('SIGTERM')
      expect(await exited).toBe(0)
    } finally {
      proxy.restore()
      child.kill('SIGKILL')
    }
  })
})

// Issue 11 point 8: a poll has a deadline (readdb.pollTimeoutSeconds), MySQL sessions wait a
// bounded time for a table lock, and the daemon says when a tick is skipped.
describe.runIf(dialects().includes('mysql'))('mysql: a poll that cannot finish', () => {
  const POLL_TIMEOUT_S = 3
  let host: ProxiedHost
  let central: CentralDb
  let proxy: TcpProxy
  let config: string

  beforeAll(async () => {
    host = await startProxiedHost('deadline-1', {
      database: { timeoutSeconds: 1 },
      readdb: { schedule: '* * * * * *', maxBackoffSeconds: 2, pollTimeoutSeconds: POLL_TIMEOUT_S },
    })
    ;({ central, proxy, config } = host)
  })
  afterAll(() => host?.close())

  const statusOf = async (id: number) =>
    Number((await central.db.selectFrom('ban_host_status').select('status').where('ban_id', '=', id).where('host', '=', 'deadline-1').executeTakeFirst())?.status ?? -1)

  it('sessions get a metadata-lock wait and a statement time limit', async () => {
    const db = await openDatabase(parseDatabaseUrl(host.tdb.url), { timeoutMs: 2000, statementTimeoutMs: 1500 })
    try {
      const { rows } = await sql<{
        lockWait: number | string
        statement: number | string
      }>`SELECT @@session.lock_wait_timeout AS lockWait, @@session.max_statement_time AS statement`.execute(db.db)
      expect(Number(rows[0]?.lockWait)).toBe(2)
      expect(Number(rows[0]?.statement)).toBe(1.5)
      const started = performance.now()
      await expect(sql`SELECT SLEEP(30)`.execute(db.db)).rejects.toThrow(/max_statement_time exceeded/)
      expect(performance.now() - started).toBeLessThan(10_000)
    } finally {
      await db.close()
    }
  })

  it('one-shot, with `LOCK TABLES bans WRITE` held by another session: exits 1 within the deadline, one line', async () => {
    const id = await insertBan(central, 'web-1', null, report('192.0.2.71'))
    const locker = await createConnection({ uri: host.tdb.url })
    try {
      await locker.query('LOCK TABLES bans WRITE')
      const r = await runProgram(BIN.readdb, ['--config', config], { timeoutMs: 30_000 })
      expect(r.code, r.stderr).toBe(1)
      // not an indefinite wait: the deadline, plus starting up on a busy machine
      expect(r.ms).toBeLessThan((POLL_TIMEOUT_S + 10) * 1000)
      expect(r.stderr).toMatch(/^readdb: (poll: not done within 3 s \(readdb\.pollTimeoutSeconds\)|database mysql:\/\/.*Lock wait timeout exceeded)/)
      expect(r.stderr.trimEnd().split('\n')).toHaveLength(1)
      console.info(`readdb with bans locked: exit ${r.code} after ${Math.round(r.ms)} ms: ${r.stderr.trim()}`)
    } finally {
      await locker.query('UNLOCK TABLES').catch(() => undefined)
      await locker.end()
    }
    expect(await statusOf(id)).toBe(BanStatus.Pending)
    expect((await runProgram(BIN.readdb, ['--config', config])).code).toBe(0)
    expect(await statusOf(id)).toBe(BanStatus.Added)
  }, 60_000)

  it('daemon, the database stops answering mid-poll: the poll fails at its deadline, the skipped tick is logged once, and it recovers', async () => {
    const { child, output, exited } = startDaemon(config)
    const lines = () => output().split('\n').filter(Boolean)
    try {
      const before = await insertBan(central, 'web-1', null, report('192.0.2.72'))
      await waitUntil('the first ban to be applied', async () => (await statusOf(before)) === BanStatus.Added, 15_000)
      const seen = lines().length
      proxy.freeze()
      const during = await insertBan(central, 'web-1', null, report('192.0.2.73'))
      await waitUntil('the stuck poll to fail at its deadline', () => output().includes('not done within 3 s'), (POLL_TIMEOUT_S + 5) * 1000)
      const since = lines().slice(seen)
      const failedAt = since.findIndex((l) => l.includes('"msg":"poll failed"'))
      expect(since[failedAt]).toMatch(/"err":"poll: not done within 3 s \(readdb\.pollTimeoutSeconds\); its database connections were dropped/)
      // ticks every second, the poll stuck for three: the skipped ticks make one warning. Counted
      // from the last poll that finished, because on a busy machine an earlier, merely slow poll
      // has its own warning, and the stuck poll starts only after that poll's line.
      const upToFailure = lines().slice(0, seen + failedAt)
      const lastFinished = upToFailure.findLastIndex((l) => /"msg":"poll[":]/.test(l))
      const skipped = upToFailure.slice(lastFinished + 1).filter((l) => l.includes('tick skipped: previous poll still running for'))
      expect(skipped).toHaveLength(1)
      // How long it had run at the first skipped tick depends on when in a tick the loaded machine started it: 0-2 s.
      expect(skipped[0]).toMatch(/"level":40,.*"runningSeconds":[0-2],.*"msg":"tick skipped: previous poll still running for [0-2]s"/)
      // the next attempts fail too (no handshake within database.timeoutSeconds), and the daemon lives on
      await waitUntil(
        'a second failed poll',
        () =>
          lines()
            .slice(seen)
            .filter((l) => l.includes('"msg":"poll failed"')).length >= 2,
        10_000,
      )
      expect(child.exitCode).toBeNull()
      expect(await statusOf(during)).toBe(BanStatus.Pending)
      proxy.restore()
      await waitUntil('the ban made while frozen to be applied', async () => (await statusOf(during)) === BanStatus.Added, 20_000)
      await waitUntil('the recovery to be logged', () => output().includes('"msg":"recovered: polls succeed again"'), 10_000)
      child.kill('SIGTERM')
      expect(await exited).toBe(0)
    } finally {
      proxy.restore()
      child.kill('SIGKILL')
    }
  }, 60_000)
})
