// Issue 4, least privilege: the shipped sql/grants.sql gives a host account what add2db and
// readdb need, and nothing that would let a stolen host unban, allowlist, delete history or
// change the schema.
import { randomBytes } from 'node:crypto'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { createConnection } from 'mysql2/promise'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { CentralDb } from '@f2b-central/core/db/db-adapter'
import { BanStatus } from '@f2b-central/core/schema/ban-status'
import { createFail2banStateDb } from '../scripts/fail2ban-state-db.mjs'
import { createTestDatabase, dialects, type TestDatabase } from './setup/dialects.js'
import { adminConnection } from './setup/mariadb.js'
import { BIN, ROOT, runProgram, writeHostConfig } from './setup/programs.js'

describe.runIf(dialects().includes('mysql'))('mysql: the shipped grants', () => {
  let tdb: TestDatabase
  let central: CentralDb
  const suffix = randomBytes(3).toString('hex')
  const hostUser = `f2b_host_${suffix}`
  const operatorUser = `f2b_op_${suffix}`
  const password = randomBytes(12).toString('hex')
  let hostConfig: (name: string) => string

  beforeAll(async () => {
    tdb = await createTestDatabase('mysql')
    central = await tdb.openMigrated()
    const dbName = new URL(tdb.url).pathname.slice(1)
    // The shipped file, with the documented substitutions, run statement by statement.
    const script = readFileSync(join(ROOT, 'sql/grants.sql'), 'utf8')
      .replaceAll('f2b_central', dbName)
      .replaceAll("'10.0.0.%'", "'127.0.0.1'")
      .replaceAll("'f2b_host'", `'${hostUser}'`)
      .replaceAll("'f2b_operator'", `'${operatorUser}'`)
      .replaceAll('change-me-host', password)
    const admin = await adminConnection()
    try {
      for (const stmt of script.replace(/^--.*$/gm, '').split(';').map((s) => s.trim()).filter(Boolean)) await admin.query(stmt)
    } finally {
      await admin.end()
    }
    const passwordFile = join(tdb.dir, 'host-password')
    writeFileSync(passwordFile, `${password}\n`, { mode: 0o600 })
    const f2bDb = join(tdb.dir, 'fail2ban.sqlite3')
    createFail2banStateDb(f2bDb)
    const hostUrl = new URL(tdb.url)
    hostUrl.username = hostUser
    hostUrl.hostname = '127.0.0.1'
    hostConfig = (name) => writeHostConfig({ dir: tdb.dir, name, dbUrl: hostUrl.toString(), fail2ban: { database: f2bDb }, extra: { database: { url: hostUrl.toString(), passwordFile, timeoutSeconds: 3 } } })
  })
  afterAll(async () => {
    const admin = await adminConnection().catch(() => undefined)
    for (const u of [`'${hostUser}'@'127.0.0.1'`, `'${operatorUser}'@'localhost'`]) await admin?.query(`DROP USER IF EXISTS ${u}`)
    await admin?.end()
    await central?.close()
    await tdb?.drop()
  })

  it('a host account can report and poll', async () => {
    const a = hostConfig('grant-a')
    const b = hostConfig('grant-b')
    expect((await runProgram(BIN.readdb, ['--config', b])).code).toBe(0)
    const r = await runProgram(BIN.add2db, ['--config', a, '--jail', 'sshd', '--ip', '203.0.113.77'])
    expect(r).toMatchObject({ code: 0, stderr: '' })
    const p = await runProgram(BIN.readdb, ['--config', b])
    expect(p.code).toBe(0)
    const status = await central.db.selectFrom('ban_host_status').select('status').where('ip', '=', '203.0.113.77').where('host', '=', 'grant-b').executeTakeFirstOrThrow()
    expect(Number(status.status)).toBe(BanStatus.Added)
  })

  it.each([
    ['delete bans', 'DELETE FROM bans'],
    ['delete statuses', 'DELETE FROM ban_status'],
    ['unban (revoke)', 'UPDATE bans SET revoked_at = NOW()'],
    ["rewrite a ban's address", "UPDATE bans SET ip = '10.0.0.1'"],
    ['rename a host', "UPDATE hosts SET name = 'evil'"],
    ['add to the allowlist', "INSERT INTO allowlist (network, added_by) VALUES ('0.0.0.0/0', 'x')"],
    ['alter the schema', 'ALTER TABLE bans ADD COLUMN x INT'],
    ['drop a table', 'DROP TABLE ban_status'],
    ['change migrations', "DELETE FROM kysely_migration"],
  ])('a host account cannot %s', async (_what, statement) => {
    const c = await createConnection({ host: '127.0.0.1', port: Number(new URL(tdb.url).port || 3306), user: hostUser, password, database: new URL(tdb.url).pathname.slice(1) })
    try {
      await expect(c.query(statement)).rejects.toMatchObject({ code: expect.stringMatching(/^ER_(TABLEACCESS|COLUMNACCESS|DBACCESS|SPECIFIC_ACCESS)_DENIED/) })
    } finally {
      await c.end()
    }
  })
})
