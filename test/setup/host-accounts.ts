// Per-host database accounts a test makes and names itself (test/host-identity.test.ts), the
// way an admin makes them: `f2b-central hosts add` run with the operator account. Every other
// test gets its hosts' accounts from writeHostConfig (database-logins.ts). Account names are
// server-wide in MySQL, so each carries this run's prefix and a per-file suffix; dropAccounts
// removes them (the global teardown too, if the file dies first).
import { randomBytes } from 'node:crypto'
import { join } from 'node:path'
import { createConnection, type Connection } from 'mysql2/promise'
import { readFileSync } from 'node:fs'
import { accountPrefix } from './database-logins.js'
import { adminConnection } from './mariadb.js'
import { BIN, runProgram, writeHostConfig, type HostConfigOptions } from './programs.js'

export interface HostAccount {
  readonly host: string
  readonly user: string
  readonly passwordFile: string
  /** database.url for this host: the test database, logged in as the host's account. */
  readonly url: string
}

const suffix = randomBytes(3).toString('hex')

/** `f2b-central hosts add NAME` with the operator's config; throws with its output when it fails. */
export async function addHostAccount(operatorConfig: string, dir: string, dbUrl: string, host: string): Promise<HostAccount> {
  const user = `${accountPrefix()}${suffix}_${host.replace(/[^A-Za-z0-9]/g, '_')}`.slice(0, 32)
  const passwordFile = join(dir, `${host}.db-password`)
  const r = await runProgram(BIN.cli, ['hosts', 'add', host, '--account', user, '--from', '127.0.0.1', '--password-file', passwordFile, '--config', operatorConfig])
  if (r.code !== 0) throw new Error(`hosts add ${host} failed (${r.code}): ${r.stderr}`)
  const url = new URL(dbUrl)
  url.username = user
  url.password = ''
  url.hostname = '127.0.0.1'
  return { host, user, passwordFile, url: url.toString() }
}

/** A host config that logs in with the host's own account. */
export function hostAccountConfig(account: HostAccount, options: Omit<HostConfigOptions, 'name' | 'dbUrl'>): string {
  const extra = (options.extra ?? {}) as { database?: Record<string, unknown> }
  return writeHostConfig({
    ...options,
    name: account.host,
    dbUrl: account.url,
    extra: { ...extra, database: { url: account.url, passwordFile: account.passwordFile, timeoutSeconds: 3, ...extra.database } },
  })
}

/** A plain connection as the host's account, for trying what a stolen password could do. */
export async function connectAs(account: HostAccount): Promise<Connection> {
  const url = new URL(account.url)
  return createConnection({
    host: url.hostname,
    port: Number(url.port || 3306),
    user: account.user,
    password: readFileSync(account.passwordFile, 'utf8').trim(),
    database: url.pathname.slice(1),
    dateStrings: true,
  })
}

/** Drop the accounts a test made (they outlive its database). */
export async function dropAccounts(accounts: readonly HostAccount[]): Promise<void> {
  const admin = await adminConnection().catch(() => undefined)
  for (const a of accounts) await admin?.query('DROP USER IF EXISTS ?@?', [a.user, '127.0.0.1'])
  await admin?.end()
}
