// f2b-central status, as built, on every dialect: per-host last seen, pending count (after
// the cursor, unstamped, retries), oldest pending, bans a local failure keeps pending (with
// the latest such error), errors in the last day, stale flag, and the exit code a
// monitoring check reads.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { CentralDb } from '@f2b-central/core/db/db-adapter'
import { BanStatus } from '@f2b-central/core/schema/ban-status'
import { fromDbTime } from '@f2b-central/core/time/db-time'
import { createTestDatabase, dialects, type TestDatabase } from './setup/dialects.js'
import { at, DAY, HOUR, MINUTE, runCli, seedBan, seedHosts, seedStatus } from './setup/operator.js'
import { writeOperatorConfig } from './setup/programs.js'

const ENOSPC = 'cannot append to shared log /var/log/f2b-central/shared.log: ENOSPC: no space left on device, write'

describe.each(dialects())('%s: f2b-central status', (dialect) => {
  let tdb: TestDatabase
  let central: CentralDb
  let config: string
  let ids: Record<string, number>
  const status = (...args: string[]) => runCli(['status', ...args, '--config', config])

  beforeAll(async () => {
    tdb = await createTestDatabase(dialect)
    central = await tdb.openMigrated()
    config = writeOperatorConfig({ dir: tdb.dir, dbUrl: tdb.url })
    ids = await seedHosts(central, [
      { name: 'web-1', seen: 0, cursor: 3 },
      { name: 'web-2', seen: -HOUR, cursor: 0 },
      { name: 'web-3', seen: -30, cursor: 1 },
    ])
    const { 'web-1': w1 = 0, 'web-2': w2 = 0, 'web-3': w3 = 0 } = ids
    const b1 = await seedBan(central, { ip: '203.0.113.1', reporterId: w1, created: -10 * MINUTE, seq: 1 })
    const b2 = await seedBan(central, { ip: '203.0.113.2', reporterId: w1, created: -5 * MINUTE, seq: 2 })
    const b3 = await seedBan(central, { ip: '203.0.113.3', reporterId: w1, created: -2 * MINUTE, seq: 3 })
    const b4 = await seedBan(central, { ip: '203.0.113.4', reporterId: w1, created: -1 * MINUTE })
    for (const b of [b1, b2, b3, b4]) await seedStatus(central, b, w1, BanStatus.Added)
    await seedStatus(central, b1, w2, BanStatus.Error, { updated: -2 * DAY, error: 'old' })
    await seedStatus(central, b1, w3, BanStatus.Pending)
    await seedStatus(central, b3, w3, BanStatus.Error, { updated: -MINUTE, error: 'refused: invalid jail' })
    // Kept pending by a full disk (issue 11, point 4): still pending, retried, and shown.
    await seedStatus(central, b4, w3, BanStatus.Pending, { updated: -10 * MINUTE, error: 'cannot unban locally: fail2ban-client failed' })
    await seedStatus(central, b2, w3, BanStatus.Pending, { updated: -2 * MINUTE, error: ENOSPC })
    // As the pollers' stamping left it: the last stamp handed out is 3.
    await central.db.updateTable('ban_sequence').set({ value: 3 }).where('id', '=', 1).execute()
  })
  afterAll(async () => {
    await central?.close()
    await tdb?.drop()
  })

  it('lists every host with pending work, errors and staleness, and exits 1', async () => {
    const r = await status()
    expect(r.stderr).toBe('')
    expect(r.code).toBe(1)
    const lines = r.stdout.trim().split('\n')
    expect(lines[0]).toMatch(/^HOST +LAST SEEN +PENDING +OLDEST PENDING +RETRYING +ERRORS 24H +STATE$/)
    expect(lines[1]).toMatch(/^web-1 +\ds ago +0 +- +0 +0 +ok$/)
    expect(lines[2]).toMatch(/^web-2 +(59m|1h) ago +3 +5m +0 +0 +STALE$/)
    // Seen 30 s ago, yet a ban has waited 10 minutes for it: alive but not applying.
    expect(lines[3]).toMatch(/^web-3 +3\ds ago +3 +10m +2 +1 +STUCK,RETRYING,ERRORS$/)
    expect(lines[4]).toBe(`web-3: 2 pending after a local failure; latest 2m ago: ${ENOSPC}`)
    expect(lines[5]).toBe('3 hosts: 1 stale (not seen for more than 5m), 1 with errors in the last day, 1 retrying after a local failure, 1 stuck')
  })

  it('--json gives the same per host, with ages in seconds', async () => {
    const r = await status('--json')
    expect(r.code).toBe(1)
    const s = JSON.parse(r.stdout) as { healthy: boolean; staleHosts: number; hostsWithErrors: number; hosts: Record<string, unknown>[] }
    expect(s).toMatchObject({ healthy: false, staleHosts: 1, hostsWithErrors: 1, hostsRetrying: 1, staleAfterSeconds: 300 })
    const [w1, w2, w3] = s.hosts
    expect(w1).toMatchObject({ name: 'web-1', pending: 0, oldestPendingAt: null, pendingWithErrors: 0, latestPendingError: null, errorsLastDay: 0, stale: false })
    expect(w2).toMatchObject({ name: 'web-2', pending: 3, errorsLastDay: 0, stale: true })
    expect(w2!.oldestPendingSeconds).toBeGreaterThanOrEqual(5 * MINUTE - 5)
    expect(w2!.oldestPendingSeconds).toBeLessThan(5 * MINUTE + 30)
    expect(w2!.secondsSinceSeen).toBeGreaterThanOrEqual(HOUR - 5)
    expect(w3).toMatchObject({ name: 'web-3', pending: 3, pendingWithErrors: 2, latestPendingError: { error: ENOSPC }, errorsLastDay: 1, stale: false })
    expect((w3!.latestPendingError as { seconds: number }).seconds).toBeGreaterThanOrEqual(2 * MINUTE - 5)
    expect(w3!.oldestPendingSeconds).toBeGreaterThanOrEqual(10 * MINUTE - 5)
  })

  it('--stale-after moves the threshold; a fleet without stale hosts, errors or local failures exits 0', async () => {
    const lenient = await status('--stale-after', '2h', '--json')
    expect(JSON.parse(lenient.stdout)).toMatchObject({ staleHosts: 0, hostsWithErrors: 1, hostsRetrying: 1 })
    expect(lenient.code).toBe(1)
    await central.db
      .updateTable('ban_status')
      .set({ status: BanStatus.Added, error: null, updated_at: at(0) })
      .where('status', '=', BanStatus.Error)
      .where('host_id', '=', ids['web-3']!)
      .execute()
    const retrying = await status('--stale-after', '2h', '--json')
    expect(JSON.parse(retrying.stdout)).toMatchObject({ hostsWithErrors: 0, hostsRetrying: 1, healthy: false })
    expect(retrying.code).toBe(1)
    // The next poll that gets through clears the error with the status.
    await central.db
      .updateTable('ban_status')
      .set({ status: BanStatus.Added, error: null, updated_at: at(0) })
      .where('status', '=', BanStatus.Pending)
      .where('error', 'is not', null)
      .execute()
    const healthy = await status('--stale-after', '2h')
    expect(healthy.code, healthy.stdout + healthy.stderr).toBe(0)
    expect(healthy.stdout).toMatch(/3 hosts: 0 stale \(not seen for more than 2h\), 0 with errors in the last day, 0 retrying after a local failure, 0 stuck\n$/)
  })

  it('a cursor ahead of the sequence is never ok: the host would skip every ban stamped until it catches up', async () => {
    await central.db.updateTable('hosts').set({ cursor_seq: 1_000_000 }).where('id', '=', ids['web-1']!).execute()
    try {
      const r = await status('--stale-after', '2h')
      expect(r.code).toBe(1)
      expect(r.stdout).toMatch(/\nweb-1 +\S+ ago +0 +- +0 +0 +STUCK\n/)
      expect(JSON.parse((await status('--stale-after', '2h', '--json')).stdout).hosts[0]).toMatchObject({ name: 'web-1', cursorAhead: true, pending: 0 })
    } finally {
      await central.db.updateTable('hosts').set({ cursor_seq: 3 }).where('id', '=', ids['web-1']!).execute()
    }
  })

  it('held bans: one line per reporter with the count and since when (the most first), in --json too; applied by nobody, so pending nowhere and not unhealthy', async () => {
    const pendingOf = async () =>
      (JSON.parse((await status('--stale-after', '2h', '--json')).stdout) as { hosts: { name: string; pending: number }[] }).hosts.map((h) => [h.name, h.pending])
    const pendingBefore = await pendingOf()
    // As f2b_report_ban stores them past the flood limit: unstamped, held_at the time it held them.
    const held = [
      { ip: '198.51.100.1', reporter: 'web-3', at: at(-30) },
      { ip: '198.51.100.2', reporter: 'web-2', at: at(-3 * MINUTE) },
      { ip: '198.51.100.3', reporter: 'web-2', at: at(-MINUTE) },
    ]
    const heldIds: number[] = []
    for (const h of held) {
      const id = await seedBan(central, { ip: h.ip, reporterId: ids[h.reporter]!, created: -3 * MINUTE })
      await central.db.updateTable('bans').set({ held_at: h.at }).where('id', '=', id).execute()
      await seedStatus(central, id, ids[h.reporter]!, BanStatus.Added)
      heldIds.push(id)
    }
    try {
      const r = await status('--stale-after', '2h')
      // Stored, listed, waiting for an operator: not a failure of any host.
      expect(r.code, r.stdout + r.stderr).toBe(0)
      const shown = (text: string) => fromDbTime(text).toISOString().slice(0, 19).replace('T', ' ')
      const lines = r.stdout.trimEnd().split('\n')
      expect(lines.slice(-2)).toEqual([
        `held: 2 bans from web-2 since ${shown(held[1]!.at)} (past the flood limit; \`f2b-central bans release --reporter web-2\` or \`bans drop\`)`,
        `held: 1 ban from web-3 since ${shown(held[0]!.at)} (past the flood limit; \`f2b-central bans release --reporter web-3\` or \`bans drop\`)`,
      ])
      const json = JSON.parse((await status('--stale-after', '2h', '--json')).stdout) as { held: unknown; healthy: boolean }
      expect(json).toMatchObject({ healthy: true })
      expect(json.held).toEqual([
        { reporter: 'web-2', count: 2, since: fromDbTime(held[1]!.at).toISOString(), newest: fromDbTime(held[2]!.at).toISOString() },
        { reporter: 'web-3', count: 1, since: fromDbTime(held[0]!.at).toISOString(), newest: fromDbTime(held[0]!.at).toISOString() },
      ])
      expect(await pendingOf()).toEqual(pendingBefore)
    } finally {
      await central.db.deleteFrom('ban_status').where('ban_id', 'in', heldIds).execute()
      await central.db.deleteFrom('bans').where('id', 'in', heldIds).execute()
    }
    expect(JSON.parse((await status('--json')).stdout).held).toEqual([])
  })
})

// Argument errors need no database: checked once, before any config is read.
describe.concurrent('f2b-central status arguments', () => {
  it.each([
    [['--stale-after', '5x'], /^f2b-central: status: invalid --stale-after "5x": expected a duration/],
    [['--stale-after', '0'], /^f2b-central: status: invalid --stale-after "0": must be longer than 0 seconds/],
    [['--frobnicate'], /^f2b-central: status: Unknown option '--frobnicate'/],
    [['extra'], /^f2b-central: status: Unexpected argument 'extra'/],
  ])('%j: exit 2 with one line', async (args, message) => {
    const r = await runCli(['status', ...args, '--config', '/nonexistent.yml'])
    expect(r.code, r.stderr).toBe(2)
    expect(r.stderr).toMatch(message)
    expect(r.stderr.trim().split('\n')).toHaveLength(1)
    expect(r.stdout).toBe('')
  })

  it('--help prints the usage and exits 0', async () => {
    const r = await runCli(['status', '--help'])
    expect(r).toMatchObject({ code: 0, stderr: '' })
    expect(r.stdout).toMatch(/^usage: f2b-central status/)
  })
})
