// Issue 4: the database is down while fail2ban bans. MariaDB is cut off through a TCP proxy
// (other test files share the server, so it is not stopped): 200 bans go to the spool, and
// the first readdb that reaches the database ships each exactly once, with its report time.
import { copyFileSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { CentralDb } from '@f2b-central/core/db/db-adapter'
import { dialects } from './setup/dialects.js'
import { BIN, runProgram } from './setup/programs.js'
import { startProxiedHost, type ProxiedHost } from './setup/proxied-host.js'
import type { TcpProxy } from './setup/tcp-proxy.js'

const BANS = 200
const PARALLEL = 8

describe.runIf(dialects().includes('mysql'))('mysql: add2db while the database is down', () => {
  let host: ProxiedHost
  let central: CentralDb
  let proxy: TcpProxy
  let config: string
  let spoolDir: string

  beforeAll(async () => {
    host = await startProxiedHost('spooler')
    ;({ central, proxy, config } = host)
    spoolDir = join(host.tdb.dir, 'spooler-spool')
  })
  afterAll(() => host?.close())

  const spooled = () => readdirSync(spoolDir).filter((n) => n.endsWith('.ban.json'))

  it(`keeps ${BANS} bans in the spool, then ships each exactly once with its report time`, async () => {
    proxy.cut()
    const unique = Array.from({ length: BANS }, (_, i) => `198.51.100.${i + 1}`)
    const codes: number[] = []
    for (let i = 0; i < unique.length; i += PARALLEL) {
      const runs = await Promise.all(unique.slice(i, i + PARALLEL).map((ip) => runProgram(BIN.add2db, ['--config', config, '--jail', 'sshd', '--ip', ip])))
      for (const r of runs) {
        codes.push(r.code)
        expect(r.stderr).toMatch(/^add2db: warning: ban kept in the local spool/)
      }
    }
    expect(new Set(codes)).toEqual(new Set([0]))
    expect(spooled()).toHaveLength(unique.length)
    const cutEnded = Date.now()

    // A copy of one entry, to ship again later: a crash after the insert and before the unlink.
    const again = spooled()[0]!
    copyFileSync(join(spoolDir, again), join(host.tdb.dir, 'again.json'))

    proxy.restore()
    const r = await runProgram(BIN.readdb, ['--config', config])
    expect(r.code).toBe(0)
    expect(r.stdout).toMatch(new RegExp(`"shipped":${unique.length}`))
    expect(spooled()).toHaveLength(0)

    const rows = await central.db.selectFrom('bans').select(['ip', 'report_key', 'created_at']).execute()
    expect(rows).toHaveLength(unique.length)
    expect(new Set(rows.map((b) => b.ip))).toEqual(new Set(unique))
    expect(new Set(rows.map((b) => b.report_key)).size).toBe(unique.length)
    for (const b of rows) expect(Date.parse(`${b.created_at.replace(' ', 'T')}Z`)).toBeLessThanOrEqual(cutEnded)

    copyFileSync(join(host.tdb.dir, 'again.json'), join(spoolDir, again))
    expect((await runProgram(BIN.readdb, ['--config', config])).code).toBe(0)
    expect(spooled()).toHaveLength(0)
    expect(await central.db.selectFrom('bans').select('id').execute()).toHaveLength(unique.length)
  }, 300_000)
})
