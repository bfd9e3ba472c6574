import type { BanFields } from './ban-fields.js'
import { isCanonicalIp } from '../ban/ip-address.js'
import { NetworkSet, type Network } from '../ban/network.js'
import type { CentralDb } from '../db/db-adapter.js'
import { dbTimeToIso } from '../time/db-time.js'
import { timeBoundSql, type TimeBound } from '../time/time-bound.js'
import { isActiveBan } from './active-ban.js'
import { canonicalTextPrefix } from '../ban/address-prefix.js'
import { APPLIED_STATUSES } from './ban-status-name.js'

/** Which active bans to list. Every field is optional except the limit. */
export interface BanListFilter {
  /** An address (a /32 or /128) or a network. */
  readonly network?: Network
  readonly jail?: string
  /** The reporting host's name. */
  readonly reporter?: string
  /** Reported at or after. */
  readonly since?: TimeBound
  /** Reported at or before. */
  readonly until?: TimeBound
  /** Most bans returned, newest first; `bans` defaults it to 100. */
  readonly limit: number
}

/** One active ban with how many hosts enforce it. Times are ISO 8601 UTC. */
export interface ActiveBan extends BanFields {
  readonly id: number
  readonly ip: string
  /** Hosts with status 1 (added) or 2 (already banned). */
  readonly appliedHosts: number
}

export interface BanList {
  readonly bans: readonly ActiveBan[]
  /** Registered hosts, the denominator of `appliedHosts`. */
  readonly hostCount: number
  /** More bans matched than the limit. */
  readonly truncated: boolean
}

// A network search pages through candidates in this many rows per query.
const PAGE = 1000

/**
 * Active bans (not expired, not revoked), newest first. An address filter is an indexed
 * equality; a network filter narrows candidates with an indexed text prefix and tests each
 * stored address exactly in code, page by page, so no query is unbounded.
 */
export async function listActiveBans(central: CentralDb, filter: BanListFilter): Promise<BanList> {
  const { db } = central
  const { n: hostCount } = await db
    .selectFrom('hosts')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .executeTakeFirstOrThrow()
  const net = filter.network
  const single = net !== undefined && net.prefix === (net.version === 4 ? 32 : 128)
  if (net === undefined || single) {
    const rows = await candidates(central, filter, single ? { exact: net!.address } : {}, filter.limit + 1)
    return { bans: rows.slice(0, filter.limit).map(toActiveBan), hostCount: Number(hostCount), truncated: rows.length > filter.limit }
  }
  const inside = new NetworkSet([net])
  const found: Row[] = []
  let after: { created: string; id: number } | undefined
  for (;;) {
    const page = await candidates(central, filter, { prefix: canonicalTextPrefix(net), after }, PAGE)
    for (const r of page) if (isCanonicalIp(r.ip) && inside.has(r.ip)) found.push(r)
    const last = page[page.length - 1]
    if (found.length > filter.limit || page.length < PAGE || !last) break
    after = { created: last.created_at, id: Number(last.id) }
  }
  return { bans: found.slice(0, filter.limit).map(toActiveBan), hostCount: Number(hostCount), truncated: found.length > filter.limit }
}

type Row = Awaited<ReturnType<typeof candidates>>[number]

function candidates(central: CentralDb, filter: BanListFilter, by: { exact?: string; prefix?: string; after?: { created: string; id: number } | undefined }, limit: number) {
  const { db, adapter } = central
  let q = db
    .selectFrom('bans as b')
    .innerJoin('hosts as r', 'r.id', 'b.reporter_id')
    .select(['b.id', 'b.ip', 'b.jail', 'b.protocol', 'b.port', 'b.bantime', 'b.created_at', 'b.expires_at', 'r.name as reporter'])
    .select((eb) =>
      eb
        .selectFrom('ban_status as s')
        .select(eb.fn.countAll<number>().as('n'))
        .whereRef('s.ban_id', '=', 'b.id')
        .where('s.status', 'in', APPLIED_STATUSES)
        .as('applied'),
    )
    .where(isActiveBan(adapter))
  if (by.exact !== undefined) q = q.where('b.ip', '=', by.exact)
  if (by.prefix) q = q.where('b.ip', 'like', `${by.prefix}%`)
  if (by.after) {
    const { created, id } = by.after
    q = q.where((eb) => eb.or([eb('b.created_at', '<', created), eb.and([eb('b.created_at', '=', created), eb('b.id', '<', id)])]))
  }
  if (filter.jail !== undefined) q = q.where('b.jail', '=', filter.jail)
  if (filter.reporter !== undefined) q = q.where('r.name', '=', filter.reporter)
  if (filter.since) q = q.where('b.created_at', '>=', timeBoundSql(adapter, filter.since))
  if (filter.until) q = q.where('b.created_at', '<=', timeBoundSql(adapter, filter.until))
  return q.orderBy('b.created_at', 'desc').orderBy('b.id', 'desc').limit(limit).execute()
}

function toActiveBan(r: Row): ActiveBan {
  return {
    id: Number(r.id),
    ip: r.ip,
    jail: r.jail,
    protocol: r.protocol,
    port: r.port,
    reporter: r.reporter,
    bantime: Number(r.bantime),
    createdAt: dbTimeToIso(r.created_at) ?? '',
    expiresAt: dbTimeToIso(r.expires_at),
    appliedHosts: Number(r.applied ?? 0),
  }
}
