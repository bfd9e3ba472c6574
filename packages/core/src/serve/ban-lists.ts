import { createHash } from 'node:crypto'
import { parseJail } from '../ban/names.js'
import type { CentralDb } from '../db/db-adapter.js'
import { readBanListVersion } from '../db/queries/ban-export.js'
import { InvalidValueError } from '../errors.js'
import { ExportTally, readListClock, streamActiveAddresses, streamActiveBans, type ExportFilter, type ExportedBan } from '../fleet/export-addresses.js'
import { ipsetFormat, nftFormat, parseTableName, plainFormat, renderList, setNames, type ListFormat } from '../fleet/firewall-script.js'
import { dbTimeToIso } from '../time/db-time.js'

/** The list formats serve answers. */
export type ListKind = 'txt' | 'ipset' | 'nft' | 'json'

/** The query parameters each list takes; anything else is a 400 naming it. */
export const LIST_PARAMETERS: Record<ListKind, readonly string[]> = {
  txt: ['jail', 'family'],
  ipset: ['jail', 'family', 'set'],
  nft: ['jail', 'family', 'set', 'table'],
  json: ['jail', 'family'],
}

/** A list request, validated. */
export interface ListRequest {
  readonly kind: ListKind
  readonly filter: ExportFilter
  /** ipset and nft: the set base name (default f2b-central, as `export`). */
  readonly set: string
  /** nft: the table (default f2b-central, as `export`). */
  readonly table: string
}

// Bump when what a list's text looks like changes, so no cached copy is taken for the new one.
const LIST_TEXT_VERSION = 1

/**
 * Validate a list's query parameters. Throws InvalidValueError naming the parameter:
 * `invalid family "5": expected 4 or 6`, `invalid jail "a b": …`.
 */
export function parseListRequest(kind: ListKind, params: ReadonlyMap<string, string>): ListRequest {
  const jail = params.get('jail')
  const family = params.get('family')
  if (family !== undefined && family !== '4' && family !== '6') throw new InvalidValueError('family', family, 'expected 4 or 6')
  const set = params.get('set') ?? 'f2b-central'
  const table = params.get('table') ?? 'f2b-central'
  setNames(set, 'set')
  parseTableName(table, 'table')
  return { kind, filter: { jail: jail === undefined ? undefined : parseJail(jail), family: family === undefined ? undefined : (Number(family) as 4 | 6) }, set, table }
}

/** A list about to be sent: its ETag and type are known before any of it is read. */
export interface PreparedList {
  /** Which list (format and parameters), whatever its version. */
  readonly key: string
  readonly etag: string
  readonly contentType: string
  /** The text, read from the database page by page as it is consumed. */
  body(): AsyncGenerator<string>
}

/**
 * Prepare a list: fix the moment it is read at (the database's clock), and derive its ETag
 * from what the list depends on (readBanListVersion) and the request, so an unchanged list
 * is answered 304 without reading it. The ETag is read before the list: any change after it
 * makes the next ETag differ, so a consumer never keeps an outdated list.
 */
export async function prepareList(central: CentralDb, request: ListRequest): Promise<PreparedList> {
  const asOf = await readListClock(central)
  const version = await readBanListVersion(central, asOf)
  const etag = `"${createHash('sha256')
    .update(JSON.stringify([LIST_TEXT_VERSION, central.adapter.name, request, version]))
    .digest('base64url')
    .slice(0, 27)}"`
  const key = JSON.stringify(request)
  const tally = new ExportTally()
  const { kind, filter } = request
  if (kind === 'json') return { key, etag, contentType: 'application/json', body: () => renderBansJson(streamActiveBans(central, asOf, filter, tally), asOf, tally) }
  const format: ListFormat = kind === 'txt' ? plainFormat() : kind === 'ipset' ? ipsetFormat(setNames(request.set)) : nftFormat(request.table, setNames(request.set))
  return { key, etag, contentType: format.contentType, body: () => renderList(format, streamActiveAddresses(central, asOf, filter, tally)) }
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
  return ifNoneMatch.split(',').some((t) => t.trim() === '*' || bare(t) === etag)
}
