import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { NetworkSet } from '../ban/network.js'
import { describeError } from '../errors.js'
import type { CentralDb } from '../db/db-adapter.js'
import { stillBanned } from '../db/queries/active-addresses.js'
import type { PendingBan } from '../db/queries/pending.js'
import { owesLocalUnban, type Decision } from '../poll/decide.js'
import { BanStatus } from '../schema/ban-status.js'
import { dbTimeMs } from '../time/db-time.js'
import type { FirewallBackend } from './firewall-backend.js'
import type { FirewallConfig } from './firewall-config.js'
import { firewallEntry, isNetworkEntry, remainingTimeout, type FirewallEntry } from './firewall-entry.js'
import { isAllowlisted, readDesiredEntries, readKernelSets, resyncFirewall, type EntryGuard, type ResyncResult } from './firewall-sync.js'
import { ipsetBackend } from './ipset-backend.js'
import { nftBackend } from './nft-backend.js'
import { runTool } from './run-tool.js'

/** What a batch did to the kernel sets, for the poll's counts. */
export interface FirewallBatchResult {
  readonly decisions: Decision[]
  /** A temporary failure (nft or ipset failed): the bans it touched stay pending with it. */
  readonly problem?: string
  /** The batch could not be applied as a change and the sets were resynced whole instead. */
  readonly resync?: ResyncResult
  /** killConnections failed (conntrack missing or refused): the bans stand, their open connections may not be cut. */
  readonly connectionsProblem?: string
}

/**
 * The poll's view of the firewall mode, the only thing poll.ts knows of it: a batch of
 * pending bans in, the statuses to record out, kernel sets changed on the way.
 */
export interface FirewallApplier {
  /**
   * Firewall mode alone (no fail2ban): decide every ban (4 revoked, 5 expired, 3 a stored
   * value that is no address or bannable network, 6 allowlisted, else 1) and apply the 1s and
   * 4s in one batch. A failure keeps what it touched pending (0) with the error.
   */
  decideAndApply(batch: readonly PendingBan[], fleet: NetworkSet, at: Date): Promise<FirewallBatchResult>
  /**
   * Beside fail2ban: what the fail2ban rule decided 1 or 2 (or kept pending because the
   * shared jail holds it) goes into the sets too, and 4 comes out. A 1 whose entry could not be
   * applied stays pending with the error: 1 means applied everywhere this host applies bans.
   */
  applyAlongside(decisions: readonly Decision[], fleet: NetworkSet, at: Date): Promise<FirewallBatchResult>
  /** Make the sets equal to the fleet's active bans for this host (readdb at start, every resyncMinutes, `--resync`). */
  resync(): Promise<ResyncResult>
}

// Two ends this close are the same ban (they are computed a moment apart).
const KNOWN_SLACK_MS = 5000

/** The backend a config names. */
export function createFirewallBackend(config: FirewallConfig): FirewallBackend {
  return config.backend === 'nftables' ? nftBackend(config) : ipsetBackend(config)
}

function entryFor(ban: PendingBan, at: Date): FirewallEntry | undefined {
  return firewallEntry(ban.ip, remainingTimeout(ban.expiresAt === null ? null : dbTimeMs(ban.expiresAt), at.getTime()))
}

/**
 * The firewall mode's applier over a backend. `guard` holds what this host never drops
 * besides the central allowlist (its config's allowlist and own addresses, its infrastructure).
 */
export function createFirewallApplier(
  central: CentralDb,
  config: Pick<FirewallConfig, 'killConnections' | 'timeoutMs'>,
  backend: FirewallBackend,
  guard: () => EntryGuard,
  conntrack: readonly string[] = ['conntrack'],
): FirewallApplier {
  // What the sets hold as far as this process knows (its last resync and the changes since):
  // each entry's end, ms (null: permanent). A ban already there with at least as long a time
  // is not sent again, so the first poll after a resync (a new host: every active ban) costs
  // no nft or ipset call. A set changed by hand is what the next resync repairs. Filled from
  // the last resync's entries when first needed: a one-shot `readdb --resync` never needs it.
  let known = new Map<string, number | null>()
  let loaded: { entries: readonly FirewallEntry[]; at: number } | undefined
  const endOf = (e: FirewallEntry, nowMs: number) => (e.timeout === null ? null : nowMs + e.timeout * 1000)
  const knownEnds = () => {
    if (loaded !== undefined) {
      for (const e of loaded.entries) known.set(e.ip, endOf(e, loaded.at))
      loaded = undefined
    }
    return known
  }
  const covers = (e: FirewallEntry, nowMs: number) => {
    const ends = knownEnds()
    if (!ends.has(e.ip)) return false
    const end = ends.get(e.ip) ?? null
    const wanted = endOf(e, nowMs)
    return end === null || (wanted !== null && end >= wanted - KNOWN_SLACK_MS)
  }
  const resync = async () => {
    // The database and the kernel are read at the same time: with 100,000 bans each takes
    // about half a second (the query, `nft -j list` or `ipset save`), on different processes.
    const [desired, kernel] = await Promise.all([readDesiredEntries(central, guard()), readKernelSets(backend)])
    known = new Map()
    loaded = undefined
    const result = await resyncFirewall(backend, desired, kernel)
    loaded = { entries: desired.entries, at: Date.now() }
    return result
  }

  // An unban takes an address out only when no other active ban of it is left.
  const removable = async (ips: readonly string[]) => {
    if (ips.length === 0) return []
    const keep = await stillBanned(central, ips)
    return ips.filter((ip) => !keep.has(ip))
  }

  const apply = async (wanted: FirewallEntry[], remove: string[]): Promise<{ problem?: string; resync?: ResyncResult; connectionsProblem?: string }> => {
    const now = Date.now()
    const add = wanted.filter((e) => !covers(e, now))
    let resynced: ResyncResult | undefined
    if (add.length > 0 || remove.length > 0) {
      const sent = await send(add, remove, now)
      if (sent?.problem !== undefined) return sent
      resynced = sent?.resync
    }
    // Every address this batch bans, also one a resync had put in the set already.
    const ips = config.killConnections ? wanted.filter((e) => !isNetworkEntry(e)).map((e) => e.ip) : []
    if (ips.length > 0) {
      try {
        await deleteConnections(conntrack, ips, config.timeoutMs)
      } catch (err) {
        return { ...(resynced ? { resync: resynced } : {}), connectionsProblem: `killConnections: ${describeError(err)}` }
      }
    }
    return resynced ? { resync: resynced } : {}
  }

  const send = async (add: FirewallEntry[], remove: string[], now: number): Promise<{ problem?: string; resync?: ResyncResult } | undefined> => {
    try {
      await backend.change(add, remove)
      const ends = knownEnds()
      for (const e of add) ends.set(e.ip, endOf(e, now))
      for (const ip of remove) ends.delete(ip)
    } catch (changeError) {
      // The batch is all or nothing; what makes a valid batch fail is the kernel's state (a set
      // deleted by hand, a network inside a banned wider one): a resync rebuilds from the
      // database and covers this batch too.
      try {
        return { resync: await resync() }
      } catch (err) {
        return { problem: `firewall: ${describeError(changeError)}; resync failed too: ${describeError(err)}` }
      }
    }
    return undefined
  }

  const keepPending = (decisions: Decision[], touched: Set<string>, problem: string) =>
    decisions.map((d) =>
      (d.status === BanStatus.Added || (d.status === BanStatus.Removed && owesLocalUnban(d.ban))) && touched.has(d.ban.ip)
        ? { ...d, status: BanStatus.Pending, error: problem }
        : d,
    )

  return {
    resync,
    async decideAndApply(batch, fleet, at) {
      const decisions: Decision[] = []
      const add = new Map<string, FirewallEntry>()
      const unban = new Set<string>()
      const local = guard()
      for (const ban of batch) {
        if (ban.revoked) {
          if (owesLocalUnban(ban) && firewallEntry(ban.ip, null)) unban.add(ban.ip)
          decisions.push({ ban, status: BanStatus.Removed, error: null })
          continue
        }
        if (ban.expired) {
          decisions.push({ ban, status: BanStatus.Expired, error: null })
          continue
        }
        const entry = entryFor(ban, at)
        if (entry === undefined) {
          decisions.push({ ban, status: BanStatus.Error, error: 'refused: not a canonical address or a bannable network (/16 or narrower, /32 for IPv6)' })
          continue
        }
        if (isAllowlisted(entry, fleet, local)) {
          decisions.push({ ban, status: BanStatus.Allowlisted, error: null })
          continue
        }
        const known = add.get(entry.ip)
        if (!known || (known.timeout !== null && (entry.timeout === null || entry.timeout > known.timeout))) add.set(entry.ip, entry)
        decisions.push({ ban, status: BanStatus.Added, error: null })
      }
      const remove = (await removable([...unban])).filter((ip) => !add.has(ip))
      const { problem, resync: resynced, connectionsProblem } = await apply([...add.values()], remove)
      if (problem === undefined) return { decisions, ...(resynced ? { resync: resynced } : {}), ...(connectionsProblem ? { connectionsProblem } : {}) }
      return { decisions: keepPending(decisions, new Set([...add.keys(), ...remove]), problem), problem }
    },
    async applyAlongside(decisions, fleet, at) {
      const add = new Map<string, FirewallEntry>()
      const unban = new Set<string>()
      const local = guard()
      for (const d of decisions) {
        if (d.status === BanStatus.Removed && owesLocalUnban(d.ban) && firewallEntry(d.ban.ip, null)) unban.add(d.ban.ip)
        // Kept pending only because the shared jail holds it: the sets take it all the same.
        const held = d.status === BanStatus.Pending && d.error === null
        if (d.status !== BanStatus.Added && d.status !== BanStatus.AlreadyBanned && !held) continue
        const entry = entryFor(d.ban, at)
        if (entry === undefined || isAllowlisted(entry, fleet, local)) continue
        const known = add.get(entry.ip)
        if (!known || (known.timeout !== null && (entry.timeout === null || entry.timeout > known.timeout))) add.set(entry.ip, entry)
      }
      const remove = (await removable([...unban])).filter((ip) => !add.has(ip))
      const { problem, resync: resynced, connectionsProblem } = await apply([...add.values()], remove)
      if (problem === undefined) return { decisions: [...decisions], ...(resynced ? { resync: resynced } : {}), ...(connectionsProblem ? { connectionsProblem } : {}) }
      return { decisions: keepPending([...decisions], new Set([...add.keys(), ...remove]), problem), problem }
    },
  }
}

/**
 * `conntrack -D -s IP` for every address, in one conntrack process: `-R FILE` reads the
 * commands from a file (not from stdin: conntrack opens /dev/stdin, which a socket, as Node
 * gives a child, is not). The file is private to this process and removed afterwards.
 */
async function deleteConnections(conntrack: readonly string[], ips: readonly string[], timeoutMs: number): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'f2b-central-conntrack-'))
  try {
    const file = join(dir, 'delete')
    writeFileSync(file, ips.map((ip) => `-D -s ${ip}\n`).join(''), { mode: 0o600 })
    await runTool([...conntrack, '-R', file], '', timeoutMs)
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}
