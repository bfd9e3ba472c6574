import { join } from 'node:path'
import type { CentralDb } from '@f2b-central/core/db/db-adapter'
import { createFail2banStateDb } from '../../scripts/fail2ban-state-db.mjs'
import { createTestDatabase, type TestDatabase } from './dialects.js'
import { writeHostConfig } from './programs.js'
import { proxyDatabaseUrl, type TcpProxy } from './tcp-proxy.js'

/**
 * A migrated MariaDB test database, and one host configured to reach it only through a TCP
 * proxy the test can cut: an outage for this host while other test files keep using the
 * shared server. The host reads fail2ban ban state from a fresh `bips` file of its own.
 */
export interface ProxiedHost {
  readonly tdb: TestDatabase
  /** A direct connection, for the test's own checks (never cut). */
  readonly central: CentralDb
  readonly proxy: TcpProxy
  readonly config: string
  close(): Promise<void>
}

export async function startProxiedHost(name: string, extra?: Record<string, unknown>): Promise<ProxiedHost> {
  const tdb = await createTestDatabase('mysql')
  const central = await tdb.openMigrated()
  const { proxy, url } = await proxyDatabaseUrl(tdb.url)
  const f2bDb = join(tdb.dir, 'fail2ban.sqlite3')
  createFail2banStateDb(f2bDb)
  const config = writeHostConfig({ dir: tdb.dir, name, dbUrl: url, fail2ban: { database: f2bDb }, extra })
  const close = async () => {
    await proxy.close()
    await central.close()
    await tdb.drop()
  }
  return { tdb, central, proxy, config, close }
}
