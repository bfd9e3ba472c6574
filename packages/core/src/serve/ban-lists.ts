import { createHash } from 'node:crypto'
import { parseJail } from '../ban/names.js'
import type { CentralDb } from '../db/db-adapter.js'
import { readBanListVersion } from '../db/queries/ban-export.js'
import { InvalidValueError } from '../errors.js'
import { ExportTally, readListClock, streamActiveAddresses, streamActiveBans, type ExportFilter, type ExportedBan } from '../fleet/export-addresses.js'
import { parseTableName, plainFormat, renderList, setNames } from '../fleet/firewall-script.js'
import type { FirewallConfig } from '../firewall/firewall-config.js'
import { firewallLoadBackend, readFirewallLoad } from '../firewall/firewall-load.js'
import type { EntryGuard } from '../firewall/firewall-sync.js'
import { dbTimeToIso } from '../time/db-time.js'

/** The list formats serve answers. */
export type ListKind = 'txt' | 'ipset' | 'nft' | 'json'

/**
 * The query parameters each list takes; anything else is a 400 naming it. The firewall
 * scripts are the firewall mode's whole load, as `export` prints it: no jail or family.
 */
export const LIST_PARAMETERS: Record<ListKind, readonly string[]> = {
  txt: ['jail', 'family'],
  ipset: ['set'],
  nft: ['set', 'table'],
  json: ['jail', 'family'],
}

/** A list request, validated. */
export interface ListRequest {
  readonly kind: ListKind
  readonly filter: ExportFilter
  /** ipset and nft: the set base name asked for (NAME-v4, NAME-v6); else the configured names, as `export --set`. */
  readonly set?: string | undefined
  /** nft: the table asked for; else the configured one, as `export --table`. */
  readonly table?: string | undefined
}

/**
 * How `/v1/bans.nft` and `/v1/bans.ipset` are made, as `export --format nft|ipset` makes them
 * with the same config: its firewall section's names where it names that backend, and what
 * its allowlist and infrastructure leave out.
 */
export interface FirewallScripts {
  readonly configured: FirewallConfig | undefined
  readonly guard: EntryGuard | undefined
}

// Bump when what a list's text looks like changes, so no cached copy is taken for the new one.
const LIST_TEXT_VERSION = 2
// A firewall script holds each entry's remaining time, counted when it is rendered: a
// rendering is sent for at most this long, so a fresh pull's timeouts are at most this late.
const TIMED_RENDER_MS = 10_000

/**
 * Validate a list's query parameters. Throws InvalidValueError naming the parameter:
 * `invalid family "5": expected 4 or 6`, `invalid jail "a b": …`.
 */
export function parseListRequest(kind: ListKind, params: ReadonlyMap<string, string>): ListRequest {
  const jail = params.get('jail')
  const family = params.get('family')
  if (family !== undefined && family !== '4' && family !== '6') throw new InvalidValueError('family', family, 'expected 4 or 6')
  const set = params.get('set')
  const table = params.get('table')
  if (set !== undefined) setNames(set, 'set')
  if (table !== undefined) parseTableName(table, 'table')
  return { kind, filter: { jail: jail === undefined ? undefined : parseJail(jail), family: family === undefined ? undefined : (Number(family) as 4 | 6) }, set, table }
}

/** A list about to be sent: its ETag and type are known before any of it is read. */
export interface PreparedList {
  /** Which list (format and parameters), whatever its version. */
  readonly key: string
  readonly etag: string
  /** Which rendering of it may be sent: the ETag, and for a firewall script the time it is rendered in. */
  readonly rendering: string
  readonly contentType: string
  /** The text, read from the database (page by page for the plain and JSON lists) as it is consumed. */
  body(): AsyncGenerator<string>
}

/**
 * Prepare a list: fix the moment it is read at (the database's clock), and derive its ETag
 * from what the list depends on (readBanListVersion) and the request, so an unchanged list
 * is answered 304 without reading it. The ETag is read before the list: any change after it
 * makes the next ETag differ, so a consumer never keeps an outdated list.
 *
 * The firewall scripts are the firewall mode's load script (readFirewallLoad, the code of
 * `export --format nft|ipset`), with each entry's remaining time: their ETag is weak (a
 * consumer that loaded the list keeps correct timeouts, counting down in its kernel, and gets
 * a 304), and a rendering is sent for TIMED_RENDER_MS at most.
 */
export async function prepareList(central: CentralDb, request: ListRequest, firewall?: FirewallScripts): Promise<PreparedList> {
  const asOf = await readListClock(central)
  const version = await readBanListVersion(central, asOf)
  const hash = createHash('sha256')
    .update(JSON.stringify([LIST_TEXT_VERSION, central.adapter.name, request, version]))
    .digest('base64url')
    .slice(0, 27)
  const key = JSON.stringify(request)
  const tally = new ExportTally()
  const { kind, filter } = request
  if (kind === 'ipset' || kind === 'nft') {
    const sets = request.set === undefined ? undefined : setNames(request.set, 'set')
    const backend = firewallLoadBackend({ backend: kind === 'nft' ? 'nftables' : 'ipset', sets, table: request.table }, firewall?.configured)
    return {
      key,
      etag: `W/"${hash}"`,
      rendering: `"${hash}"@${Math.floor(Date.now() / TIMED_RENDER_MS)}`,
      contentType: 'text/plain; charset=utf-8',
      body: async function* () {
        yield (await readFirewallLoad(central, backend, firewall?.guard)).script
      },
    }
  }
  const etag = `"${hash}"`
  if (kind === 'json')
    return { key, etag, rendering: etag, contentType: 'application/json', body: () => renderBansJson(streamActiveBans(central, asOf, filter, tally), asOf, tally) }
  const format = plainFormat()
  return { key, etag, rendering: etag, contentType: format.contentType, body: () => renderList(format, streamActiveAddresses(central, asOf, filter, tally)) }
}

// `/v1/bans.json`: one ban a line inside one JSON document, the counts at the end.
async function* renderBansJson(pages: AsyncIterable<readonly ExportedBan[]>, asOf: string, tally: ExportTally): AsyncGenerator<string> {
  let out = `{"asOf":${JSON.stringify(dbTimeToIso(asOf))},"bans":[`
  let first = true
  for await (const page of pages) {
    for (const b of page) {
      out += `${first ? '\n' : ',\n'}${JSON.stringify(b)}`
      first = false
    }
    yield out
    out = ''
  }
  yield `${out}\n],"count":${tally.exported},"allowlisted":${tally.allowlisted},"rejected":${tally.rejected}}\n`
}

/** Whether an `If-None-Match` header names `etag` (weak comparison, `*` included). */
export function etagMatches(ifNoneMatch: string | undefined, etag: string): boolean {
  if (ifNoneMatch === undefined) return false
  const bare = (t: string) => t.trim().replace(/^W\//, '')
  return ifNoneMatch.split(',').some((t) => t.trim() === '*' || bare(t) === bare(etag))
}
