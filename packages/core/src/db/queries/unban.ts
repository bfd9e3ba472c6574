import type { Network } from '../../ban/network.js'
import { NetworkSet } from '../../ban/network.js'
import type { CentralDb } from '../db-adapter.js'
import { withRetry } from '../retry.js'
import { canonicalTextPrefix } from '../../ban/address-prefix.js'
import { isActiveBan } from './active-ban.js'

const CHUNK = 500

/**
 * End every active ban of an address or network across the fleet. Clearing `seq` makes
 * the pollers stamp the ban again, so every host's cursor meets it once more: hosts that
 * applied it take it out of their shared jail, the rest never apply it; all record 4.
 * Returns the addresses whose bans were ended.
 */
export async function revokeBans(central: CentralDb, network: Network, by: string): Promise<{ bans: number; addresses: string[] }> {
  const { db, adapter } = central
  return withRetry(adapter, () =>
    db.transaction().execute(async (trx) => {
      let query = trx.selectFrom('bans as b').select(['b.id', 'b.ip']).where(isActiveBan(adapter))
      // A single address is one index lookup; a network is narrowed by an indexed text prefix
      // (which never holds a LIKE wildcard), then matched exactly in code.
      const single = (network.version === 4 && network.prefix === 32) || (network.version === 6 && network.prefix === 128)
      const prefix = canonicalTextPrefix(network)
      if (single) query = query.where('b.ip', '=', network.address)
      else if (prefix !== '') query = query.where('b.ip', 'like', `${prefix}%`)
      const set = new NetworkSet([network])
      const rows = (await query.execute()).filter((r) => set.has(r.ip))
      for (let i = 0; i < rows.length; i += CHUNK) {
        await trx
          .updateTable('bans')
          .set({ revoked_at: adapter.now(), revoked_by: by, seq: null })
          .where(
            'id',
            'in',
            rows.slice(i, i + CHUNK).map((r) => r.id),
          )
          .execute()
      }
      return { bans: rows.length, addresses: [...new Set(rows.map((r) => r.ip))].sort() }
    }),
  )
}
