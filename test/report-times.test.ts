// Issue 11 points 6 and 10: what a host's clock or a long error text must never do to the
// fleet. Both dialects, through the built programs.
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { CentralDb } from '@f2b-central/core/db/db-adapter'
import { fromDbTime } from '@f2b-central/core/time/db-time'
import { createFail2banStateDb } from '../scripts/fail2ban-state-db.mjs'
import { createTestDatabase, dialects, type TestDatabase } from './setup/dialects.js'
import { BIN, runProgram, writeHostConfig } from './setup/programs.js'

describe.each(dialects())('%s: times from the database, bounded errors', (dialect) => {
  let tdb: TestDatabase
  let central: CentralDb
  let f2bDb: string

  beforeAll(async () => {
    tdb = await createTestDatabase(dialect)
    central = await tdb.openMigrated()
    f2bDb = join(tdb.dir, 'fail2ban.sqlite3')
    createFail2banStateDb(f2bDb)
  })
  afterAll(async () => {
    await central?.close()
    await tdb?.drop()
  })

  // What add2db writes to the spool when the database is away, written by hand with a chosen time.
  function spoolEntry(dir: string, ip: string, reportedAt: Date, key: string): void {
    mkdirSync(dir, { recursive: true, mode: 0o700 })
    const entry = { ip, jail: 'sshd', protocol: 'tcp', port: 'ssh', bantime: 3600, key, host: 'skewed-1', reportedAt: reportedAt.toISOString() }
    writeFileSync(join(dir, `${reportedAt.getTime()}-${key}.ban.json`), JSON.stringify(entry), { mode: 0o600 })
  }

  it('a spooled ban shipped late keeps its age, but a time from a clock gone wrong is not believed: it starts now', async () => {
    const config = writeHostConfig({ dir: tdb.dir, name: 'skewed-1', dbUrl: tdb.url, fail2ban: { database: f2bDb } })
    const spool = join(tdb.dir, 'skewed-1-spool')
    const now = Date.now()
    // Spooled by a clock one year ahead (since corrected), one 40 days behind, and one honest 20 minutes ago.
    spoolEntry(spool, '198.51.100.61', new Date(now + 365 * 86400_000), '00000000-0000-4000-8000-000000000061')
    spoolEntry(spool, '198.51.100.62', new Date(now - 40 * 86400_000), '00000000-0000-4000-8000-000000000062')
    spoolEntry(spool, '198.51.100.63', new Date(now - 20 * 60_000), '00000000-0000-4000-8000-000000000063')
    const r = await runProgram(BIN.readdb, ['--config', config])
    expect(r.code, r.stderr).toBe(0)
    const rows = await central.db.selectFrom('bans').select(['ip', 'created_at', 'expires_at']).where('ip', 'like', '198.51.100.6%').orderBy('ip').execute()
    const ageMinutes = (t: string) => (Date.now() - fromDbTime(t).getTime()) / 60_000
    expect(rows.map((b) => b.ip)).toEqual(['198.51.100.61', '198.51.100.62', '198.51.100.63'])
    const [ahead, behind, honest] = rows
    expect(ageMinutes(ahead!.created_at)).toBeGreaterThanOrEqual(-1)
    expect(ageMinutes(ahead!.created_at)).toBeLessThan(2)
    expect(ageMinutes(behind!.created_at)).toBeLessThan(2)
    expect(ageMinutes(honest!.created_at)).toBeGreaterThan(19)
    expect(ageMinutes(honest!.created_at)).toBeLessThan(22)
    // Expiry follows: created + ban time, by the database's clock.
    for (const b of rows) expect(fromDbTime(b.expires_at!).getTime() - fromDbTime(b.created_at).getTime()).toBe(3600_000)
  })

  it('an error text longer than ban_status.error is stored cut to 1000 characters and never stops the host', async () => {
    // A shared log that cannot be written, behind a path long enough that its error message is over 1000 characters.
    let dir = join(tdb.dir, 'long')
    for (let i = 0; i < 6; i++) dir = join(dir, `${'d'.repeat(200)}${i}`)
    mkdirSync(join(dir, 'shared.log'), { recursive: true })
    const config = writeHostConfig({ dir: tdb.dir, name: 'long-1', dbUrl: tdb.url, sharedLog: join(dir, 'shared.log'), fail2ban: { database: f2bDb } })
    const ids = await central.db.selectFrom('bans').select('id').execute()
    expect(ids.length).toBeGreaterThan(0)
    for (let round = 0; round < 2; round++) {
      const r = await runProgram(BIN.readdb, ['--config', config])
      expect(r.code, r.stderr).toBe(0)
    }
    const rows = await central.db
      .selectFrom('ban_status as s')
      .innerJoin('hosts as h', 'h.id', 's.host_id')
      .select(['s.status', 's.error'])
      .where('h.name', '=', 'long-1')
      .execute()
    expect(rows.length).toBe(ids.length)
    for (const s of rows) {
      expect(s.error).toMatch(/^cannot append to shared log \/tmp\//)
      expect(s.error!.length).toBeLessThanOrEqual(1000)
    }
  })
})
