import type { CentralDb } from '../db/db-adapter.js'
import { storeListedBans } from '../db/queries/bans.js'
import { findOrCreateHost } from '../db/queries/hosts.js'

export interface ImportAddressesOptions {
  /** Canonical, validated addresses (parseAddressList). */
  readonly addresses: readonly string[]
  /** Validated jail name the bans are stored under. */
  readonly jail: string
  /** Validated host name recorded as the reporter (gets status 1, as add2db's reporter does). */
  readonly reporter: string
  /** Seconds, or -1 for permanent. */
  readonly bantime: number
  /** Addresses per transaction. Default 500. */
  readonly batchSize?: number
}

export interface ImportResult {
  readonly stored: number
  /** Already actively banned in the same jail: not stored twice, so an import can be re-run. */
  readonly alreadyBanned: number
}

/**
 * Store a list of addresses as bans of one jail reported by one host, one transaction per
 * batch, each ban with the reporter's status 1 (as add2db stores a ban). Expiry comes from
 * the database's clock. Every poller then applies them like any other ban.
 */
export async function importAddresses(central: CentralDb, options: ImportAddressesOptions): Promise<ImportResult> {
  const batchSize = options.batchSize ?? 500
  const hostId = await findOrCreateHost(central.db, options.reporter, null)
  let stored = 0
  let alreadyBanned = 0
  for (let i = 0; i < options.addresses.length; i += batchSize) {
    const done = await storeListedBans(central, hostId, options.jail, options.addresses.slice(i, i + batchSize), options.bantime)
    stored += done.stored
    alreadyBanned += done.skipped
  }
  return { stored, alreadyBanned }
}
