import { sql } from 'kysely'
import type { CentralDb } from '../db-adapter.js'
import { withRetry } from '../retry.js'

/**
 * Give committed bans their commit-order stamp (`bans.seq`), so pollers can use `seq` as a
 * cursor. Auto-increment ids cannot be one: they are handed out at insert, so a ban whose
 * transaction commits late has a lower id than bans a poller has already passed (and on
 * Galera or TiDB ids are not even ordered). Stamps are handed out under the ban_sequence row
 * lock, only to rows that are already committed, so every stamp is higher than every stamp
 * any poller could have seen before: a cursor on `seq` never skips a ban.
 *
 * Any poller may stamp; the lock is only taken when an unstamped row exists. Returns how
 * many bans were stamped.
 *
 * Read committed, because under repeatable read the locking read of `seq IS NULL` also
 * gap-locks the `bans_seq` index, and a report inserting its (NULL) entry there then waits
 * on the stamper while the stamper waits on the report's row: a deadlock on every busy
 * minute. Read committed takes no gap locks; the ban_sequence row lock alone orders stamps.
 * (SQLite has one writer and ignores the level.)
 */
export async function stampCommittedBans(central: CentralDb, limit: number): Promise<number> {
  const { db, adapter } = central
  const unstamped = await db.selectFrom('bans').select('id').where('seq', 'is', null).limit(1).executeTakeFirst()
  if (!unstamped) return 0
  return withRetry(adapter, () =>
    db
      .transaction()
      .setIsolationLevel('read committed')
      .execute(async (trx) => {
        // A write is the one lock both dialects share: a row lock on MySQL, the write lock on SQLite.
        await trx.updateTable('ban_sequence').set({ value: sql`value` }).where('id', '=', 1).execute()
        const { value: last } = await trx.selectFrom('ban_sequence').select('value').where('id', '=', 1).executeTakeFirstOrThrow()
        const ids = await adapter.selectUnstampedBanIds(trx, limit)
        const first = ids[0]
        const lastId = ids[ids.length - 1]
        if (first === undefined || lastId === undefined) return 0
        // seq = id shifted above the last stamp: unique and increasing within the batch with a
        // single UPDATE; the gaps it leaves do not matter to a cursor.
        const offset = Number(last) + 1 - first
        await trx
          .updateTable('bans')
          .set({ seq: sql`id + ${offset}` })
          .where('id', 'in', ids)
          .execute()
        await trx.updateTable('ban_sequence').set({ value: lastId + offset }).where('id', '=', 1).execute()
        return ids.length
      }),
  )
}
