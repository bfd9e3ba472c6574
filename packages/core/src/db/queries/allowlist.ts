import { sql } from 'kysely'
import { NetworkSet, parseNetwork, type Network } from '../../ban/network.js'
import { parseIp } from '../../ban/ip-address.js'
import type { CentralDb, Db } from '../db-adapter.js'
import type { HostRow } from '../host-writes.js'

/** One entry of the central allowlist. */
export interface AllowEntry {
  readonly network: string
  readonly reason: string | null
  readonly addedBy: string
  readonly createdAt: string
}

/** Add a network; returns false when it was already there. Bumps the version readdb watches. */
export async function addAllowEntry(central: CentralDb, network: Network, addedBy: string, reason: string | null): Promise<boolean> {
  return central.db.transaction().execute(async (trx) => {
    const r = await trx.insertInto('allowlist').ignore().values({ network: network.text, added_by: addedBy, reason }).executeTakeFirst()
    const added = Number(r.numInsertedOrUpdatedRows ?? 0) > 0
    if (added) await bumpAllowlistVersion(trx)
    return added
  })
}

/** Remove a network; returns false when it was not there. */
export async function removeAllowEntry(central: CentralDb, network: Network): Promise<boolean> {
  return central.db.transaction().execute(async (trx) => {
    const r = await trx.deleteFrom('allowlist').where('network', '=', network.text).executeTakeFirst()
    const removed = Number(r.numDeletedRows) > 0
    if (removed) await bumpAllowlistVersion(trx)
    return removed
  })
}

export async function listAllowlist(db: Db): Promise<AllowEntry[]> {
  const rows = await db.selectFrom('allowlist').select(['network', 'reason', 'added_by', 'created_at']).orderBy('network').execute()
  return rows.map((r) => ({ network: r.network, reason: r.reason, addedBy: r.added_by, createdAt: r.created_at }))
}

/** Tell pollers the allowlist changed (they re-read it only then). */
export function bumpAllowlistVersion(db: Db) {
  return db.updateTable('allowlist_version').set({ version: sql`version + 1` }).where('id', '=', 1).execute()
}

/** The central allowlist as a NetworkSet, with the version it was read at. */
export interface LoadedAllowlist {
  readonly version: number
  readonly networks: NetworkSet
  /** Stored entries that failed to parse (a hand-edited row): reported, never matched loosely. */
  readonly invalid: string[]
}

export interface LoadAllowlistOptions {
  /** Also every registered host's own addresses (table host_addresses). */
  readonly fleetAddresses: boolean
}

/**
 * Load the allowlist, or return `cached` when its version has not changed: a poll then costs
 * one single-row read, however long the list is.
 */
export async function loadAllowlist(db: Db, options: LoadAllowlistOptions, cached?: LoadedAllowlist): Promise<LoadedAllowlist> {
  const row = await db.selectFrom('allowlist_version').select('version').where('id', '=', 1).executeTakeFirst()
  const version = Number(row?.version ?? 0)
  if (cached && cached.version === version) return cached
  const networks = new NetworkSet()
  const invalid: string[] = []
  for (const r of await db.selectFrom('allowlist').select('network').execute()) {
    try {
      networks.add(parseNetwork(r.network))
    } catch {
      invalid.push(r.network)
    }
  }
  // A host registers single addresses: anything else in its rows (a network, text) was not
  // written by a host routine and is never matched.
  if (options.fleetAddresses) {
    for (const r of await db.selectFrom('host_addresses').select('address').execute()) {
      const single = singleAddress(r.address)
      if (single) networks.add(single)
      else invalid.push(r.address)
    }
  }
  return { version, networks, invalid }
}

/**
 * Record this host's own addresses for the fleet's allowlist (single addresses only); bumps
 * the version when one is new, so pollers reload. Addresses a host no longer has stay until
 * an operator removes the host: an allowlist that forgets on its own could let a fleet
 * member be banned.
 */
export async function registerHostAddresses(central: CentralDb, host: HostRow, addresses: readonly Network[]): Promise<number> {
  const single = addresses.filter((a) => a.prefix === (a.version === 4 ? 32 : 128)).map((a) => a.address)
  return central.adapter.hostWrites.registerAddresses(central.db, host, single)
}

function singleAddress(text: string): Network | undefined {
  try {
    const ip = parseIp(text)
    if (ip.text !== text) return undefined
    const prefix = ip.version === 4 ? 32 : 128
    return { version: ip.version, address: ip.text, prefix, text: `${ip.text}/${prefix}` }
  } catch {
    return undefined
  }
}
