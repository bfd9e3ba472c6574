import { sql } from 'kysely'
import { NetworkSet, parseNetwork, type Network } from '../../ban/network.js'
import type { CentralDb, Db } from '../db-adapter.js'
import { withRetry } from '../retry.js'

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
    if (added) await bumpVersion(trx)
    return added
  })
}

/** Remove a network; returns false when it was not there. */
export async function removeAllowEntry(central: CentralDb, network: Network): Promise<boolean> {
  return central.db.transaction().execute(async (trx) => {
    const r = await trx.deleteFrom('allowlist').where('network', '=', network.text).executeTakeFirst()
    const removed = Number(r.numDeletedRows) > 0
    if (removed) await bumpVersion(trx)
    return removed
  })
}

export async function listAllowlist(db: Db): Promise<AllowEntry[]> {
  const rows = await db.selectFrom('allowlist').select(['network', 'reason', 'added_by', 'created_at']).orderBy('network').execute()
  return rows.map((r) => ({ network: r.network, reason: r.reason, addedBy: r.added_by, createdAt: r.created_at }))
}

function bumpVersion(db: Db) {
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
  const stored = (await db.selectFrom('allowlist').select('network').execute()).map((r) => r.network)
  if (options.fleetAddresses) stored.push(...(await db.selectFrom('host_addresses').select('address').execute()).map((r) => r.address))
  const networks = new NetworkSet()
  const invalid: string[] = []
  for (const network of stored) {
    try {
      networks.add(parseNetwork(network))
    } catch {
      invalid.push(network)
    }
  }
  return { version, networks, invalid }
}

/**
 * Record this host's own addresses for the fleet's allowlist; bumps the version when one is
 * new, so pollers reload. Addresses a host no longer has stay until an operator removes the
 * host: an allowlist that forgets on its own could let a fleet member be banned.
 */
export async function registerHostAddresses(central: CentralDb, hostId: number, addresses: readonly Network[]): Promise<number> {
  if (addresses.length === 0) return 0
  const rows = [...new Set(addresses.map((a) => a.address))].map((address) => ({ host_id: hostId, address }))
  // Write first: a transaction that reads before it writes is the one SQLite cannot wait for.
  return withRetry(central.adapter, () =>
    central.db.transaction().execute(async (trx) => {
      const r = await trx.insertInto('host_addresses').ignore().values(rows).executeTakeFirst()
      const added = Number(r.numInsertedOrUpdatedRows ?? 0)
      if (added > 0) await bumpVersion(trx)
      return added
    }),
  )
}
