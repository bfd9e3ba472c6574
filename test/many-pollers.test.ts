// Issue 4, "a thousand hosts polling": a thousand hosts' polls and a stream of reports on one
// MariaDB at once, as concurrent sessions of one process (a thousand processes would not fit
// on this machine; the database sees the same interleaving of transactions). No deadlock may
// happen at all (retrying hides them, so the test counts what the retry loop saw), and every
// (ban, host) must end with exactly one status.
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { parseDatabaseUrl } from '@f2b-central/core/config/database-url'
import type { CentralDb } from '@f2b-central/core/db/db-adapter'
import { openDatabase } from '@f2b-central/core/db/open-database'
import { insertBan } from '@f2b-central/core/db/queries/bans'
import { SqliteBanState } from '@f2b-central/core/fail2ban/sqlite-ban-state'
import { pollOnce } from '@f2b-central/core/poll/poll'
import { createFail2banStateDb } from '../scripts/fail2ban-state-db.mjs'
import { createTestDatabase, dialects, type TestDatabase } from './setup/dialects.js'

const HOSTS = 1000
const REPORTERS = 10
const BANS_PER_REPORTER = 5

describe.runIf(dialects().includes('mysql'))(`mysql: ${HOSTS} hosts polling while ${REPORTERS} report`, () => {
  let tdb: TestDatabase
  let central: CentralDb

  beforeAll(async () => {
    tdb = await createTestDatabase('mysql')
    await (await tdb.openMigrated()).close()
    // One pool shared by every simulated host: 30 sessions, well under max_connections. As
    // root, the one exception to "each host its own account" (test/setup/database-logins.ts):
    // an account speaks for one host only, and a thousand accounts with a pool each would not
    // fit. An unbound account goes through the same host routines, naming the host itself.
    const opened = await openDatabase(parseDatabaseUrl(tdb.url), { timeoutMs: 10_000, connectionLimit: 30 })
    central = { ...opened, adapter: { ...opened.adapter, isRetryable: countRetries(opened.adapter.isRetryable) }, close: () => opened.close() }
  })
  afterAll(async () => {
    await central?.close()
    await tdb?.drop()
  })

  it('no deadlock surfaces and every (ban, host) ends with one status', async () => {
    const state = join(tdb.dir, 'fail2ban.sqlite3')
    createFail2banStateDb(state)
    const banState = new SqliteBanState(state)
    const poll = (i: number) =>
      pollOnce({ central, hostName: `poller-${i}`, machineId: null, banState, sharedLog: join(tdb.dir, `poller-${i}.log`), recentBanFraction: 0.4, batchSize: 1000 })
    const reports = Array.from({ length: REPORTERS }, async (_, r) => {
      for (let b = 0; b < BANS_PER_REPORTER; b++)
        await insertBan(central, `reporter-${r}`, null, { ip: `198.51.100.${r * BANS_PER_REPORTER + b + 1}`, jail: 'sshd', protocol: 'tcp', port: 'ssh', bantime: 3600 })
    })
    const polls = Array.from({ length: HOSTS }, (_, i) => poll(i))
    const settled = await Promise.allSettled([...reports, ...polls])
    expect(settled.filter((s) => s.status === 'rejected').map((s) => String((s as PromiseRejectedResult).reason))).toEqual([])

    // Everyone polls once more to pick up what was committed after their first poll.
    const second = await Promise.allSettled(Array.from({ length: HOSTS }, (_, i) => poll(i)))
    expect(second.filter((s) => s.status === 'rejected').map((s) => String((s as PromiseRejectedResult).reason))).toEqual([])

    const bans = REPORTERS * BANS_PER_REPORTER
    const rows = await central.db.selectFrom('ban_status').select(['ban_id', 'host_id', 'status']).execute()
    // Each poller has a status for every ban, each reporter its own 1: no row lost, none doubled (the key forbids it).
    expect(rows).toHaveLength(bans * HOSTS + bans)
    expect(rows.filter((r) => Number(r.status) !== 1)).toEqual([])
    expect(retried).toEqual([])
  }, 300_000)

  // The two deadlocks this design removes, provoked on purpose: new hosts registering in the
  // same index gap, and reports inserting while pollers stamp.
  it('new reporters registering and reporting while pollers stamp: no deadlock at all', async () => {
    retried.length = 0
    const state = join(tdb.dir, 'fail2ban-stamp.sqlite3')
    createFail2banStateDb(state)
    const banState = new SqliteBanState(state)
    let reporting = true
    const reports = Array.from({ length: 20 }, async (_, r) => {
      for (let b = 0; b < 30; b++) await insertBan(central, `burst-${r}`, null, { ip: `203.0.113.${b + 1}`, jail: `j${r}`, protocol: 'tcp', port: 'ssh', bantime: 3600 })
    })
    const polls = Array.from({ length: 10 }, async (_, i) => {
      while (reporting)
        await pollOnce({ central, hostName: `stamper-${i}`, machineId: null, banState, sharedLog: join(tdb.dir, `stamper-${i}.log`), recentBanFraction: 0.4, batchSize: 1000 })
    })
    const settled = await Promise.allSettled(reports)
    reporting = false
    settled.push(...(await Promise.allSettled(polls)))
    expect(settled.filter((s) => s.status === 'rejected').map((s) => String((s as PromiseRejectedResult).reason))).toEqual([])
    const { n } = await central.db
      .selectFrom('bans')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('jail', 'like', 'j%')
      .executeTakeFirstOrThrow()
    expect(Number(n)).toBe(600)
    expect(retried).toEqual([])
  }, 300_000)
})

const retried: string[] = []
function countRetries(isRetryable: (err: unknown) => boolean): (err: unknown) => boolean {
  return (err) => {
    const yes = isRetryable(err)
    if (yes) retried.push(String(err))
    return yes
  }
}
