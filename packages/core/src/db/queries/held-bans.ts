import type { CentralDb } from '../db-adapter.js'
import { withRetry } from '../retry.js'

/** A reporter's bans stored past the flood limit, waiting for an operator. */
export interface HeldBans {
  readonly reporter: string
  readonly count: number
  /** When the first of them was held (stored text). */
  readonly since: string
  readonly newest: string
}

/** Held bans per reporter, the most first. */
export async function listHeldBans(central: CentralDb): Promise<HeldBans[]> {
  const rows = await central.db
    .selectFrom('bans as b')
    .innerJoin('hosts as r', 'r.id', 'b.reporter_id')
    .where('b.held_at', 'is not', null)
    .groupBy('r.name')
    .select((eb) => ['r.name', eb.fn.countAll<number>().as('n'), eb.fn.min('b.held_at').as('since'), eb.fn.max('b.held_at').as('newest')])
    .execute()
  return rows
    .map((r) => ({ reporter: r.name, count: Number(r.n), since: String(r.since), newest: String(r.newest) }))
    .sort((a, b) => b.count - a.count || a.reporter.localeCompare(b.reporter))
}

/**
 * Release a reporter's held bans: they get stamped by the next poll and every host applies
 * them (those already expired record 5). Returns how many were released.
 */
export async function releaseHeldBans(central: CentralDb, reporter: string): Promise<number> {
  return withRetry(central.adapter, async () => {
    const r = await central.db
      .updateTable('bans')
      .set({ held_at: null })
      .where('held_at', 'is not', null)
      .where('reporter_id', '=', (eb) => eb.selectFrom('hosts').select('id').where('name', '=', reporter))
      .executeTakeFirst()
    return Number(r.numUpdatedRows)
  })
}

/** Delete a reporter's held bans (no other host ever applied them). Returns how many. */
export async function dropHeldBans(central: CentralDb, reporter: string): Promise<number> {
  return withRetry(central.adapter, async () => {
    const r = await central.db
      .deleteFrom('bans')
      .where('held_at', 'is not', null)
      .where('reporter_id', '=', (eb) => eb.selectFrom('hosts').select('id').where('name', '=', reporter))
      .executeTakeFirst()
    return Number(r.numDeletedRows)
  })
}
