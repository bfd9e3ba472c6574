// Issue 4: many hosts reporting the same addresses in the same second while many hosts poll,
// as separate processes against one database: no deadlock surfaces, no status is lost or doubled.
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { CentralDb } from '@f2b-central/core/db/db-adapter'
import { createFail2banStateDb } from '../scripts/fail2ban-state-db.mjs'
import { createTestDatabase, dialects, type TestDatabase } from './setup/dialects.js'
import { BIN, runProgram, writeHostConfig } from './setup/programs.js'

const HOSTS = 8
const IPS = ['203.0.113.201', '203.0.113.202', '2001:db8:c0::1']

describe.each(dialects())('%s: reports and polls racing each other', (dialect) => {
  let tdb: TestDatabase
  let central: CentralDb
  const configs: string[] = []

  beforeAll(async () => {
    tdb = await createTestDatabase(dialect)
    central = await tdb.openMigrated()
    for (let i = 0; i < HOSTS; i++) {
      const f2bDb = join(tdb.dir, `h${i}-fail2ban.sqlite3`)
      createFail2banStateDb(f2bDb)
      configs.push(writeHostConfig({ dir: tdb.dir, name: `h${i}`, dbUrl: tdb.url, fail2ban: { database: f2bDb } }))
    }
  })
  afterAll(async () => {
    await central?.close()
    await tdb?.drop()
  })

  it('every host reports every address at once while every host polls; all succeed and every (ban, host) has one final status', async () => {
    const reports = configs.flatMap((cfg) => IPS.map((ip) => runProgram(BIN.add2db, ['--config', cfg, '--jail', 'sshd', '--ip', ip])))
    const polls = configs.map((cfg) => runProgram(BIN.readdb, ['--config', cfg]))
    const results = await Promise.all([...reports, ...polls])
    expect(results.filter((r) => r.code !== 0).map((r) => r.stderr)).toEqual([])
    // On a starved machine some reports may time out into the spool; the next poll ships them.
    for (const r of results) expect(r.stderr).toMatch(/^(|add2db: warning: ban kept in the local spool .*\n)$/)

    // Settle: one more poll each, then nothing may be left pending or in error.
    for (const cfg of configs) expect((await runProgram(BIN.readdb, ['--config', cfg])).code).toBe(0)
    const rows = await central.db.selectFrom('ban_host_status').select(['ban_id', 'host', 'status']).execute()
    expect(rows).toHaveLength(HOSTS * HOSTS * IPS.length)
    const keys = new Set(rows.map((r) => `${r.ban_id}/${r.host}`))
    expect(keys.size).toBe(rows.length)
    expect(rows.filter((r) => ![1, 2].includes(Number(r.status)))).toEqual([])
  }, 120_000)
})
