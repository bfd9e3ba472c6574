// readdb when the database goes away: one-shot fails with one line; the daemon backs off and
// recovers by itself. MariaDB is cut off through a TCP proxy rather than stopped, because
// other test files use the same server concurrently.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { CentralDb } from '@f2b-central/core/db/db-adapter'
import { insertBan } from '@f2b-central/core/db/queries/bans'
import { BanStatus } from '@f2b-central/core/schema/ban-status'
import { dialects } from './setup/dialects.js'
import { waitUntil } from './setup/fail2ban-server.js'
import { BIN, runProgram, startDaemon } from './setup/programs.js'
import { startProxiedHost, type ProxiedHost } from './setup/proxied-host.js'
import type { TcpProxy } from './setup/tcp-proxy.js'

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
      expect(r.stderr).toMatch(/^readdb: database mysql:\/\/root@127\.0\.0\.1:\d+\/f2b_test_\w+: .+\n$/)
      expect(r.stderr.trimEnd().split('\n')).toHaveLength(1)
    } finally {
      proxy.restore()
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
