import type { Db } from '../db-adapter.js'
import type { DatabaseAccount } from '../account-admin.js'

/** A database account bound to a host. */
export interface BoundAccount extends DatabaseAccount {
  readonly host: string
}

/** Bind an account to a host (operator). An account already bound to another host is refused by the caller. */
export async function bindAccount(db: Db, account: DatabaseAccount, hostId: number): Promise<void> {
  await db.insertInto('host_accounts').ignore().values({ account: account.user, account_host: account.from, host_id: hostId }).execute()
  await db.updateTable('host_accounts').set({ account_host: account.from }).where('account', '=', account.user).where('host_id', '=', hostId).execute()
}

export async function unbindAccount(db: Db, user: string): Promise<void> {
  await db.deleteFrom('host_accounts').where('account', '=', user).execute()
}

/** Every binding, by host name. */
export async function listBoundAccounts(db: Db): Promise<BoundAccount[]> {
  const rows = await db
    .selectFrom('host_accounts as a')
    .innerJoin('hosts as h', 'h.id', 'a.host_id')
    .select(['a.account', 'a.account_host', 'h.name'])
    .orderBy('h.name')
    .orderBy('a.account')
    .execute()
  return rows.map((r) => ({ user: r.account, from: r.account_host, host: r.name }))
}

/** The host an account speaks for, if it is bound. */
export async function hostOfAccount(db: Db, user: string): Promise<string | undefined> {
  const row = await db.selectFrom('host_accounts as a').innerJoin('hosts as h', 'h.id', 'a.host_id').select('h.name').where('a.account', '=', user).executeTakeFirst()
  return row?.name
}
