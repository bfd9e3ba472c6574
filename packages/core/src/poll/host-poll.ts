import type { Config } from '../config/load-config.js'
import { asDatabaseError } from '../db/database-error.js'
import type { CentralDb } from '../db/db-adapter.js'
import { describeTarget } from '../db/open-database.js'
import { assertSchemaCurrent } from '../db/schema-version.js'
import type { BanStateReader } from '../fail2ban/ban-state.js'
import { Fail2banClient } from '../fail2ban/fail2ban-client.js'
import { openBanState } from '../fail2ban/open-ban-state.js'
import { sharedJailCheck } from '../fail2ban/shared-jail-check.js'
import { readMachineId } from '../machine-id.js'
import { ownAddresses } from '../own-addresses.js'
import { shipSpool } from '../report/ship-spool.js'
import { pollOnce, type PollResult, type PollState } from './poll.js'

/** What one of this host's polls did: the bans it shipped from the spool, then the poll. */
export interface HostPollRun {
  readonly shipped: number
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
  const client = new Fail2banClient(config.fail2ban.client, config.fail2ban.timeoutMs)
  const unban = operatorUnban(client, config)
  const unbanExpired = sharedJailUnban(client, config)
  const checkSharedJail = sharedJailCheck(client, config.fail2ban.sharedJail)
  const state: PollState = {}
  let schemaChecked = false
  return async () => {
    try {
      if (!schemaChecked) {
        await assertSchemaCurrent(central)
        schemaChecked = true
      }
      const shipped = await shipSpool(central, config.spool.dir)
      const result = await pollOnce({
        central,
        hostName: config.host.name,
        machineId,
        banState,
        sharedLog: config.fail2ban.sharedLog,
        sharedJail: config.fail2ban.sharedJail,
        allPortsJails: config.fail2ban.allPortsJails,
        recentBanFraction: config.fail2ban.recentBanFraction,
        batchSize: config.readdb.batchSize,
        localAllowlist: config.allowlist,
        fleetAddresses: config.host.allowFleetAddresses ? ownAddresses() : undefined,
        checkSharedJail,
        unban,
        unbanExpired,
        endWithFleetBan: config.fail2ban.endWithFleetBan,
        state,
      })
      return { shipped, result }
    } catch (err) {
      throw asDatabaseError(err, where)
    }
  }
}

// Many addresses per call (fail2ban-client takes them all at once), at most 500 a call.
// An operator's unban: the shared jail, or every jail with fail2ban.unbanAllJails.
function operatorUnban(client: Fail2banClient, config: Config): (ips: readonly string[]) => Promise<void> {
  const { sharedJail, unbanAllJails } = config.fail2ban
  return (ips) => client.runWithAddresses(unbanAllJails ? ['unban'] : ['set', sharedJail, 'unbanip'], ips)
}

// A fleet ban that ran out: the shared jail only, whatever unbanAllJails says.
function sharedJailUnban(client: Fail2banClient, config: Config): (ips: readonly string[]) => Promise<void> {
  return (ips) => client.runWithAddresses(['set', config.fail2ban.sharedJail, 'unbanip'], ips)
}
