import type { Kysely } from 'kysely'
import type { Database } from '../schema/database.js'

/** A database account: 'user'@'from'. */
export interface DatabaseAccount {
  readonly user: string
  /** Where it may connect from (a host name, address, or pattern with % and _). */
  readonly from: string
}

/**
 * Creating and dropping the database accounts hosts log in with. Only MySQL/MariaDB has
 * accounts; SQLite (one machine) has none, and its adapter offers no AccountAdmin.
 */
export interface AccountAdmin {
  /** Create the account (or keep it) with this password, and grant it exactly what a host needs. */
  createHostAccount(db: Kysely<Database>, account: DatabaseAccount, password: string, options: { readonly requireSsl: boolean }): Promise<void>
  dropAccount(db: Kysely<Database>, account: DatabaseAccount): Promise<void>
  setPassword(db: Kysely<Database>, account: DatabaseAccount, password: string): Promise<void>
  /** The user name this session logged in as. */
  sessionAccount(db: Kysely<Database>): Promise<string>
}
