import { canonicalTextPrefix } from '../ban/address-prefix.js'
import { isCanonicalIp } from '../ban/ip-address.js'
import { NetworkSet, type Network } from '../ban/network.js'
import type { CentralDb } from '../db/db-adapter.js'
import { selectActiveBans, type ActiveBanRow } from '../db/queries/ban-list.js'
import { countHosts } from '../db/queries/hosts.js'
import { dbTimeToIso } from '../time/db-time.js'
import type { TimeBound } from '../time/time-bound.js'
import type { BanFields } from './ban-fields.js'

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
  /** Leave out held bans (the status page lists them apart). Default: listed. */
  readonly unheldOnly?: boolean
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
  const hostCount = await countHosts(central.db)
  const net = filter.network
  const single = net !== undefined && net.prefix === (net.version === 4 ? 32 : 128)
  if (net === undefined || single) {
    const rows = await selectActiveBans(central, filter, single ? { exact: net!.address } : {}, filter.limit + 1)
    return { bans: rows.slice(0, filter.limit).map(toActiveBan), hostCount, truncated: rows.length > filter.limit }
  }
  const inside = new NetworkSet([net])
  const found: ActiveBanRow[] = []
  let after: { created: string; id: number } | undefined
  for (;;) {
    const page = await selectActiveBans(central, filter, { prefix: canonicalTextPrefix(net), after }, PAGE)
    for (const r of page) if (isCanonicalIp(r.ip) && inside.has(r.ip)) found.push(r)
    const last = page[page.length - 1]
    if (found.length > filter.limit || page.length < PAGE || !last) break
    after = { created: last.created_at, id: Number(last.id) }
  }
  return { bans: found.slice(0, filter.limit).map(toActiveBan), hostCount, truncated: found.length > filter.limit }
}

function toActiveBan(r: ActiveBanRow): ActiveBan {
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
