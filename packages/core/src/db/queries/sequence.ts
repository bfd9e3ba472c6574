import type { CentralDb } from '../db-adapter.js'

/**
 * Give committed bans their commit-order stamp (`bans.seq`), so pollers can use `seq` as a
 * cursor. Auto-increment ids cannot be one: they are handed out at insert, so a ban whose
 * transaction commits late has a lower id than bans a poller has already passed (and on
 * Galera or TiDB ids are not even ordered). Stamps are handed out under the ban_sequence row
 * lock, only to rows that are already committed, so every stamp is higher than every stamp
 * any poller could have seen before: a cursor on `seq` never skips a ban.
 *
 * Any poller may stamp; the lock is only taken when an unstamped row exists. Held bans are
 * not stamped until released. Returns how many bans were stamped.
 *
 * Read committed, because under repeatable read the locking read of `seq IS NULL` also
 * gap-locks the `bans_seq` index, and a report inserting its (NULL) entry there then waits
 * on the stamper while the stamper waits on the report's row: a deadlock on every busy
 * minute. Read committed takes no gap locks; the ban_sequence row lock alone orders stamps.
 * (SQLite has one writer and ignores the level.)
 */
export async function stampCommittedBans(central: CentralDb, limit: number): Promise<number> {
  return central.adapter.hostWrites.stampCommittedBans(central.db, limit)
}
