import { APPLIED_STATUSES } from '../../schema/ban-status.js'
import type { CentralDb } from '../db-adapter.js'

export interface CleanedSimulation {
  /** Simulated bans deleted (with their host statuses). */
  readonly bans: number
  /** Hosts (other than the reporter) that had applied one: their local fail2ban keeps it until its own ban time ends. */
  readonly appliedBy: readonly string[]
}

/**
 * Delete the bans of `ip` in the simulation jail `simJail` (already validated by the caller)
 * and name the hosts that had applied one. Needs the operator account: host accounts have
 * no DELETE.
 */
export async function deleteSimulatedBans(central: CentralDb, ip: string, simJail: string): Promise<CleanedSimulation> {
  return central.db.transaction().execute(async (trx) => {
    const rows = await trx.selectFrom('bans').select('id').where('ip', '=', ip).where('jail', '=', simJail).execute()
    const ids = rows.map((r) => Number(r.id))
    if (ids.length === 0) return { bans: 0, appliedBy: [] }
    const applied = await trx
      .selectFrom('ban_status as s')
      .innerJoin('hosts as h', 'h.id', 's.host_id')
      .innerJoin('bans as b', 'b.id', 's.ban_id')
      .select('h.name')
      .distinct()
      .where('s.ban_id', 'in', ids)
      .where('s.status', 'in', APPLIED_STATUSES)
      // The reporter's status 1 is its report: simulate banned nothing on that host.
      .whereRef('s.host_id', '<>', 'b.reporter_id')
      .orderBy('h.name')
      .execute()
    const deleted = await trx.deleteFrom('bans').where('id', 'in', ids).where('jail', '=', simJail).executeTakeFirst()
    return { bans: Number(deleted.numDeletedRows), appliedBy: applied.map((a) => a.name) }
  })
}
