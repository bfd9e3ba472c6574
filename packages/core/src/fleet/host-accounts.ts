import { randomBytes } from 'node:crypto'
import { existsSync, renameSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { parseHostName } from '../ban/names.js'
import { readPasswordFile, writeNewSecretFile } from '../config/secret-file.js'
import type { DatabaseAccount } from '../db/account-admin.js'
import type { CentralDb } from '../db/db-adapter.js'
import { bindAccount, hostOfAccount, listBoundAccounts, unbindAccount, type BoundAccount } from '../db/queries/host-accounts.js'
import { resolveHostIds } from '../db/queries/hosts.js'
import { F2bError, InvalidValueError, UsageError } from '../errors.js'

const ACCOUNT = /^[A-Za-z0-9_]{1,32}$/
const FROM = /^[A-Za-z0-9.%_:/-]{1,255}$/

/** A MySQL user name for an account: 1-32 of A-Z a-z 0-9 _ (what both MySQL and MariaDB accept unquoted). */
export function parseAccountName(input: string, field = '--account'): string {
  if (!ACCOUNT.test(input)) throw new InvalidValueError(field, input, 'expected 1-32 characters of A-Z a-z 0-9 _')
  return input
}

/** Where an account may connect from: a host name, an address, or a pattern with % and _ (as in 'user'@'10.0.0.%'). */
export function parseAccountHost(input: string, field = '--from'): string {
  if (!FROM.test(input)) throw new InvalidValueError(field, input, "expected a host name, address or pattern such as 10.0.0.% or '%'")
  return input
}

/** `f2b_` and the host name with every other character an underscore, at most 32 characters (a hash keeps long names apart). */
export function defaultAccountName(host: string): string {
  const base = `f2b_${host.toLowerCase().replace(/[^a-z0-9]/g, '_')}`
  if (base.length <= 32) return base
  const hash = Buffer.from(host)
    .reduce((h, c) => (h * 31 + c) >>> 0, 7)
    .toString(36)
  return `${base.slice(0, 31 - hash.length)}_${hash}`
}

/** The password in `file`, or a new random one written there with mode 0600 when the file does not exist. */
export function passwordFor(file: string): { password: string; written: boolean } {
  if (existsSync(file)) return { password: readPasswordFile(file, '--password-file'), written: false }
  const password = newPassword()
  writeNewSecretFile(file, password)
  return { password, written: true }
}

function newPassword(): string {
  return randomBytes(24).toString('base64url')
}

export interface AddHostOptions {
  readonly name: string
  readonly account: DatabaseAccount
  readonly passwordFile: string
  readonly requireSsl: boolean
}

export interface AddedHost {
  readonly host: string
  readonly account: DatabaseAccount
  /** A new password was generated and written to the file. */
  readonly passwordWritten: boolean
}

/**
 * Register a host and give it its own database account, bound to its host row, with exactly
 * the grants a host needs (operator account; MySQL/MariaDB only). Re-running it with the
 * same file repairs the account. An account already bound to another host is refused.
 */
export async function addHost(central: CentralDb, options: AddHostOptions): Promise<AddedHost> {
  const admin = accountsOf(central)
  const name = parseHostName(options.name, 'NAME')
  const bound = await hostOfAccount(central.db, options.account.user)
  if (bound !== undefined && bound !== name) throw new F2bError(`account ${options.account.user} already speaks for host ${bound}`, { hint: 'choose another --account' })
  const { password, written } = passwordFor(options.passwordFile)
  const hostId = (await resolveHostIds(central.db, [name])).get(name)
  if (hostId === undefined) throw new Error(`host ${name} vanished while registering`)
  await admin.createHostAccount(central.db, options.account, password, { requireSsl: options.requireSsl })
  await bindAccount(central.db, options.account, hostId)
  return { host: name, account: options.account, passwordWritten: written }
}

/** Every account bound to a host, by host name. */
export async function listHostAccounts(central: CentralDb): Promise<BoundAccount[]> {
  return listBoundAccounts(central.db)
}

/** Drop a host's accounts and their bindings; the host's row and its history stay. Returns the accounts dropped. */
export async function removeHostAccounts(central: CentralDb, name: string): Promise<DatabaseAccount[]> {
  const admin = accountsOf(central)
  const accounts = (await listBoundAccounts(central.db)).filter((a) => a.host === name)
  for (const a of accounts) {
    await admin.dropAccount(central.db, a)
    await unbindAccount(central.db, a.user)
  }
  return accounts
}

/** A new random password for every account of the host, written to `file` (replaced atomically, mode 0600). */
export async function rotateHostPassword(central: CentralDb, name: string, file: string): Promise<DatabaseAccount[]> {
  const admin = accountsOf(central)
  const accounts = (await listBoundAccounts(central.db)).filter((a) => a.host === name)
  if (accounts.length === 0) throw new F2bError(`host ${name} has no account bound to it`, { hint: `create one with \`f2b-central hosts add ${name} --password-file FILE\`` })
  const password = newPassword()
  const tmp = join(dirname(file), `.${randomBytes(6).toString('hex')}.tmp`)
  writeNewSecretFile(tmp, password)
  for (const a of accounts) await admin.setPassword(central.db, a, password)
  renameSync(tmp, file)
  return accounts
}

function accountsOf(central: CentralDb) {
  const admin = central.adapter.accounts
  if (!admin) {
    throw new UsageError(
      'hosts: this database has no accounts (SQLite is one machine; every program on it writes as itself)',
      'use a MySQL/MariaDB database.url for per-host accounts',
    )
  }
  return admin
}
