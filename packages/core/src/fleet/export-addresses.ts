import { parseIp } from '../ban/ip-address.js'
import type { NetworkSet } from '../ban/network.js'
import type { CentralDb } from '../db/db-adapter.js'
import { loadAllowlist } from '../db/queries/allowlist.js'
import { selectActiveAddressPage, selectActiveBanPage, selectAddressPageEnd, selectBanPageEnd } from '../db/queries/ban-export.js'
import { readDatabaseNow } from '../db/queries/clock.js'
import { dbTimeToIso, toDbTime } from '../time/db-time.js'
import type { ListFormat } from './firewall-script.js'

/** One address of the active ban list. */
export interface ExportedAddress {
  readonly ip: string
  readonly version: 4 | 6
  /**
   * When its last active ban ends (ISO 8601 UTC); null: at least one ban is permanent;
   * undefined: not read (plain, ipset and nft lists do not need it).
   */
  readonly expiresAt?: string | null
}

/** One active ban, as `serve`'s `/v1/bans.json` lists it. Times are ISO 8601 UTC. */
export interface ExportedBan {
  readonly id: number
  readonly ip: string
  readonly version: 4 | 6
  readonly jail: string
  readonly protocol: string
  readonly port: string
  readonly reporter: string
  readonly bantime: number
  readonly reportedAt: string
  /** null: permanent. */
  readonly expiresAt: string | null
}

/** Which part of the list. */
export interface ExportFilter {
  readonly jail?: string | undefined
  /** One family only; both when left out (IPv4 first). */
  readonly family?: 4 | 6 | undefined
}

/** What a list left out, counted while it is read. */
export class ExportTally {
  /** Addresses (or bans) written. */
  exported = 0
  /** Actively banned, but the central allowlist or a fleet member's own address holds them. */
  allowlisted = 0
  /** Stored values that are not canonical, bannable addresses (a planted or corrupted row): never written. */
  rejected = 0
  /** The first 20 of those, for a warning. */
  readonly rejectedSamples: string[] = []

  reject(value: string): void {
    this.rejected++
    if (this.rejectedSamples.length < 20) this.rejectedSamples.push(value)
  }
}

/** Stored rows a page of a list covers (its active ones are what one query returns). */
export const EXPORT_PAGE = 5000

/** How a list is read. */
export interface StreamOptions {
  /** Read each address's expiry too (`export --format json`). Default false: the firewall formats need none. */
  readonly expiry?: boolean
  /** Default EXPORT_PAGE. */
  readonly pageSize?: number
}

/**
 * The moment a list is read at (the database's clock, as stored text): every page judges
 * expiry at this one moment, so what a list holds never depends on how fast it was read.
 */
export async function readListClock(central: CentralDb): Promise<string> {
  return toDbTime(await readDatabaseNow(central))
}

// The family of a stored value that is a canonical, bannable address, else undefined.
function canonicalFamily(text: string): 4 | 6 | undefined {
  try {
    const ip = parseIp(text)
    return ip.text === text ? ip.version : undefined
  } catch {
    return undefined
  }
}

async function fleetAllowlist(central: CentralDb): Promise<NetworkSet> {
  // A fleet member's own address never goes into a firewall list either.
  return (await loadAllowlist(central.db, { fleetAddresses: true })).networks
}

/**
 * The fleet's active ban list, one entry per address, read page by page (each page the next
 * EXPORT_PAGE stored rows in `bans_ip` order, so a million addresses never sit in memory): IPv4 first, then IPv6, each in the order
 * of the stored text. Every stored value is validated again here, where it leaves for a
 * firewall: a row with a newline, a CIDR or shell text in `ip` is counted in `tally` and
 * never yielded. Each page is its own query, with no transaction held open while a slow
 * consumer reads: a ban added or revoked while a list is read may or may not be in it
 * (the next list has it right).
 */
export async function* streamActiveAddresses(
  central: CentralDb,
  asOf: string,
  filter: ExportFilter,
  tally: ExportTally,
  options: StreamOptions = {},
): AsyncGenerator<ExportedAddress[]> {
  const pageSize = options.pageSize ?? EXPORT_PAGE
  const expiry = options.expiry ?? false
  const allowlist = await fleetAllowlist(central)
  for (const family of filter.family === undefined ? ([4, 6] as const) : [filter.family]) {
    let after: string | undefined
    for (;;) {
      const through = await selectAddressPageEnd(central, { family, after, size: pageSize })
      const rows = await selectActiveAddressPage(central, { asOf, family, jail: filter.jail, after, through, expiry })
      const page: ExportedAddress[] = []
      for (const r of rows) {
        if (canonicalFamily(r.ip) !== family) tally.reject(r.ip)
        else if (allowlist.hasCanonical(r.ip)) tally.allowlisted++
        else page.push(expiry ? { ip: r.ip, version: family, expiresAt: r.permanent ? null : dbTimeToIso(r.expiresAt ?? null) } : { ip: r.ip, version: family })
      }
      tally.exported += page.length
      // A page at a time: one step of the generator per address would cost more than the address itself.
      if (page.length > 0) yield page
      if (through === undefined) break
      after = through
    }
  }
}

/**
 * The active bans themselves (an address banned twice is there twice), page by page in id
 * order, IPv4 first: validated and filtered as streamActiveAddresses does.
 */
export async function* streamActiveBans(central: CentralDb, asOf: string, filter: ExportFilter, tally: ExportTally, options: StreamOptions = {}): AsyncGenerator<ExportedBan[]> {
  const pageSize = options.pageSize ?? EXPORT_PAGE
  const allowlist = await fleetAllowlist(central)
  for (const family of filter.family === undefined ? ([4, 6] as const) : [filter.family]) {
    let afterId = 0
    for (;;) {
      const throughId = await selectBanPageEnd(central, { afterId, size: pageSize })
      const rows = await selectActiveBanPage(central, { asOf, family, jail: filter.jail, afterId, throughId })
      const page: ExportedBan[] = []
      for (const r of rows) {
        if (canonicalFamily(r.ip) !== family) tally.reject(r.ip)
        else if (allowlist.hasCanonical(r.ip)) tally.allowlisted++
        else {
          page.push({
            id: r.id,
            ip: r.ip,
            version: family,
            jail: r.jail,
            protocol: r.protocol,
            port: r.port,
            reporter: r.reporter,
            bantime: r.bantime,
            reportedAt: dbTimeToIso(r.createdAt) ?? '',
            expiresAt: dbTimeToIso(r.expiresAt),
          })
        }
      }
      tally.exported += page.length
      if (page.length > 0) yield page
      if (throughId === undefined) break
      afterId = throughId
    }
  }
}

/**
 * `export --format json`: one JSON document, every address with its version and last expiry,
 * then the counts (known once the list has been read, so they come last).
 */
export function jsonAddressFormat(tally: ExportTally): ListFormat {
  let first = true
  return {
    contentType: 'application/json',
    begin: () => '{\n  "addresses": [',
    add: (a) => {
      const sep = first ? '\n    ' : ',\n    '
      first = false
      return sep + JSON.stringify({ ip: a.ip, version: a.version, expiresAt: a.expiresAt ?? null })
    },
    end: () => `${first ? '' : '\n  '}],\n  "count": ${tally.exported},\n  "allowlisted": ${tally.allowlisted},\n  "rejected": ${tally.rejected}\n}\n`,
  }
}
