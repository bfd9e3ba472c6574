import type { TestProject } from 'vitest/node'
import { mysqlReachable, MYSQL_ADMIN_URL } from './mariadb.js'

declare module 'vitest' {
  export interface ProvidedContext {
    mysqlAvailable: boolean
  }
}

/**
 * Runs once before every test file. Decides whether the MySQL half of the suite runs:
 * without a reachable server it says so plainly; with F2B_REQUIRE_MYSQL=1 (as .ci/run sets)
 * a missing server fails the run instead of quietly testing SQLite only.
 */
export default async function setup(project: TestProject): Promise<void> {
  const available = await mysqlReachable()
  if (!available) {
    const msg = `MariaDB/MySQL not reachable at ${MYSQL_ADMIN_URL}: the MySQL dialect was SKIPPED; only SQLite was tested`
    if (process.env.F2B_REQUIRE_MYSQL === '1') throw new Error(`${msg} (F2B_REQUIRE_MYSQL=1)`)
    console.warn(`\n*** ${msg} ***\n`)
  }
  project.provide('mysqlAvailable', available)
}
