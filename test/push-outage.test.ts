// Issue 12: what a broker outage costs. A private Mosquitto (its own port, started, killed
// with SIGKILL and restarted by this file; the machine's shared broker is never touched),
// a real fail2ban on host D running readdb --daemon, the built add2db reporting for host E.
// D's schedule ticks every 20 s: while the broker is down its bans come on a tick; once it
// is back they come on a wake-up, which the debug line each poll starts with tells apart.
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { CentralDb } from '@f2b-central/core/db/db-adapter'
import { BROKER_DOWN_MARKER, BROKER_RETRY_MS } from '@f2b-central/core/notify/broker-down'
import { BanStatus } from '@f2b-central/core/schema/ban-status'
import { logLines, pollStarts } from './setup/daemon-log.js'
import { createTestDatabase, dialects, type TestDatabase } from './setup/dialects.js'
import { Fail2banServer, waitUntil } from './setup/fail2ban-server.js'
import { PrivateBroker, silentBroker, uniqueTopic } from './setup/mosquitto.js'
import { BIN, runProgram, startDaemon, writeHostConfig, type RunningDaemon } from './setup/programs.js'

const SHARED = 'f2b-central-shared'
const dialect = dialects().includes('mysql') ? 'mysql' : 'sqlite'

/** Bans the daemon applied so far, by its poll lines. */
function appliedSoFar(daemon: RunningDaemon): number {
  return logLines(daemon).reduce((n, l) => n + (l.msg === 'poll' && typeof l.added === 'number' ? l.added : 0), 0)
}

/** What started the poll that applied the `added`th ban: the poll lines come one at a time (never two polls at once), each after its start line. */
function startedBy(daemon: RunningDaemon, added: number): string | undefined {
  let by: string | undefined
  let seen = 0
  for (const l of logLines(daemon)) {
    if (l.msg === 'poll started') by = l.by as string
    if (l.msg === 'poll' && typeof l.added === 'number' && l.added > 0) {
      seen += l.added
      if (seen >= added) return by
    }
  }
  return undefined
}

// Each test waits for up to two of D's 20 s ticks (and a broker's restart): more than vitest's 60 s
// on a loaded machine.
const SCHEDULE_TEST_MS = 150_000
describe(`${dialect}: push through a broker outage`, () => {
  let tdb: TestDatabase
  let central: CentralDb
  let broker: PrivateBroker
  let server: Fail2banServer
  let daemon: RunningDaemon
  let configD: string
  let configE: string
  const topic = uniqueTopic('outage')

  beforeAll(async () => {
    tdb = await createTestDatabase(dialect)
    central = await tdb.openMigrated()
    broker = await PrivateBroker.start()
    server = await Fail2banServer.start({
      name: 'outage-d',
      shippedFiles: true,
      jails: (dir) => `[${SHARED}]\nenabled = true\nlogpath = ${join(dir, 'shared.log')}\nbackend = polling\n`,
      beforeStart: (s) => writeFileSync(s.path('shared.log'), ''),
    })
    const notify = { mqtt: { url: broker.url, topic } }
    configD = writeHostConfig({
      dir: tdb.dir,
      name: 'host-d',
      dbUrl: tdb.url,
      sharedLog: server.path('shared.log'),
      fail2ban: { client: server.clientArgv(), sharedJail: SHARED },
      extra: { notify, readdb: { schedule: '*/20 * * * * *' } },
    })
    configE = writeHostConfig({ dir: tdb.dir, name: 'host-e', dbUrl: tdb.url, extra: { notify } })
    daemon = startDaemon(configD, { READDB_LOG_LEVEL: 'debug' })
    await waitUntil("D's daemon to subscribe", () => daemon.output().includes(`subscribed to ${topic}/bans`), 20_000)
  }, 120_000)

  afterAll(async () => {
    daemon?.child.kill('SIGKILL')
    await broker?.remove()
    await server?.stop()
    await central?.close()
    await tdb?.drop()
  })

  const statusOnD = async (ip: string) =>
    Number((await central.db.selectFrom('ban_host_status').select('status').where('ip', '=', ip).where('host', '=', 'host-d').executeTakeFirst())?.status ?? -1)
  const report = (ip: string, config = configE) => runProgram(BIN.add2db, ['--config', config, '--jail', 'sshd', '--ip', ip])
  const scheduled = () => pollStarts(daemon, 'schedule').length
  // Right after a tick started: the next one is 20 s away, so a ban applied before it came by push.
  const afterATick = async () => {
    const n = scheduled()
    await waitUntil('a scheduled poll', () => scheduled() > n, 25_000)
  }

  it(
    'push works: a ban on E reaches D on a wake-up',
    async () => {
      await afterATick()
      const n = appliedSoFar(daemon)
      const r = await report('192.0.2.101')
      expect([r.code, r.stderr]).toEqual([0, ''])
      await server.waitForBan(SHARED, '192.0.2.101', 15_000)
      await waitUntil('the poll line', () => startedBy(daemon, n + 1) !== undefined, 10_000)
      expect(startedBy(daemon, n + 1)).toBe('wake-up')
    },
    SCHEDULE_TEST_MS,
  )

  it(
    "broker down: add2db says so once and stays within its bound, D says so once, and the bans arrive on D's schedule",
    async () => {
      await broker.stop()
      await waitUntil('D to notice', () => daemon.output().includes('unreachable'), 15_000)
      await afterATick()
      const n = appliedSoFar(daemon)
      const first = await report('192.0.2.102')
      expect(first.code).toBe(0)
      expect(first.stderr).toMatch(/^add2db: warning: wake-up not sent \(mqtt:\/\/127\.0\.0\.1:\d+: connect ECONNREFUSED [^)]*\); hosts apply the change at their next poll/)
      // The next ones skip the broker without a try and without a word.
      const second = await report('192.0.2.103')
      expect([second.code, second.stderr]).toEqual([0, ''])
      await waitUntil('both on D', async () => (await statusOnD('192.0.2.102')) === BanStatus.Added && (await statusOnD('192.0.2.103')) === BanStatus.Added, 45_000)
      await waitUntil('the poll line', () => startedBy(daemon, n + 2) !== undefined, 10_000)
      expect(startedBy(daemon, n + 1)).toBe('schedule')
      expect(startedBy(daemon, n + 2)).toBe('schedule')
      expect(daemon.output().match(/unreachable/g)).toHaveLength(1)
    },
    SCHEDULE_TEST_MS,
  )

  it(
    'a broker that accepts and never answers costs add2db its bound (100 ms), no more, and the ban is stored',
    async () => {
      const silent = await silentBroker()
      try {
        const configS = writeHostConfig({ dir: tdb.dir, name: 'host-s', dbUrl: tdb.url, extra: { notify: { mqtt: { url: silent.url, topic } } } })
        const r = await report('192.0.2.110', configS)
        expect(r.code).toBe(0)
        const waited = /no answer from mqtt:\/\/127\.0\.0\.1:\d+ within (\d+) ms/.exec(r.stderr)
        expect(waited?.[1]).toBe('100')
        const stored = await central.db.selectFrom('ban_host_status').select('status').where('ip', '=', '192.0.2.110').where('host', '=', 'host-s').executeTakeFirst()
        expect(Number(stored?.status)).toBe(BanStatus.Added)
        // D applies it at its next tick (its wake-up never went out); the next test counts from there.
        await waitUntil('D to apply it', async () => (await statusOnD('192.0.2.110')) === BanStatus.Added, 30_000)
        await waitUntil('the poll line', () => startedBy(daemon, appliedSoFar(daemon)) === 'schedule', 10_000)
      } finally {
        await silent.close()
      }
    },
    SCHEDULE_TEST_MS,
  )

  it(
    'broker back: D resubscribes by itself, and once the note is past add2db wakes D again (no restart)',
    async () => {
      await broker.start()
      await waitUntil('D to reconnect', () => daemon.output().includes('reachable again: push resumes'), 20_000)
      // The note add2db left holds 30 s: played as if they had passed.
      const note = join(tdb.dir, 'host-e-spool', BROKER_DOWN_MARKER)
      writeFileSync(note, `${new Date(Date.now() - BROKER_RETRY_MS - 1000).toISOString()}\nconnect ECONNREFUSED\n`, { mode: 0o600 })
      await afterATick()
      const n = appliedSoFar(daemon)
      const r = await report('192.0.2.104')
      expect([r.code, r.stderr]).toEqual([0, ''])
      await server.waitForBan(SHARED, '192.0.2.104', 15_000)
      await waitUntil('the poll line', () => startedBy(daemon, n + 1) !== undefined, 10_000)
      expect(startedBy(daemon, n + 1)).toBe('wake-up')
      expect(daemon.child.exitCode).toBeNull()
    },
    SCHEDULE_TEST_MS,
  )
})
