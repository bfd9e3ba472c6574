import { sql, type RawBuilder } from 'kysely'
import { APPLIED_STATUSES } from '../../schema/ban-status.js'
import { toDbTime } from '../../time/db-time.js'
import type { TimeBound } from '../../time/time-bound.js'
import type { CentralDb, DbAdapter } from '../db-adapter.js'
import { isActiveBan, isHeld } from './active-ban.js'

/** Which active bans to select. */
export interface ActiveBanQuery {
  readonly jail?: string
  /** The reporting host's name. */
  readonly reporter?: string
  /** Reported at or after. */
  readonly since?: TimeBound
  /** Reported at or before. */
  readonly until?: TimeBound
  /** Leave out bans held past their reporter's flood limit (applied nowhere). Default: listed. */
  readonly unheldOnly?: boolean
}

/** How to narrow by address: one stored address, or an indexed text prefix paged from `after`. */
export interface AddressNarrowing {
  readonly exact?: string
  readonly prefix?: string
  readonly after?: { readonly created: string; readonly id: number } | undefined
}

export type ActiveBanRow = Awaited<ReturnType<typeof selectActiveBans>>[number]

/** Active bans, newest first, each with how many hosts applied it (status 1 or 2). */
export function selectActiveBans(central: CentralDb, filter: ActiveBanQuery, by: AddressNarrowing, limit: number) {
  const { db, adapter } = central
  let q = db
    .selectFrom('bans as b')
    .innerJoin('hosts as r', 'r.id', 'b.reporter_id')
    .select(['b.id', 'b.ip', 'b.jail', 'b.protocol', 'b.port', 'b.bantime', 'b.created_at', 'b.expires_at', 'r.name as reporter'])
    .select((eb) =>
      eb.selectFrom('ban_status as s').select(eb.fn.countAll<number>().as('n')).whereRef('s.ban_id', '=', 'b.id').where('s.status', 'in', APPLIED_STATUSES).as('applied'),
    )
    .where(isActiveBan(adapter))
  if (by.exact !== undefined) q = q.where('b.ip', '=', by.exact)
  if (by.prefix) q = q.where('b.ip', 'like', `${by.prefix}%`)
  if (by.after) {
    const { created, id } = by.after
    q = q.where((eb) => eb.or([eb('b.created_at', '<', created), eb.and([eb('b.created_at', '=', created), eb('b.id', '<', id)])]))
  }
  if (filter.unheldOnly) q = q.where((eb) => eb.not(isHeld()))
  if (filter.jail !== undefined) q = q.where('b.jail', '=', filter.jail)
  if (filter.reporter !== undefined) q = q.where('r.name', '=', filter.reporter)
  if (filter.since) q = q.where('b.created_at', '>=', timeBoundSql(adapter, filter.since))
  if (filter.until) q = q.where('b.created_at', '<=', timeBoundSql(adapter, filter.until))
  return q.orderBy('b.created_at', 'desc').orderBy('b.id', 'desc').limit(limit).execute()
}

/** The bound as an SQL value comparable with stored timestamps; relative bounds use the database's clock. */
export function timeBoundSql(adapter: DbAdapter, bound: TimeBound): RawBuilder<string> {
  return 'at' in bound ? sql<string>`${toDbTime(bound.at)}` : adapter.nowPlusSeconds(-bound.secondsAgo)
}
