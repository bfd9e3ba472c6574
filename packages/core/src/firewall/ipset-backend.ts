import { FirewallError } from '../errors.js'
import type { FirewallConfig, FirewallNames } from './firewall-config.js'
import { setOf, type FirewallBackend, type SetContents } from './firewall-backend.js'
import { assertEntry, familyOf, type FirewallEntry } from './firewall-entry.js'
import { runTool, type ToolOutput } from './run-tool.js'

// The longest timeout ipset takes (seconds, about 24.8 days). A longer ban is loaded with this
// and refreshed by every resync (each resync re-adds what runs short), so it never lapses.
export const IPSET_MAX_TIMEOUT = 2_147_483
// Room for a large fleet: ipset's default maxelem is 65,536.
const MAXELEM = 1_048_576

function createLine(set: string, version: 4 | 6): string {
  return `create ${set} hash:net family ${version === 4 ? 'inet' : 'inet6'} timeout 0 maxelem ${MAXELEM} -exist\n`
}

function createLines(names: FirewallNames): string {
  return createLine(names.setV4, 4) + createLine(names.setV6, 6)
}

/** The set a whole load fills before it is swapped in: the name cut to leave room (ipset names are at most 31 characters). */
export function loadingSetOf(names: FirewallNames, version: 4 | 6): string {
  return `${setOf(names, version).slice(0, 25)}-load${version}`
}

function timeoutOf(e: FirewallEntry): number {
  return e.timeout === null ? 0 : Math.min(e.timeout, IPSET_MAX_TIMEOUT)
}

// Lines per piece of a load streamed into `ipset restore`.
const PIECE = 2000

/**
 * The whole load as an `ipset restore` script, in pieces of PIECE lines: both sets (hash:net,
 * so a CIDR ban is one entry, with `timeout` support; timeout 0 on an entry is permanent)
 * created when missing; every entry added with its timeout to a loading set of each family,
 * which is then swapped with the live one and destroyed. The live sets are never seen empty or
 * half full, and a load that fails on the way leaves them as they were. `-exist` on every add:
 * one entry twice never stops the rest. Every entry is checked before the first piece.
 */
export function ipsetLoadPieces(names: FirewallNames, entries: Iterable<FirewallEntry>): Iterable<string> {
  const all = [...entries]
  for (const e of all) assertEntry(e)
  const loading = { 4: loadingSetOf(names, 4), 6: loadingSetOf(names, 6) }
  return (function* () {
    yield `${createLines(names)}${createLine(loading[4], 4)}${createLine(loading[6], 6)}flush ${loading[4]}\nflush ${loading[6]}\n`
    for (let i = 0; i < all.length; i += PIECE) {
      let out = ''
      for (const e of all.slice(i, i + PIECE)) out += `add ${loading[e.version]} ${e.ip} timeout ${timeoutOf(e)} -exist\n`
      yield out
    }
    yield `swap ${loading[4]} ${names.setV4}\nswap ${loading[6]} ${names.setV6}\ndestroy ${loading[4]}\ndestroy ${loading[6]}\n`
  })()
}

/** The whole load as one text (`export --format ipset`): ipsetLoadPieces joined. */
export function ipsetLoadScript(names: FirewallNames, entries: Iterable<FirewallEntry>): string {
  return [...ipsetLoadPieces(names, entries)].join('')
}

/** One batch: `add … -exist` sets the timeout of an entry already there; `del … -exist` ignores one that is not. */
export function ipsetChangeScript(names: FirewallNames, add: readonly FirewallEntry[], remove: readonly string[]): string {
  let out = ''
  for (const ip of remove) out += `del ${setOf(names, familyOf(ip))} ${assertEntry({ ip, version: familyOf(ip), timeout: null })} -exist\n`
  for (const e of add) out += `add ${setOf(names, e.version)} ${assertEntry(e)} timeout ${timeoutOf(e)} -exist\n`
  return out
}

/** Parse `ipset save SET` output: each entry and its remaining seconds (0 or none: permanent). */
export function parseIpsetSave(text: string, into: SetContents): void {
  for (const line of text.split('\n')) {
    if (!line.startsWith('add ')) continue
    const [, , ip, key, value] = line.split(' ')
    if (ip === undefined) continue
    // hash:net prints a single address without /32 or /128.
    const t = key === 'timeout' ? Number(value) : 0
    into.set(ip, t > 0 ? t : null)
  }
}

/**
 * The ipset backend: sets through `ipset restore -exist`, and the iptables/ip6tables rules
 * that drop their sources in INPUT (and FORWARD with firewall.forward), inserted first so no
 * earlier ACCEPT lets a banned source in.
 */
export function ipsetBackend(
  config: Pick<FirewallConfig, 'backend' | 'table' | 'setV4' | 'setV6' | 'forward' | 'timeoutMs'>,
  programs = { ipset: ['ipset'], iptables: ['iptables'], ip6tables: ['ip6tables'] },
): FirewallBackend {
  const names: FirewallNames = config
  const restore = async (script: string | Iterable<string>) => {
    if (script !== '') await runTool([...programs.ipset, 'restore', '-exist'], script, config.timeoutMs)
  }
  const rule = (chain: string, set: string) => [chain, '-m', 'set', '--match-set', set, 'src', '-j', 'DROP']
  const ensureRule = async (tool: readonly string[], chain: string, set: string, wanted: boolean) => {
    const present = await runTool([...tool, '-w', '-C', ...rule(chain, set)], '', config.timeoutMs).then(
      () => true,
      (err: unknown) => {
        // -C exits 1 when the rule is not there; anything else (no iptables) is a real failure.
        if (err instanceof FirewallError && /\(exit 1\)/.test(err.message)) return false
        throw err
      },
    )
    if (wanted && !present) await runTool([...tool, '-w', '-I', ...rule(chain, set)], '', config.timeoutMs)
    if (!wanted && present) await runTool([...tool, '-w', '-D', ...rule(chain, set)], '', config.timeoutMs)
  }
  const ensure = async () => {
    await restore(createLines(names))
    for (const chain of ['INPUT', 'FORWARD']) {
      const wanted = chain === 'INPUT' || config.forward
      await ensureRule(programs.iptables, chain, names.setV4, wanted)
      await ensureRule(programs.ip6tables, chain, names.setV6, wanted)
    }
  }
  return {
    names,
    loadScript: (entries) => ipsetLoadScript(names, entries),
    ensure,
    change: (add, remove) => restore(ipsetChangeScript(names, add, remove)),
    async load(entries) {
      await restore(ipsetLoadPieces(names, entries))
    },
    async list() {
      const contents: SetContents = new Map()
      for (const set of [names.setV4, names.setV6]) {
        const out: ToolOutput = await runTool([...programs.ipset, 'save', set], '', config.timeoutMs)
        parseIpsetSave(out.stdout, contents)
      }
      return contents
    },
  }
}
