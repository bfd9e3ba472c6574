// serve under load, bounded and on loopback only (issue 14): concurrent clients pull
// /v1/bans.txt over and over while bans are being added, and every response must be a
// complete, consistent list: the whole body (a cut-off chunked body is not complete), every
// line a valid address, none twice, every ban committed before the request was sent, and
// none that was not committed by the time the response ended. The list is larger than one
// page (EXPORT_PAGE), so the keyset paging is what is tested. Then SIGTERM in the middle of
// a burst: every request already answered gets its whole list, and serve exits 0. Small
// numbers here; `npm run bench` measures 100,000 bans.
import { isIPv4 } from 'node:net'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { CentralDb } from '@f2b-central/core/db/db-adapter'
import { EXPORT_PAGE } from '@f2b-central/core/fleet/export-addresses'
import { createTestDatabase, dialects, type TestDatabase } from './setup/dialects.js'
import { seedHosts } from './setup/operator.js'
import { addToken, createServeAccount, http, startServeProcess, writeServeConfig, type HttpResult, type ServeProcess } from './setup/serve.js'

const INITIAL = 2 * EXPORT_PAGE + 1500
// Bans are added in batches for as long as the clients pull (at most MAX_BATCHES).
const MAX_BATCHES = 60
const PER_BATCH = 50
const CLIENTS = 6
const ROUNDS = 5
const dialect = dialects().includes('mysql') ? 'mysql' : 'sqlite'

const initialIp = (i: number) => `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`
const addedIp = (i: number) => `172.16.${(i >> 8) & 255}.${i & 255}`

async function insertBans(central: CentralDb, reporterId: number, ips: readonly string[]): Promise<void> {
  for (let i = 0; i < ips.length; i += 1000) {
    const rows = ips
      .slice(i, i + 1000)
      .map((ip) => ({ ip, jail: 'sshd', protocol: 'tcp', port: 'ssh', reporter_id: reporterId, bantime: 3600, expires_at: central.adapter.nowPlusSeconds(3600) }))
    await central.db.transaction().execute((trx) => trx.insertInto('bans').values(rows).execute())
  }
}

describe(`${dialect}: serve under load`, () => {
  let tdb: TestDatabase
  let central: CentralDb
  let serve: ServeProcess
  let token: string
  let reporter = 0
  let dropAccount = async () => {}
  const initial = Array.from({ length: INITIAL }, (_, i) => initialIp(i + 1))

  beforeAll(async () => {
    tdb = await createTestDatabase(dialect)
    central = await tdb.openMigrated()
    reporter = (await seedHosts(central, [{ name: 'web-1' }]))['web-1']!
    expect(new Set(initial).size).toBe(INITIAL)
    await insertBans(central, reporter, initial)
    // MariaDB: the shipped SELECT-only account of sql/serve-grants.sql, as in production.
    const account = dialect === 'mysql' ? await createServeAccount(tdb.url, tdb.dir) : undefined
    dropAccount = account?.drop ?? dropAccount
    const config = writeServeConfig({ dir: tdb.dir, dbUrl: account?.url ?? tdb.url, passwordFile: account?.passwordFile })
    token = await addToken(join(tdb.dir, 'serve-tokens'), 'load')
    serve = await startServeProcess(config)
  })
  afterAll(async () => {
    await serve?.stop('SIGKILL')
    await dropAccount()
    await central?.close()
    await tdb?.drop()
  })

  /** Problems with one response; `before`/`after`: how many bans had been added when it was sent / when it ended. */
  function check(r: HttpResult, before: number, after: number): string[] {
    const problems: string[] = []
    if (r.status !== 200) problems.push(`status ${r.status}`)
    if (!r.complete) problems.push('body cut short')
    if (r.body !== '' && !r.body.endsWith('\n')) problems.push('last line incomplete')
    const lines = r.body.split('\n').slice(0, -1)
    const seen = new Set(lines)
    if (seen.size !== lines.length) problems.push(`${lines.length - seen.size} lines twice`)
    const bad = lines.filter((l) => !isIPv4(l))
    if (bad.length) problems.push(`not addresses: ${bad.slice(0, 3).join(', ')}`)
    const missing = initial.filter((ip) => !seen.has(ip)).length + Array.from({ length: before }, (_, i) => addedIp(i)).filter((ip) => !seen.has(ip)).length
    if (missing) problems.push(`${missing} committed bans missing`)
    const committed = new Set(Array.from({ length: after }, (_, i) => addedIp(i)))
    const unknown = lines.filter((l) => l.startsWith('172.16.') && !committed.has(l))
    if (unknown.length) problems.push(`${unknown.length} bans not committed yet`)
    return problems
  }

  let added = 0
  it(`${CLIENTS} clients × ${ROUNDS} pulls of ${INITIAL.toLocaleString('en')}+ addresses while bans are added: every list complete and consistent`, async () => {
    let committed = 0
    let pulling = true
    const writer = (async () => {
      for (let b = 0; pulling && b < MAX_BATCHES; b++) {
        await insertBans(
          central,
          reporter,
          Array.from({ length: PER_BATCH }, (_, i) => addedIp(b * PER_BATCH + i)),
        )
        committed = (b + 1) * PER_BATCH
        await new Promise((r) => setTimeout(r, 100))
      }
    })()
    const results: { problems: string[]; lines: number; grew: boolean }[] = []
    await Promise.all(
      Array.from({ length: CLIENTS }, async () => {
        for (let i = 0; i < ROUNDS; i++) {
          const before = committed
          const r = await http(`${serve.url}/v1/bans.txt`, { token })
          results.push({ problems: check(r, before, committed), lines: r.body.split('\n').length - 1, grew: committed > before })
        }
      }),
    )
    pulling = false
    await writer
    added = committed
    expect(results.filter((r) => r.problems.length > 0).map((r) => r.problems.join('; '))).toEqual([])
    expect(results).toHaveLength(CLIENTS * ROUNDS)
    // the pulls really overlapped the writes (bans were committed while they ran), and saw the list grow
    expect(results.filter((r) => r.grew).length).toBeGreaterThan(CLIENTS)
    expect(new Set(results.map((r) => r.lines)).size).toBeGreaterThan(2)
    const final = await http(`${serve.url}/v1/bans.txt`, { token })
    expect(check(final, added, added)).toEqual([])
    expect(final.body.split('\n').length - 1).toBe(INITIAL + added)
  }, 120_000)

  it('SIGTERM during a burst: every request it answers gets its whole list, then it exits 0', async () => {
    const all = added
    const burst = Array.from({ length: CLIENTS }, () =>
      http(`${serve.url}/v1/bans.txt`, { token }).then(
        (r) => ({ r, error: undefined }),
        (error: Error) => ({ r: undefined, error }),
      ),
    )
    await new Promise((r) => setTimeout(r, 20))
    const exited = serve.stop('SIGTERM')
    const outcomes = await Promise.all(burst)
    for (const o of outcomes) {
      if (o.r) expect(check(o.r, all, all)).toEqual([])
      else expect(o.error?.message).toMatch(/ECONNREFUSED|socket hang up|ECONNRESET/)
    }
    expect(outcomes.filter((o) => o.r).length).toBeGreaterThan(0)
    expect(await exited).toBe(0)
    await expect(http(`${serve.url}/healthz`)).rejects.toThrow(/ECONNREFUSED/)
  })
})
