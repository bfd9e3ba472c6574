import type { Config } from '../config/load-config.js'
import { asDatabaseError } from '../db/database-error.js'
import { assertSchemaCurrent } from '../db/schema-version.js'
import { describeTarget, openDatabase } from '../db/open-database.js'
import { withDeadline } from '../deadline.js'
import { F2bError } from '../errors.js'
import { fail, ok, type CheckResult } from './check-result.js'

/** The database answers within the configured deadline and has exactly this build's schema. */
export async function checkDatabase(config: Config): Promise<CheckResult> {
  const where = describeTarget(config.database.target)
  try {
    const central = await openDatabase(config.database.target, { timeoutMs: config.database.timeoutMs, connectionLimit: 1 })
    try {
      await withDeadline(assertSchemaCurrent(central), config.database.timeoutMs, `database ${where}`)
    } finally {
      void central.close().catch(() => undefined)
    }
    return ok('database', `${where} reachable, schema up to date`)
  } catch (err) {
    const known = asDatabaseError(err, `database ${where}`)
    if (!(known instanceof F2bError)) throw known
    return fail('database', known.message, known.hint ?? 'check database.url and database.passwordFile in the config')
  }
}
