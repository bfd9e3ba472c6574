import type { TestProject } from 'vitest/node'
import { mysqlRequired } from '../../scripts/test-machine.mjs'
import { mysqlReachable, MYSQL_ADMIN_URL } from './mariadb.js'

declare module 'vitest' {
  export interface ProvidedContext {
    mysqlAvailable: boolean
  }
}

/**
 * Runs once before every test file. Decides whether the MySQL half of the suite runs: a
 * missing server fails the run instead of quietly testing SQLite only, unless
 * F2B_REQUIRE_MYSQL=0 lets it test SQLite only (and it says so plainly).
 */
export default async function setup(project: TestProject): Promise<void> {
  const available = await mysqlReachable()
  if (!available) {
    const msg = `MariaDB/MySQL not reachable at ${MYSQL_ADMIN_URL}: the MySQL dialect was SKIPPED; only SQLite was tested`
    if (mysqlRequired()) throw new Error(`${msg}: start it (npm test starts a local MariaDB), point F2B_TEST_MYSQL_URL at one, or set F2B_REQUIRE_MYSQL=0 to test SQLite only`)
    console.warn(`\n*** ${msg} ***\n`)
  }
  project.provide('mysqlAvailable', available)
}
