import { randomBytes } from 'node:crypto'
import type { TestProject } from 'vitest/node'
import { mysqlRequired } from '../../scripts/test-machine.mjs'
import { dropAccountsWithPrefix, mysqlReachable, MYSQL_ADMIN_URL } from './mariadb.js'

declare module 'vitest' {
  export interface ProvidedContext {
    mysqlAvailable: boolean
    /** Every database account this run makes starts with it (test/setup/database-logins.ts). */
    accountPrefix: string
  }
}

/**
 * Runs once before every test file. Decides whether the MySQL half of the suite runs: a
 * missing server fails the run instead of quietly testing SQLite only, unless
 * F2B_REQUIRE_MYSQL=0 lets it test SQLite only (and it says so plainly). Each run's accounts
 * share a prefix; the teardown drops any a killed test file left on the server.
 */
export default async function setup(project: TestProject): Promise<(() => Promise<void>) | undefined> {
  const available = await mysqlReachable()
  if (!available) {
    const msg = `MariaDB/MySQL not reachable at ${MYSQL_ADMIN_URL}: the MySQL dialect was SKIPPED; only SQLite was tested`
    if (mysqlRequired()) throw new Error(`${msg}: start it (npm test starts a local MariaDB), point F2B_TEST_MYSQL_URL at one, or set F2B_REQUIRE_MYSQL=0 to test SQLite only`)
    console.warn(`\n*** ${msg} ***\n`)
  }
  project.provide('mysqlAvailable', available)
  const prefix = `t${randomBytes(2).toString('hex')}`
  project.provide('accountPrefix', prefix)
  return available ? () => dropAccountsWithPrefix(prefix) : undefined
}
