import { sql, type SqlBool, type RawBuilder } from 'kysely'
import type { CentralDb } from '../db-adapter.js'
import { isActiveBan, isHeld } from './active-ban.js'

/** Which active bans a list holds. `asOf` is the moment (stored time text) activity is judged at, the same for every page. */
export interface BanPageQuery {
  readonly asOf: string
  /** 4: addresses without a colon, 6: with one (the stored text is validated again by the caller). */
  readonly family: 4 | 6
  readonly jail?: string | undefined
  readonly limit: number
}

/** One actively banned address as stored (not yet re-validated), with when its last ban ends. */
export interface ActiveAddressRow {
  readonly ip: string
  /** The latest expiry of its active bans, as stored text. */
  readonly expiresAt: string | null
  /** At least one of its active bans is permanent. */
  readonly permanent: boolean
}

function familyOf(family: 4 | 6): RawBuilder<SqlBool> {
  return family === 6 ? sql<SqlBool>`(b.ip LIKE '%:%')` : sql<SqlBool>`(b.ip NOT LIKE '%:%')`
}

/**
 * One page of the active ban list, one row per address, in the order of the stored text
 * after `after` (keyset paging on the `bans_ip` index: each page costs its own rows, never an
 * offset). Held bans are applied nowhere, so never listed.
 */
export async function selectActiveAddressPage(central: CentralDb, q: BanPageQuery & { readonly after?: string | undefined }): Promise<ActiveAddressRow[]> {
  const { db, adapter } = central
  let query = db
    .selectFrom('bans as b')
    .select((eb) => ['b.ip', eb.fn.max('b.expires_at').as('expires_at'), eb.fn.max(eb.case().when('b.expires_at', 'is', null).then(1).else(0).end()).as('permanent')])
    .where(isActiveBan(adapter, 'b', q.asOf))
    .where((eb) => eb.not(isHeld()))
    .where(familyOf(q.family))
  if (q.jail !== undefined) query = query.where('b.jail', '=', q.jail)
  if (q.after !== undefined) query = query.where('b.ip', '>', q.after)
  const rows = await query.groupBy('b.ip').orderBy('b.ip').limit(q.limit).execute()
  return rows.map((r) => ({ ip: r.ip, expiresAt: r.expires_at === null ? null : String(r.expires_at), permanent: Number(r.permanent) === 1 }))
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

/** One page of active bans, one row per ban, by id after `afterId` (keyset paging on the primary key). */
export async function selectActiveBanPage(central: CentralDb, q: BanPageQuery & { readonly afterId: number }): Promise<ActiveBanExportRow[]> {
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
  const rows = await query.orderBy('b.id').limit(q.limit).execute()
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
