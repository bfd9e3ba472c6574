import { sql, type Kysely } from 'kysely'
import type { Database } from '../../schema/database.js'
import type { AccountAdmin, DatabaseAccount } from '../account-admin.js'
import { HOST_PROCEDURES, HOST_READABLE_TABLES } from './host-routines.js'

/**
 * Host accounts on MySQL/MariaDB: CREATE USER, and exactly the grants a host needs (SELECT
 * on what it reads, EXECUTE on the host routines; no INSERT, UPDATE or DELETE anywhere).
 * Account names and passwords go to the server as escaped parameters, never pasted into SQL.
 */
export const mysqlAccounts: AccountAdmin = {
  async createHostAccount(db, account, password, options) {
    await sql`CREATE USER IF NOT EXISTS ${account.user}@${account.from} IDENTIFIED BY ${password}`.execute(db)
    // An existing account takes the password in the file, so re-running `hosts add` repairs it.
    await sql`ALTER USER ${account.user}@${account.from} IDENTIFIED BY ${password}`.execute(db)
    if (options.requireSsl) await sql`ALTER USER ${account.user}@${account.from} REQUIRE SSL`.execute(db)
    const database = await currentDatabase(db)
    for (const table of HOST_READABLE_TABLES) await sql`GRANT SELECT ON ${sql.id(database, table)} TO ${account.user}@${account.from}`.execute(db)
    for (const procedure of HOST_PROCEDURES) await sql`GRANT EXECUTE ON PROCEDURE ${sql.id(database, procedure)} TO ${account.user}@${account.from}`.execute(db)
  },

  async dropAccount(db, account) {
    await sql`DROP USER IF EXISTS ${account.user}@${account.from}`.execute(db)
  },

  async setPassword(db, account, password) {
    await sql`ALTER USER ${account.user}@${account.from} IDENTIFIED BY ${password}`.execute(db)
  },

  async sessionAccount(db) {
    const { rows } = await sql<{ account: string }>`SELECT SUBSTRING_INDEX(USER(), '@', 1) AS account`.execute(db)
    return rows[0]?.account ?? ''
  },
}

async function currentDatabase(db: Kysely<Database>): Promise<string> {
  const { rows } = await sql<{ name: string | null }>`SELECT DATABASE() AS name`.execute(db)
  const name = rows[0]?.name
  if (!name) throw new Error('no database selected')
  return name
}

export type { DatabaseAccount }
