import type { Config } from '../config/load-config.js'
import { asDatabaseError } from '../db/database-error.js'
import type { CentralDb } from '../db/db-adapter.js'
import { describeTarget } from '../db/open-database.js'
import { assertSchemaCurrent } from '../db/schema-version.js'
import type { BanStateReader } from '../fail2ban/ban-state.js'
import { Fail2banClient } from '../fail2ban/fail2ban-client.js'
import { openBanState } from '../fail2ban/open-ban-state.js'
import { resolveInfrastructure, type Infrastructure } from '../infrastructure.js'
import { readMachineId } from '../machine-id.js'
import { ownAddresses } from '../own-addresses.js'
import { shipSpool, type SpoolShipment } from '../report/ship-spool.js'
import { pollOnce, type PollResult, type PollState } from './poll.js'

/** What one of this host's polls did: the bans it shipped from the spool, then the poll. */
export interface HostPollRun {
  readonly shipped: number
  /** Spool files (or the spool directory) not shipped, and why. */
  readonly spoolProblems: SpoolShipment['problems']
  readonly result: PollResult
}

export interface HostPollOptions {
  /** Reads local ban state instead of the one the config names (a benchmark that times it). */
  readonly banState?: BanStateReader
}

/**
 * This host's poll as readdb runs it, built from its config: on the first run that reaches
 * the database, check the schema (so a daemon started while the database is down waits for
 * it instead of exiting); then ship what add2db had to spool, then poll. State that only
 * changes rarely (the allowlist, this host's registered addresses) is carried from run to
 * run. Driver errors come out as DatabaseError naming the database.
 */
export function createHostPoll(config: Config, central: CentralDb, options: HostPollOptions = {}): () => Promise<HostPollRun> {
  const where = `database ${describeTarget(config.database.target)}`
  const machineId = readMachineId()
  const banState = options.banState ?? openBanState(config.fail2ban)
  const unban = sharedJailUnban(config)
  const state: PollState = {}
  let schemaChecked = false
  let infrastructure: { value: Infrastructure; at: number } | undefined
  return async () => {
    try {
      if (!schemaChecked) {
        await assertSchemaCurrent(central)
        schemaChecked = true
      }
      // Re-resolved now and then: the database server's name may move to another address.
      if (!infrastructure || Date.now() - infrastructure.at > INFRASTRUCTURE_TTL_MS) infrastructure = { value: await resolveInfrastructure(config), at: Date.now() }
      const infra = infrastructure.value
      const { shipped, problems: spoolProblems } = await shipSpool(central, config.spool.dir)
      const result = await pollOnce({
        central,
        hostName: config.host.name,
        machineId,
        banState,
        sharedLog: config.fail2ban.sharedLog,
        recentBanFraction: config.fail2ban.recentBanFraction,
        batchSize: config.readdb.batchSize,
        localAllowlist: { has: (ip) => config.allowlist.has(ip) || infra.has(ip) },
        fleetAddresses: config.host.allowFleetAddresses ? ownAddresses() : undefined,
        unban,
        endWithFleetBan: config.fail2ban.endWithFleetBan,
        state,
      })
      return { shipped, spoolProblems, result }
    } catch (err) {
      throw asDatabaseError(err, where)
    }
  }
}

const INFRASTRUCTURE_TTL_MS = 10 * 60 * 1000

// Many addresses per call: fail2ban-client takes them all at once.
function sharedJailUnban(config: Config): (ips: readonly string[]) => Promise<void> {
  const client = new Fail2banClient(config.fail2ban.client, config.fail2ban.timeoutMs)
  const { sharedJail, unbanAllJails } = config.fail2ban
  return async (ips) => {
    await (unbanAllJails ? client.run('unban', ...ips) : client.run('set', sharedJail, 'unbanip', ...ips))
  }
}
