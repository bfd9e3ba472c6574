import type { Config } from '../config/load-config.js'
import { asDatabaseError } from '../db/database-error.js'
import type { CentralDb } from '../db/db-adapter.js'
import { describeTarget } from '../db/open-database.js'
import { assertSchemaCurrent } from '../db/schema-version.js'
import type { BanStateReader } from '../fail2ban/ban-state.js'
import { Fail2banClient, MAX_ADDRESSES_PER_CALL } from '../fail2ban/fail2ban-client.js'
import { clientSocket, sendCommand } from '../fail2ban/fail2ban-socket.js'
import { openBanState } from '../fail2ban/open-ban-state.js'
import { TimeoutError } from '../errors.js'
import { sharedJailCheck, socketJailCheck } from '../fail2ban/shared-jail-check.js'
import { resolveInfrastructure, type Infrastructure } from '../infrastructure.js'
import { readMachineId } from '../machine-id.js'
import { ownAddresses } from '../own-addresses.js'
import { shipSpool } from '../report/ship-spool.js'
import { pollOnce, type PollOptions, type PollResult, type PollState } from './poll.js'
import type { FirewallApplier } from '../firewall/firewall-applier.js'

/** What one of this host's polls did: the bans it shipped from the spool, then the poll. */
export interface HostPollRun {
  readonly shipped: number
  /** Why the spool was not (all) shipped; the poll ran all the same. */
  readonly spoolProblem: string | undefined
  readonly result: PollResult
}

export interface HostPollOptions {
  /** Reads local ban state instead of the one the config names (a benchmark that times it). */
  readonly banState?: BanStateReader
  /** PollOptions.announce: the vallumd topics, when this host publishes them. */
  readonly announce?: PollOptions['announce']
  /** The kernel sets this host feeds (config.firewall): beside the shared jail, or alone when the config has no fail2ban section. */
  readonly firewall?: FirewallApplier
}

// A host without fail2ban holds no local ban: nothing to ask.
const NO_BAN_STATE: BanStateReader = { read: async () => new Map() }

/**
 * This host's poll as readdb runs it, built from its config: on the first run that reaches
 * the database, check the schema (so a daemon started while the database is down waits for
 * it instead of exiting); then ship what add2db had to spool, then poll. State that only
 * changes rarely (the allowlist, this host's registered addresses) is carried from run to
 * run. Driver errors come out as DatabaseError naming the database.
 *
 * Each run has a deadline, readdb.pollTimeoutSeconds: past it the run fails with a
 * TimeoutError and every database connection it had is dropped, so nothing keeps waiting on
 * a server that stopped answering (a table lock, a hung server, a dead network). A run
 * abandoned that way that has not ended a moment later (it was waiting on fail2ban, not on
 * the database) makes the next run fail at once rather than run beside it.
 */
export function createHostPoll(config: Config, central: CentralDb, options: HostPollOptions = {}): () => Promise<HostPollRun> {
  const where = `database ${describeTarget(config.database.target)}`
  const machineId = readMachineId()
  const fail2ban = config.fail2banEnabled
  const banState = options.banState ?? (fail2ban ? openBanState(config.fail2ban) : NO_BAN_STATE)
  const client = new Fail2banClient(config.fail2ban.client, config.fail2ban.timeoutMs)
  const unban = operatorUnban(client, config)
  const unbanExpired = sharedJailUnban(client, config)
  const handOver = sharedJailBan(client, config)
  // On fail2ban's socket when fail2ban.client names it: no Python start per poll.
  const socket = clientSocket(config.fail2ban.client)
  const checkSharedJail =
    socket === undefined ? sharedJailCheck(client, config.fail2ban.sharedJail) : socketJailCheck(socket, config.fail2ban.sharedJail, config.fail2ban.timeoutMs)
  const state: PollState = {}
  const deadlineMs = config.readdb.pollTimeoutSeconds * 1000
  let schemaChecked = false
  let infrastructure: { value: Infrastructure; at: number } | undefined
  let abandonedAt: number | undefined

  const run = async (deadline: AbortSignal): Promise<HostPollRun> => {
    try {
      if (!schemaChecked) {
        await assertSchemaCurrent(central)
        schemaChecked = true
      }
      // Re-resolved now and then: the database server's name may move to another address.
      if (!infrastructure || Date.now() - infrastructure.at > INFRASTRUCTURE_TTL_MS) infrastructure = { value: await resolveInfrastructure(config), at: Date.now() }
      const infra = infrastructure.value
      const { shipped, problem: spoolProblem } = await shipSpool(central, config.spool.dir)
      deadline.throwIfAborted()
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
        localAllowlist: { has: (ip) => config.allowlist.has(ip) || infra.has(ip) },
        fleetAddresses: config.host.allowFleetAddresses ? ownAddresses() : undefined,
        ...(fail2ban ? { checkSharedJail, unban, unbanExpired, endWithFleetBan: config.fail2ban.endWithFleetBan, handOver } : {}),
        ...(options.firewall ? { firewall: options.firewall } : {}),
        fail2ban,
        announce: options.announce,
        state,
      })
      return { shipped, spoolProblem, result }
    } catch (err) {
      throw asDatabaseError(err, where)
    }
  }

  return async () => {
    if (abandonedAt !== undefined) {
      throw new TimeoutError(`poll: the previous poll, abandoned at its deadline ${Math.round((Date.now() - abandonedAt) / 1000)} s ago, is still running`, {
        hint: 'it waits on fail2ban or the disk, not on the database: check `fail2ban-client ping` and the shared log',
      })
    }
    const passed = new TimeoutError(`poll: not done within ${deadlineMs / 1000} s (readdb.pollTimeoutSeconds); its database connections were dropped`, {
      hint: `check that ${where} and fail2ban answer (\`f2b-central check\`)`,
    })
    const deadline = new AbortController()
    const work = run(deadline.signal)
    let timer: NodeJS.Timeout | undefined
    const expired = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(passed), deadlineMs)
    })
    try {
      return await Promise.race([work, expired])
    } catch (err) {
      if (err !== passed) throw err
      deadline.abort(passed)
      central.abort(passed)
      if (!(await settlesWithin(work, ABANDON_GRACE_MS))) {
        abandonedAt = Date.now()
        void work.catch(() => undefined).finally(() => (abandonedAt = undefined))
      }
      throw passed
    } finally {
      clearTimeout(timer)
    }
  }
}

// How long a poll past its deadline may take to notice its dropped connections.
const ABANDON_GRACE_MS = 1000

async function settlesWithin(work: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined
  const late = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), ms)
  })
  try {
    return await Promise.race([
      work.then(
        () => true,
        () => true,
      ),
      late,
    ])
  } finally {
    clearTimeout(timer)
  }
}

const INFRASTRUCTURE_TTL_MS = 10 * 60 * 1000

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

// New bans straight to the shared jail, besides their log line: one request per poll's
// batch, on fail2ban's socket when fail2ban.client names it (`-s SOCKET`), since a
// fail2ban-client call costs a Python start and a socket round trip does not.
function sharedJailBan(client: Fail2banClient, config: Config): (ips: readonly string[]) => Promise<void> {
  const socket = clientSocket(config.fail2ban.client)
  const { sharedJail, timeoutMs } = config.fail2ban
  if (socket === undefined) return (ips) => client.runWithAddresses(['set', sharedJail, 'banip'], ips)
  return async (ips) => {
    for (let i = 0; i < ips.length; i += MAX_ADDRESSES_PER_CALL) await sendCommand(socket, ['set', sharedJail, 'banip', ...ips.slice(i, i + MAX_ADDRESSES_PER_CALL)], timeoutMs)
  }
}
