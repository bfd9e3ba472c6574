import type { CentralDb } from '../db/db-adapter.js'
import { withRetry } from '../db/retry.js'
import { BanStatus } from '../schema/ban-status.js'
import { isActiveBan } from './active-ban.js'
import { ensureHosts } from './ensure-hosts.js'

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
  const { db, adapter } = central
  const batchSize = options.batchSize ?? 500
  const hostId = (await ensureHosts(db, [options.reporter])).get(options.reporter)
  if (hostId === undefined) throw new Error(`host ${options.reporter} vanished while registering`)
  let stored = 0
  let alreadyBanned = 0
  for (let i = 0; i < options.addresses.length; i += batchSize) {
    const batch = options.addresses.slice(i, i + batchSize)
    const done = await withRetry(adapter, () =>
      db.transaction().execute(async (trx) => {
        const active = await trx.selectFrom('bans as b').select('b.ip').where('b.jail', '=', options.jail).where('b.ip', 'in', batch).where(isActiveBan(adapter)).execute()
        const skip = new Set(active.map((r) => r.ip))
        const fresh = batch.filter((ip) => !skip.has(ip))
        const ids: number[] = []
        // One INSERT per ban: the only insert id both dialects report reliably is a single row's.
        for (const ip of fresh) {
          const r = await trx
            .insertInto('bans')
            .values({
              ip,
              jail: options.jail,
              protocol: 'tcp',
              port: '0:65535',
              reporter_id: hostId,
              bantime: options.bantime,
              expires_at: options.bantime < 0 ? null : adapter.nowPlusSeconds(options.bantime),
            })
            .executeTakeFirstOrThrow()
          ids.push(Number(r.insertId))
        }
        if (ids.length > 0) {
          await trx.insertInto('ban_status').values(ids.map((id) => ({ ban_id: id, host_id: hostId, status: BanStatus.Added, error: null }))).execute()
        }
        return { stored: ids.length, skipped: skip.size }
      }),
    )
    stored += done.stored
    alreadyBanned += done.skipped
  }
  return { stored, alreadyBanned }
}
