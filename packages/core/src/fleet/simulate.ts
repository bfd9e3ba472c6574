import { parseJail } from '../ban/names.js'
import type { CentralDb } from '../db/db-adapter.js'
import { insertBan } from '../db/queries/bans.js'
import { InvalidValueError } from '../errors.js'
import { readMachineId } from '../machine-id.js'
import { dbTimeToIso } from '../time/db-time.js'
import { APPLIED_STATUSES } from './ban-status-name.js'

/** Jail name of simulated bans; `--jail` may only name it or `f2b-central-simulate-<suffix>`. */
export const SIMULATE_JAIL = 'f2b-central-simulate'
/** Ban time of a simulated ban unless given: long enough to watch it travel, short enough to forget. */
export const SIMULATE_BANTIME = 600

/**
 * Validate a simulation jail: it must start with `f2b-central-simulate`, so the jail name
 * marks every simulated ban and `--clean` can never delete a real one.
 */
export function parseSimulateJail(input: string): string {
  const jail = parseJail(input)
  if (jail !== SIMULATE_JAIL && !jail.startsWith(`${SIMULATE_JAIL}-`)) {
    throw new InvalidValueError('jail', input, `simulated bans use ${SIMULATE_JAIL} or ${SIMULATE_JAIL}-<suffix>, so they can be told from real ones`)
  }
  return jail
}

export interface SimulatedBan {
  readonly banId: number
  readonly expiresAt: string | null
}

/**
 * Record a test ban as `hostName` (as its add2db would, reporter status 1 included), so an
 * operator can watch it reach the fleet with `bans show`. `jail` must pass parseSimulateJail.
 */
export async function recordSimulatedBan(central: CentralDb, hostName: string, ip: string, jail: string, bantime: number): Promise<SimulatedBan> {
  // As add2db does, so the heartbeat keeps the host's machine id instead of clearing it.
  const banId = await insertBan(central, hostName, readMachineId(), { ip, jail: parseSimulateJail(jail), protocol: 'tcp', port: '0:65535', bantime })
  const row = await central.db.selectFrom('bans').select('expires_at').where('id', '=', banId).executeTakeFirstOrThrow()
  return { banId, expiresAt: dbTimeToIso(row.expires_at) }
}

export interface CleanedSimulation {
  /** Simulated bans deleted (with their host statuses). */
  readonly bans: number
  /** Hosts (other than the reporter) that had applied one: their local fail2ban keeps it until its own ban time ends. */
  readonly appliedBy: readonly string[]
}

/**
 * Delete the simulated bans of `ip` in `jail` everywhere (needs the operator account: host
 * accounts have no DELETE). Deleting does not lift a ban a host's fail2ban already holds;
 * the result names those hosts.
 */
export async function cleanSimulatedBans(central: CentralDb, ip: string, jail: string): Promise<CleanedSimulation> {
  const simJail = parseSimulateJail(jail)
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
