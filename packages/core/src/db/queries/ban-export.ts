import { sql, type SqlBool, type RawBuilder } from 'kysely'
import type { CentralDb } from '../db-adapter.js'
import { isActiveBan, isHeld } from './active-ban.js'

/** Which active bans a list holds. `asOf` is the moment (stored time text) activity is judged at, the same for every page. */
export interface BanPageQuery {
  readonly asOf: string
  /** 4: addresses without a colon, 6: with one (the stored text is validated again by the caller). */
  readonly family: 4 | 6
  readonly jail?: string | undefined
}

/** One actively banned address as stored (not yet re-validated), with when its last ban ends when that was asked for. */
export interface ActiveAddressRow {
  readonly ip: string
  /** The latest expiry of its active bans, as stored text; undefined when not asked for. */
  readonly expiresAt?: string | null
  /** At least one of its active bans is permanent; undefined when not asked for. */
  readonly permanent?: boolean
}

function familyOf(family: 4 | 6): RawBuilder<SqlBool> {
  return family === 6 ? sql<SqlBool>`(b.ip LIKE '%:%')` : sql<SqlBool>`(b.ip NOT LIKE '%:%')`
}

/**
 * Where a page of `size` index entries after `after` ends: the address at that offset in
 * the `bans_ip` index (read from the index alone), or undefined when fewer are left. The
 * page query is then bounded on both sides, so the database reads it through `bans_ip` in
 * order: left open, MariaDB may prefer the `bans_expires_at` range (every active ban) and
 * sort all of them for each page.
 */
export async function selectAddressPageEnd(
  central: CentralDb,
  q: { readonly family: 4 | 6; readonly after?: string | undefined; readonly size: number },
): Promise<string | undefined> {
  let query = central.db.selectFrom('bans as b').select('b.ip').where(familyOf(q.family))
  if (q.after !== undefined) query = query.where('b.ip', '>', q.after)
  const row = await query
    .orderBy('b.ip')
    .limit(1)
    .offset(q.size - 1)
    .executeTakeFirst()
  return row?.ip
}

/**
 * One page of the active ban list, one row per address, in the order of the stored text:
 * after `after`, up to and including `through` (selectAddressPageEnd). Held bans are applied
 * nowhere, so never listed.
 */
export async function selectActiveAddressPage(
  central: CentralDb,
  q: BanPageQuery & { readonly after?: string | undefined; readonly through?: string | undefined; readonly expiry: boolean },
): Promise<ActiveAddressRow[]> {
  const { db, adapter } = central
  let query = db
    .selectFrom('bans as b')
    .where(isActiveBan(adapter, 'b', q.asOf))
    .where((eb) => eb.not(isHeld()))
    .where(familyOf(q.family))
  if (q.jail !== undefined) query = query.where('b.jail', '=', q.jail)
  if (q.after !== undefined) query = query.where('b.ip', '>', q.after)
  if (q.through !== undefined) query = query.where('b.ip', '<=', q.through)
  query = query.groupBy('b.ip').orderBy('b.ip')
  if (!q.expiry) return query.select('b.ip').execute()
  const rows = await query
    .select((eb) => ['b.ip', eb.fn.max('b.expires_at').as('expires_at'), eb.fn.max(eb.case().when('b.expires_at', 'is', null).then(1).else(0).end()).as('permanent')])
    .execute()
  return rows.map((r) => ({ ip: r.ip, expiresAt: r.expires_at === null ? null : String(r.expires_at), permanent: Number(r.permanent) === 1 }))
}

/** Where a page of `size` bans after id `afterId` ends (the primary key alone), or undefined when fewer are left: as selectAddressPageEnd. */
export async function selectBanPageEnd(central: CentralDb, q: { readonly afterId: number; readonly size: number }): Promise<number | undefined> {
  const row = await central.db
    .selectFrom('bans')
    .select('id')
    .where('id', '>', q.afterId)
    .orderBy('id')
    .limit(1)
    .offset(q.size - 1)
    .executeTakeFirst()
  return row === undefined ? undefined : Number(row.id)
}

/** One active ban as stored (not yet re-validated), with its reporter's name. */
export interface ActiveBanExportRow {
  readonly id: number
  readonly ip: string
  readonly jail: string
  readonly protocol: string
  readonly port: string
  readonly bantime: number
  readonly createdAt: string
  readonly expiresAt: string | null
  readonly reporter: string
}

/** One page of active bans, one row per ban, by id: after `afterId`, up to and including `throughId` (selectBanPageEnd). */
export async function selectActiveBanPage(
  central: CentralDb,
  q: BanPageQuery & { readonly afterId: number; readonly throughId?: number | undefined },
): Promise<ActiveBanExportRow[]> {
  const { db, adapter } = central
  let query = db
    .selectFrom('bans as b')
    .innerJoin('hosts as r', 'r.id', 'b.reporter_id')
    .select(['b.id', 'b.ip', 'b.jail', 'b.protocol', 'b.port', 'b.bantime', 'b.created_at', 'b.expires_at', 'r.name as reporter'])
    .where('b.id', '>', q.afterId)
    .where(isActiveBan(adapter, 'b', q.asOf))
    .where((eb) => eb.not(isHeld()))
    .where(familyOf(q.family))
  if (q.jail !== undefined) query = query.where('b.jail', '=', q.jail)
  if (q.throughId !== undefined) query = query.where('b.id', '<=', q.throughId)
  const rows = await query.orderBy('b.id').execute()
  return rows.map((r) => ({
    id: Number(r.id),
    ip: r.ip,
    jail: r.jail,
    protocol: r.protocol,
    port: r.port,
    bantime: Number(r.bantime),
    createdAt: String(r.created_at),
    expiresAt: r.expires_at === null ? null : String(r.expires_at),
    reporter: r.reporter,
  }))
}

/**
 * What the active ban list depends on, read in a few indexed single-row queries whatever the
 * size of the table: the list's ETag is a hash of these. Whatever changes the list changes one
 * of them:
 *
 * - a ban committed, revoked or released is unstamped (`seq IS NULL`) until a poller stamps it,
 *   and then `ban_sequence` has moved: the unstamped rows' count, highest id, revoked and
 *   unheld counts, and the sequence, cover both moments;
 * - a ban running out changes nothing stored, so the earliest expiry after `asOf` is part of
 *   it: once the clock passes it, the next read finds a later one;
 * - the allowlist (its version) and the fleet's own addresses (`host_addresses`), which the
 *   list leaves out.
 *
 * Bans deleted (purge, `bans drop`) are expired or held, never listed. A row edited by hand in
 * place is the one change it can miss.
 */
export async function readBanListVersion(central: CentralDb, asOf: string): Promise<string[]> {
  const { db } = central
  const sequence = await db.selectFrom('ban_sequence').select('value').where('id', '=', 1).executeTakeFirst()
  const unstamped = await db
    .selectFrom('bans as b')
    .where('b.seq', 'is', null)
    .select((eb) => [
      eb.fn.countAll<number>().as('n'),
      eb.fn.max('b.id').as('last'),
      eb.fn.sum<number>(eb.case().when('b.revoked_at', 'is', null).then(0).else(1).end()).as('revoked'),
      eb.fn.sum<number>(eb.case().when('b.held_at', 'is', null).then(1).else(0).end()).as('unheld'),
    ])
    .executeTakeFirstOrThrow()
  const nextExpiry = await db
    .selectFrom('bans')
    .select((eb) => eb.fn.min('expires_at').as('at'))
    .where('expires_at', '>', asOf)
    .executeTakeFirstOrThrow()
  const allowlist = await db.selectFrom('allowlist_version').select('version').where('id', '=', 1).executeTakeFirst()
  const fleet = await db
    .selectFrom('host_addresses')
    .select((eb) => [eb.fn.countAll<number>().as('n'), eb.fn.max('created_at').as('last')])
    .executeTakeFirstOrThrow()
  return [
    String(sequence?.value ?? 0),
    String(unstamped.n),
    String(unstamped.last ?? 0),
    String(unstamped.revoked ?? 0),
    String(unstamped.unheld ?? 0),
    String(nextExpiry.at ?? '-'),
    String(allowlist?.version ?? 0),
    String(fleet.n),
    String(fleet.last ?? '-'),
  ]
}
