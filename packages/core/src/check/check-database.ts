import type { Config } from '../config/load-config.js'
import { asDatabaseError } from '../db/database-error.js'
import { assertSchemaCurrent } from '../db/schema-version.js'
import { describeServerInUse, describeTarget, openDatabase } from '../db/open-database.js'
import { withDeadline } from '../deadline.js'
import { F2bError } from '../errors.js'
import { fail, ok, type CheckResult } from './check-result.js'
import type { CentralDb } from '../db/db-adapter.js'
import { hostOfAccount } from '../db/queries/host-accounts.js'

type Identity = { kind: 'no accounts' } | { kind: 'bound'; account: string } | { kind: 'unbound'; account: string } | { kind: 'other host'; account: string; host: string }

/** Which host, if any, the session's account is bound to (MySQL/MariaDB; SQLite has no accounts). */
async function accountIdentity(central: CentralDb, expected?: string): Promise<Identity> {
  const admin = central.adapter.accounts
  if (!admin) return { kind: 'no accounts' }
  const account = await admin.sessionAccount(central.db)
  const host = await hostOfAccount(central.db, account)
  if (host === undefined) return { kind: 'unbound', account }
  return expected === undefined || host === expected ? { kind: 'bound', account } : { kind: 'other host', account, host }
}

/** The database answers within the configured deadline and has exactly this build's schema. */
export async function checkDatabase(config: Config): Promise<CheckResult> {
  const where = describeTarget(config.database.target)
  try {
    const central = await openDatabase(config.database.target, { timeoutMs: config.database.timeoutMs, connectionLimit: 1 })
    let identity: Identity
    let via = ''
    try {
      await withDeadline(assertSchemaCurrent(central), config.database.timeoutMs, `database ${where}`)
      identity = await withDeadline(accountIdentity(central, config.host.name), config.database.timeoutMs, `database ${where}`)
      // Named when there is a choice of servers, or the server is a cluster's node.
      const inUse = central.serverInUse?.()
      if (inUse && (inUse.of > 1 || inUse.galera)) via = ` via ${describeServerInUse(inUse)}`
    } finally {
      void central.close().catch(() => undefined)
    }
    if (identity.kind === 'other host') {
      return fail(
        'database',
        `account ${identity.account} speaks for host ${identity.host}, not ${config.host.name}: every write would be refused`,
        "set host.name to the host this account was made for, or use that host's account",
      )
    }
    const warning =
      identity.kind === 'unbound'
        ? `; warning: account ${identity.account} is not bound to a host, so it can write for any host (run \`f2b-central hosts add ${config.host.name} --password-file FILE\` with the operator account, and use that account here)`
        : ''
    return ok('database', `${where} reachable${via}, schema up to date${identity.kind === 'bound' ? `, account ${identity.account} speaks for this host` : ''}${warning}`)
  } catch (err) {
    const known = asDatabaseError(err, `database ${where}`)
    if (!(known instanceof F2bError)) throw known
    return fail('database', known.message, known.hint ?? 'check database.url and database.passwordFile in the config')
  }
}
