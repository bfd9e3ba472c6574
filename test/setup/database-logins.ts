// Who logs in to a MySQL test database, as the product means it to be: root only for the test's
// own seeding and checks; the operator with the account sql/grants.sql makes (not root, so the
// shipped grants are what operator commands and `migrate` really run with); every host program
// with its host's own account, made by `f2b-central hosts add` run as that operator.
// writeHostConfig and writeOperatorConfig (programs.ts) ask here, so test files need not.
// Accounts are server-wide in MariaDB, not per database: each name carries this run's and this
// database's tag, dropDatabaseAccounts removes them with the database, and the global teardown
// drops whatever a killed test file left behind (accountPrefix).
import { execFileSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { inject } from 'vitest'
import { stringify } from 'yaml'
import { BIN, ROOT } from './bins.js'
import { adminConnection, MYSQL_ADMIN_URL } from './mariadb.js'

/** A database account a program logs in with: its user, its password file, and database.url for it. */
export interface DatabaseLogin {
  readonly user: string
  readonly passwordFile: string
  readonly url: string
}

interface DatabaseAccounts {
  readonly database: string
  readonly dir: string
  readonly tag: string
  readonly operator: DatabaseLogin & { readonly config: string }
  /** By host name: made once per database, reused by every config written for that host. */
  readonly hosts: Map<string, Omit<DatabaseLogin, 'url'>>
}

const byDatabase = new Map<string, DatabaseAccounts>()
const ADMIN_USER = new URL(MYSQL_ADMIN_URL).username

/** The prefix of every account this run makes (global-setup.ts provides it and drops them at the end). */
export function accountPrefix(): string {
  return inject('accountPrefix')
}

/**
 * The operator account of sql/grants.sql for one test database, made from the shipped file as
 * its header says (database, user and password replaced; from '%' instead of 'localhost', since
 * tests connect over TCP and the server skips name resolution). Its password goes to a 0600 file.
 */
export async function createOperatorAccount(database: string, dir: string, url: string): Promise<DatabaseLogin> {
  const tag = `${accountPrefix()}${randomBytes(3).toString('hex')}`
  const user = `${tag}_ops`
  const password = randomBytes(18).toString('base64url')
  const statements = readFileSync(join(ROOT, 'sql/grants.sql'), 'utf8')
    .replaceAll('f2b_central', database)
    .replaceAll('f2b_operator', user)
    .replaceAll('change-me-operator', password)
    .replaceAll("'localhost'", "'%'")
    .split('\n')
    .filter((l) => !l.trimStart().startsWith('--'))
    .join('\n')
    .split(';')
    .map((s) => s.trim())
    .filter(Boolean)
  const admin = await adminConnection()
  try {
    for (const s of statements) await admin.query(s)
  } finally {
    await admin.end()
  }
  const passwordFile = join(dir, 'operator.db-password')
  writeFileSync(passwordFile, `${password}\n`, { mode: 0o600 })
  const login = { user, passwordFile, url: withUser(url, user) }
  // The config the helpers run `hosts add` with; tests get their own from writeOperatorConfig.
  const config = join(dir, 'operator-for-accounts.yml')
  writeFileSync(config, stringify({ database: { url: login.url, passwordFile, timeoutSeconds: 5 }, host: { name: 'ops' } }), { mode: 0o600 })
  byDatabase.set(database, { database, dir, tag, operator: { ...login, config }, hosts: new Map() })
  return login
}

/** The operator's login for a test database's root URL (same server address and port), or undefined when `url` is not one. */
export function operatorLogin(url: string): DatabaseLogin | undefined {
  const accounts = accountsFor(url)
  return accounts && { ...accounts.operator, url: withUser(url, accounts.operator.user) }
}

/**
 * The login of host `host` for a test database's root URL: its own account, made with
 * `f2b-central hosts add` (from '%': hosts in network namespaces connect from their own
 * addresses) the first time a file asks, then reused. Synchronous, so that writing a host's
 * config stays one call. The URL keeps the address and port asked for (a proxy's, say).
 * Undefined when `url` is not a test database's root URL: a test that names its own account
 * or server keeps it.
 */
export function hostLogin(url: string, host: string): DatabaseLogin | undefined {
  const accounts = accountsFor(url)
  if (!accounts) return undefined
  let login = accounts.hosts.get(host)
  if (!login) {
    const user = `${accounts.tag}${accounts.hosts.size}_${host.replace(/[^A-Za-z0-9]/g, '_')}`.slice(0, 32)
    const passwordFile = join(accounts.dir, `${host}.db-password`)
    try {
      execFileSync(process.execPath, [BIN.cli, 'hosts', 'add', host, '--account', user, '--password-file', passwordFile, '--config', accounts.operator.config], {
        stdio: ['ignore', 'pipe', 'pipe'],
        timeout: 30_000,
      })
    } catch (err) {
      const stderr = (err as { stderr?: Buffer }).stderr?.toString().trim()
      throw new Error(`test setup: \`f2b-central hosts add ${host}\` failed (is the test database migrated?): ${stderr || String(err)}`)
    }
    login = { user, passwordFile }
    accounts.hosts.set(host, login)
  }
  return { ...login, url: withUser(url, login.user) }
}

/** Drop a test database's operator and host accounts (root; they outlive the database otherwise). */
export async function dropDatabaseAccounts(database: string): Promise<void> {
  const accounts = byDatabase.get(database)
  if (!accounts) return
  byDatabase.delete(database)
  const admin = await adminConnection()
  try {
    for (const login of [...accounts.hosts.values(), accounts.operator]) await admin.query('DROP USER IF EXISTS ?@?', [login.user, '%'])
  } finally {
    await admin.end()
  }
}

function accountsFor(url: string): DatabaseAccounts | undefined {
  if (!url.startsWith('mysql:')) return undefined
  const u = new URL(url)
  if (decodeURIComponent(u.username) !== ADMIN_USER) return undefined
  return byDatabase.get(decodeURIComponent(u.pathname.slice(1)))
}

function withUser(url: string, user: string): string {
  const u = new URL(url)
  u.username = user
  u.password = ''
  return u.toString()
}
