import type { FirewallConfig, FirewallNames } from './firewall-config.js'
import { setOf, type FirewallBackend, type SetContents } from './firewall-backend.js'
import { assertEntry, familyOf, type FirewallEntry } from './firewall-entry.js'
import { withoutCovered } from './covered-entries.js'
import { runTool } from './run-tool.js'

// Elements per `add element` statement: keeps lines a sane length for nft's parser.
const CHUNK = 1000
// Before fail2ban's and most admins' filter chains (priority 0), so nothing accepts a banned source first.
const PRIORITY = -10

/**
 * The set an entry goes in. A CIDR ban goes in the family's set (`bans_v4`, `bans_v6`: `flags
 * interval, timeout`, so a network is an interval and each element carries the fleet ban's
 * remaining time); a single address in its `_addr` companion (`bans_v4_addr`: `flags timeout`,
 * a hash). Why two: nft reads an interval set's every element before it changes one (to check
 * overlaps), so with 100,000 addresses in it each poll's `nft -f` took seconds and 135 MB; a
 * hash set takes a batch of 5,000 in a third of a second (README "Firewall mode", figure 7).
 */
export function nftSetFor(names: FirewallNames, e: { version: 4 | 6; ip: string }): string {
  const set = setOf(names, e.version)
  return e.ip.includes('/') ? set : `${set}_addr`
}

const ALL_SETS = (names: FirewallNames) =>
  [
    [names.setV4, 'ipv4_addr', 'interval, timeout'],
    [`${names.setV4}_addr`, 'ipv4_addr', 'timeout'],
    [names.setV6, 'ipv6_addr', 'interval, timeout'],
    [`${names.setV6}_addr`, 'ipv6_addr', 'timeout'],
  ] as const

/**
 * The table, its sets and the chains that drop their sources. Every statement is an `add` (a
 * no-op where it exists) and the chains are flushed and refilled, so the same text runs any
 * number of times. The forward chain always exists (an empty one accepts everything) so that
 * turning firewall.forward off takes its rules out.
 */
export function nftSetupScript(names: FirewallNames, forward: boolean): string {
  const t = `inet ${names.table}`
  const lines = [`add table ${t}`]
  for (const [set, type, flags] of ALL_SETS(names)) lines.push(`add set ${t} ${set} { type ${type}; flags ${flags}; }`)
  for (const hook of ['input', 'forward'] as const) {
    lines.push(`add chain ${t} ${hook} { type filter hook ${hook} priority ${PRIORITY}; policy accept; }`, `flush chain ${t} ${hook}`)
    if (hook === 'input' || forward) for (const [set, type] of ALL_SETS(names)) lines.push(`add rule ${t} ${hook} ${type === 'ipv4_addr' ? 'ip' : 'ip6'} saddr @${set} drop`)
  }
  return `${lines.join('\n')}\n`
}

function element(e: FirewallEntry): string {
  const ip = assertEntry(e)
  return e.timeout === null ? ip : `${ip} timeout ${e.timeout}s`
}

// Statements per set, in the order of ALL_SETS, at most CHUNK elements each.
function elementStatements(verb: 'add' | 'delete', names: FirewallNames, bySet: Map<string, string[]>): string {
  let out = ''
  for (const [set] of ALL_SETS(names)) {
    const all = bySet.get(set) ?? []
    for (let i = 0; i < all.length; i += CHUNK) out += `${verb} element inet ${names.table} ${set} { ${all.slice(i, i + CHUNK).join(', ')} }\n`
  }
  return out
}

function bySet<T extends { version: 4 | 6; ip: string }>(names: FirewallNames, items: Iterable<T>, text: (t: T) => string): Map<string, string[]> {
  const out = new Map<string, string[]>()
  for (const t of items) {
    const set = nftSetFor(names, t)
    const list = out.get(set)
    if (list) list.push(text(t))
    else out.set(set, [text(t)])
  }
  return out
}

/**
 * The whole load: setup, every set flushed, every entry added, as one `nft -f` transaction
 * (the sets are never seen empty), in pieces of CHUNK elements for streaming into nft. A
 * network inside a wider one is left out: an interval set refuses overlapping elements, and
 * the wider one drops it anyway. Every entry is checked before the first piece.
 */
export function nftLoadPieces(names: FirewallNames, forward: boolean, entries: Iterable<FirewallEntry>): Iterable<string> {
  const sets = bySet(names, withoutCovered(entries), element)
  return (function* () {
    yield nftSetupScript(names, forward) +
      ALL_SETS(names)
        .map(([set]) => `flush set inet ${names.table} ${set}\n`)
        .join('')
    for (const [set] of ALL_SETS(names)) {
      const all = sets.get(set) ?? []
      for (let i = 0; i < all.length; i += CHUNK) yield `add element inet ${names.table} ${set} { ${all.slice(i, i + CHUNK).join(', ')} }\n`
    }
  })()
}

/** The whole load as one text (`export --format nft`): nftLoadPieces joined. */
export function nftLoadScript(names: FirewallNames, forward: boolean, entries: Iterable<FirewallEntry>): string {
  return [...nftLoadPieces(names, forward, entries)].join('')
}

/**
 * One poll's batch as one transaction. nftables keeps an element's old timeout when it is
 * added again, and refuses to delete what is not there, so each address is first added bare
 * (a no-op if present), then deleted, then added with its new timeout (or left out).
 */
export function nftChangeScript(names: FirewallNames, add: readonly FirewallEntry[], remove: readonly string[]): string {
  const touched = [
    ...add.map((e) => ({ ip: assertEntry(e), version: e.version })),
    ...remove.map((ip) => ({ ip: assertEntry({ ip, version: familyOf(ip), timeout: null }), version: familyOf(ip) })),
  ]
  if (touched.length === 0) return ''
  const bare = bySet(names, touched, (t) => t.ip)
  return elementStatements('add', names, bare) + elementStatements('delete', names, bare) + elementStatements('add', names, bySet(names, add, element))
}

interface NftJsonElem {
  elem?: { val?: unknown; timeout?: number; expires?: number }
}

function valueText(val: unknown): string | undefined {
  if (typeof val === 'string') return val
  const prefix = (val as { prefix?: { addr?: unknown; len?: unknown } } | null)?.prefix
  if (prefix && typeof prefix.addr === 'string' && typeof prefix.len === 'number') return `${prefix.addr}/${prefix.len}`
  return undefined
}

/** Parse `nft -j list set` output: each element's text and its remaining seconds. */
export function parseNftSet(json: string, into: SetContents): void {
  const doc = JSON.parse(json) as { nftables?: { set?: { elem?: (string | NftJsonElem | { prefix: unknown })[] } }[] }
  for (const item of doc.nftables ?? []) {
    for (const e of item.set?.elem ?? []) {
      if (typeof e === 'string') into.set(e, null)
      else if ('elem' in e && e.elem) {
        const text = valueText(e.elem.val)
        if (text !== undefined) into.set(text, e.elem.timeout === undefined ? null : (e.elem.expires ?? 0))
      } else {
        const text = valueText(e)
        if (text !== undefined) into.set(text, null)
      }
    }
  }
}

/** The nftables backend: everything through `nft -f -` and `nft -j list set`. */
export function nftBackend(config: Pick<FirewallConfig, 'backend' | 'table' | 'setV4' | 'setV6' | 'forward' | 'timeoutMs'>, nft: readonly string[] = ['nft']): FirewallBackend {
  const names: FirewallNames = config
  const apply = async (script: string | Iterable<string>) => {
    if (script !== '') await runTool([...nft, '-f', '-'], script, config.timeoutMs)
  }
  return {
    names,
    loadScript: (entries) => nftLoadScript(names, config.forward, entries),
    ensure: () => apply(nftSetupScript(names, config.forward)),
    change: (add, remove) => apply(nftChangeScript(names, add, remove)),
    load: (entries) => apply(nftLoadPieces(names, config.forward, entries)),
    async list() {
      const contents: SetContents = new Map()
      for (const [set] of ALL_SETS(names)) parseNftSet((await runTool([...nft, '-j', 'list', 'set', 'inet', names.table, set], '', config.timeoutMs)).stdout, contents)
      return contents
    },
  }
}
