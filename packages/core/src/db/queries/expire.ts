import { sql } from 'kysely'
import type { CentralDb } from '../db-adapter.js'
import { withRetry } from '../retry.js'
import { BanStatus } from '../../schema/ban-status.js'
import { hasExpired, isRevoked } from './active-ban.js'

export interface ExpireOptions {
  /** Bans handled per transaction, so no transaction holds locks for long. Default 1000. */
  readonly batchSize?: number
}

export interface ExpireResult {
  /** Expired bans that had at least one undecided host. */
  readonly bans: number
  /** Host statuses set to 5 (status-0 rows updated plus rows created for hosts that had none). */
  readonly statuses: number
}

/**
 * Mark bans whose time ran out as expired (status 5) for every registered host that never
 * applied them (no status row, or status 0), as readdb would when it next met them. Works
 * through the expired bans by id, one bounded batch per transaction; bans an operator
 * revoked are left to the unban. Safe to run while readdb polls: only undecided statuses
 * change, and a row a poll inserted first is kept (INSERT IGNORE).
 */
export async function expireBans(central: CentralDb, options: ExpireOptions = {}): Promise<ExpireResult> {
  const { db, adapter } = central
  const batchSize = options.batchSize ?? 1000
  let bans = 0
  let statuses = 0
  let afterId = 0
  for (;;) {
    const rows = await db
      .selectFrom('bans as b')
      .select('b.id')
      .where(hasExpired(adapter))
      .where((eb) => eb.not(isRevoked()))
      .where('b.id', '>', afterId)
      // Skip bans every host has already decided: re-runs cost an index lookup per ban, not a write.
      .where((eb) =>
        eb(
          eb.selectFrom('ban_status as d').select(eb.fn.countAll().as('n')).whereRef('d.ban_id', '=', 'b.id').where('d.status', '<>', BanStatus.Pending),
          '<',
          eb.selectFrom('hosts').select(eb.fn.countAll().as('n')),
        ),
      )
      .orderBy('b.id')
      .limit(batchSize)
      .execute()
    const ids = rows.map((r) => Number(r.id))
    const last = ids[ids.length - 1]
    if (last === undefined) break
    afterId = last
    statuses += await withRetry(adapter, () =>
      db.transaction().execute(async (trx) => {
        const updated = await trx
          .updateTable('ban_status')
          .set({ status: BanStatus.Expired, error: null, updated_at: adapter.now() })
          .where('ban_id', 'in', ids)
          .where('status', '=', BanStatus.Pending)
          .executeTakeFirst()
        const inserted = await trx
          .insertInto('ban_status')
          .ignore()
          .columns(['host_id', 'ban_id', 'status'])
          .expression((eb) =>
            eb
              .selectFrom('hosts as h')
              .crossJoin('bans as b')
              .select(['h.id as host_id', 'b.id as ban_id', sql.lit(BanStatus.Expired).as('status')])
              .where('b.id', 'in', ids)
              .where((w) => w.not(w.exists(w.selectFrom('ban_status as s').select('s.host_id').whereRef('s.ban_id', '=', 'b.id').whereRef('s.host_id', '=', 'h.id')))),
          )
          .executeTakeFirst()
        return Number(updated.numUpdatedRows) + Number(inserted.numInsertedOrUpdatedRows ?? 0)
      }),
    )
    bans += ids.length
  }
  return { bans, statuses }
}
