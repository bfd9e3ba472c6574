import { sql } from 'kysely'
import type { CentralDb } from '../db-adapter.js'
import { isActiveBan, isHeld } from './active-ban.js'

/** Active, unheld bans per jail (what the ban list holds, counted by ban, not by address). */
export async function countActiveBansByJail(central: CentralDb): Promise<{ jail: string; n: number }[]> {
  const { db, adapter } = central
  const rows = await db
    .selectFrom('bans as b')
    .where(isActiveBan(adapter))
    .where((eb) => eb.not(isHeld()))
    .groupBy('b.jail')
    .select((eb) => ['b.jail', eb.fn.countAll<number>().as('n')])
    .execute()
  return rows.map((r) => ({ jail: r.jail, n: Number(r.n) }))
}

/**
 * Bans reported since `since` (stored time text) per reporting host and jail, held ones
 * included: read through the `bans_created_at` index, so the cost follows the reports of that
 * window, never the history.
 */
export async function countReportsByHostAndJail(central: CentralDb, since: string): Promise<{ host: string; jail: string; n: number }[]> {
  const rows = await central.db
    .selectFrom('bans as b')
    .innerJoin('hosts as r', 'r.id', 'b.reporter_id')
    .where('b.created_at', '>=', since)
    .groupBy(['r.name', 'b.jail'])
    .select((eb) => ['r.name', 'b.jail', eb.fn.countAll<number>().as('n')])
    .execute()
  return rows.map((r) => ({ host: r.name, jail: r.jail, n: Number(r.n) }))
}

/**
 * Bans reported since `since` per jail and hour: `hour` is the stored time's first 13
 * characters, `YYYY-MM-DD HH` (UTC), the same text on both dialects (MySQL turns its DATETIME
 * into that text for SUBSTR).
 */
export async function countReportsPerHour(central: CentralDb, since: string): Promise<{ jail: string; hour: string; n: number }[]> {
  const hour = sql<string>`SUBSTR(b.created_at, 1, 13)`
  const rows = await central.db
    .selectFrom('bans as b')
    .where('b.created_at', '>=', since)
    .groupBy(['b.jail', hour])
    .select((eb) => ['b.jail', hour.as('hour'), eb.fn.countAll<number>().as('n')])
    .execute()
  return rows.map((r) => ({ jail: r.jail, hour: String(r.hour), n: Number(r.n) }))
}
