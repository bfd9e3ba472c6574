import type { Network, NetworkSet } from '../ban/network.js'
import { parseNetwork } from '../ban/network.js'
import type { CentralDb } from '../db/db-adapter.js'
import { loadAllowlist } from '../db/queries/allowlist.js'
import { readDatabaseNow } from '../db/queries/clock.js'
import { selectFirewallBanPage } from '../db/queries/firewall-bans.js'
import { dbTimeMs, toDbTime } from '../time/db-time.js'
import { withoutCovered } from './covered-entries.js'
import type { FirewallBackend, SetContents } from './firewall-backend.js'
import { firewallEntry, isNetworkEntry, remainingTimeout, type FirewallEntry } from './firewall-entry.js'
import { IPSET_MAX_TIMEOUT } from './ipset-backend.js'

/** Addresses this host never drops besides the central allowlist: its config's allowlist, its own addresses, its infrastructure. */
export interface EntryGuard {
  has(ip: string): boolean
  overlaps(n: Network): boolean
}

/** Every address and network the kernel sets should hold, and what was left out on the way. */
export interface DesiredEntries {
  readonly entries: FirewallEntry[]
  /** Stored values that are no address or bannable network (a planted row): never in a script. */
  readonly rejected: number
  readonly rejectedSamples: readonly string[]
  /** Active, but allowlisted (central, local, fleet members, infrastructure). */
  readonly allowlisted: number
}

const PAGE = 5000

/**
 * The fleet's active, unheld bans as kernel set entries, read page by page: each stored value
 * checked again (firewallEntry), an address banned twice given its longest remaining time
 * (none when one ban is permanent), allowlisted ones left out (a network that would cover an
 * allowlisted address is left out whole), then those a wider entry covers. Times are judged by
 * the database's clock.
 */
export async function readDesiredEntries(central: CentralDb, guard: EntryGuard | undefined): Promise<DesiredEntries> {
  const now = await readDatabaseNow(central)
  const asOf = toDbTime(now)
  const fleet: NetworkSet = (await loadAllowlist(central.db, { fleetAddresses: true })).networks
  // Longest end per stored value: ms since the epoch, null for permanent.
  const ends = new Map<string, number | null>()
  for (let afterId = 0; ; ) {
    const page = await selectFirewallBanPage(central, { asOf, afterId, size: PAGE })
    for (const r of page) {
      const end = r.expiresAt === null ? null : dbTimeMs(r.expiresAt)
      const known = ends.get(r.ip)
      if (known === undefined || (known !== null && (end === null || end > known))) ends.set(r.ip, end)
    }
    const last = page[page.length - 1]
    if (!last || page.length < PAGE) break
    afterId = last.id
  }
  const entries: FirewallEntry[] = []
  const rejectedSamples: string[] = []
  let rejected = 0
  let allowlisted = 0
  for (const [text, end] of ends) {
    const entry = firewallEntry(text, remainingTimeout(end, now.getTime()))
    if (entry === undefined) {
      rejected++
      if (rejectedSamples.length < 20) rejectedSamples.push(text)
    } else if (isAllowlisted(entry, fleet, guard)) allowlisted++
    else entries.push(entry)
  }
  // IPv4 first, then IPv6, each in the order of the text (as the plain list): scripts read the same from run to run.
  entries.sort((a, b) => a.version - b.version || (a.ip < b.ip ? -1 : a.ip > b.ip ? 1 : 0))
  return { entries: withoutCovered(entries), rejected, rejectedSamples, allowlisted }
}

/** Whether an entry must not be applied: it is, or (a network) it holds, an allowlisted address. */
export function isAllowlisted(entry: FirewallEntry, fleet: NetworkSet, guard: EntryGuard | undefined): boolean {
  if (!isNetworkEntry(entry)) return fleet.hasCanonical(entry.ip) || (guard?.has(entry.ip) ?? false)
  const n = parseNetwork(entry.ip)
  return fleet.overlaps(n) || (guard?.overlaps(n) ?? false)
}

/** What one resync changed. */
export interface ResyncResult {
  /** Entries the sets hold afterwards. */
  readonly entries: number
  /** Missing, and added. */
  readonly added: number
  /** There, and not an active ban's (unbanned, allowlisted, added by hand): taken out. */
  readonly removed: number
  /** There with a timeout off the fleet ban's remaining time: set again. */
  readonly refreshed: number
  /** added + removed + refreshed: how far the kernel had drifted from the fleet. */
  readonly drift: number
  /** The sets were loaded whole (empty, flushed, or most of it wrong) instead of changed entry by entry. */
  readonly fullLoad: boolean
  readonly rejected: number
  readonly rejectedSamples: readonly string[]
  readonly allowlisted: number
}

// A kernel timeout this close to the wanted one is right: the two are read a moment apart.
const TOLERANCE_S = 30
const TOLERANCE_FRACTION = 0.02

function timeoutIsOff(kernel: number | null, wanted: number | null, max: number): boolean {
  if (wanted === null) return kernel !== null
  if (kernel === null) return true
  const want = Math.min(wanted, max)
  return Math.abs(kernel - want) > Math.max(TOLERANCE_S, want * TOLERANCE_FRACTION)
}

/** The sets and rules created where missing, then what the sets hold. */
export async function readKernelSets(backend: FirewallBackend): Promise<SetContents> {
  await backend.ensure()
  return backend.list()
}

/**
 * Make the kernel sets equal to `desired`, given what they hold (readKernelSets): add what is
 * missing, take out what should not be there, and set again what has the wrong timeout, in
 * one batch. A set found empty (a reboot, `nft flush ruleset`, `ipset flush`) or mostly wrong
 * is loaded whole with loadScript, the very text `export --format nft|ipset` prints.
 */
export async function resyncFirewall(backend: FirewallBackend, desired: DesiredEntries, kernel: SetContents): Promise<ResyncResult> {
  const { entries, rejected, rejectedSamples, allowlisted } = desired
  const counts = { entries: entries.length, rejected, rejectedSamples, allowlisted }
  // Empty sets (a reboot, a flush, a new host): nothing to compare, everything to load.
  if (kernel.size === 0) {
    if (entries.length > 0) await backend.load(entries)
    return { ...counts, added: entries.length, removed: 0, refreshed: 0, drift: entries.length, fullLoad: entries.length > 0 }
  }
  const max = backend.names.backend === 'ipset' ? IPSET_MAX_TIMEOUT : Number.MAX_SAFE_INTEGER
  const wanted = new Set<string>()
  const add: FirewallEntry[] = []
  let added = 0
  let refreshed = 0
  for (const e of entries) {
    wanted.add(e.ip)
    if (!kernel.has(e.ip)) {
      added++
      add.push(e)
    } else if (timeoutIsOff(kernel.get(e.ip) ?? null, e.timeout, max)) {
      refreshed++
      add.push(e)
    }
  }
  const remove = [...kernel.keys()].filter((ip) => !wanted.has(ip))
  const drift = added + refreshed + remove.length
  const fullLoad = entries.length > 0 && drift > entries.length / 2
  if (fullLoad) await backend.load(entries)
  else if (drift > 0) await backend.change(add, remove.filter(isEntryText))
  return { ...counts, added, removed: remove.length, refreshed, drift, fullLoad }
}

// Something an admin put in the set by hand in a form this code never writes is taken out only
// by a full load; change() takes entry text only.
function isEntryText(ip: string): boolean {
  return firewallEntry(ip, null) !== undefined
}
