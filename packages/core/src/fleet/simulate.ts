import { parseJail } from '../ban/names.js'
import type { CentralDb } from '../db/db-adapter.js'
import { insertBan, readBanExpiry } from '../db/queries/bans.js'
import { deleteSimulatedBans, type CleanedSimulation } from '../db/queries/simulated-bans.js'
import { InvalidValueError } from '../errors.js'
import { readMachineId } from '../machine-id.js'
import { dbTimeToIso } from '../time/db-time.js'

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
  return { banId, expiresAt: dbTimeToIso(await readBanExpiry(central, banId)) }
}

export type { CleanedSimulation }

/**
 * Delete the simulated bans of `ip` in `jail` everywhere (needs the operator account: host
 * accounts have no DELETE). Deleting does not lift a ban a host's fail2ban already holds;
 * the result names those hosts.
 */
export async function cleanSimulatedBans(central: CentralDb, ip: string, jail: string): Promise<CleanedSimulation> {
  const simJail = parseSimulateJail(jail)
  return deleteSimulatedBans(central, ip, simJail)
}
