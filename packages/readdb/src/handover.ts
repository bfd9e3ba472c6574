import type { Config } from '@f2b-central/core/config/load-config'
import type { CentralDb } from '@f2b-central/core/db/db-adapter'
import { describeError } from '@f2b-central/core/errors'
import { type ConfigIdentity, handoverDir, handoverSocketPath } from '@f2b-central/core/report/handover/protocol'
import { listenForHandovers } from '@f2b-central/core/report/handover/server'
import { reportBan } from '@f2b-central/core/report/report-ban'
import { summarizeOutcome } from '@f2b-central/core/report/report-summary'
import type { Logger } from './logger.js'

// Beyond the database deadline add2db waits for the daemon's answer: storing ends by then
// (stored, or in the spool), and past it add2db stores the ban itself, under the same key.
const WAIT_EXTRA_MS = 2000

export interface Handover {
  /** Where the daemon listens, or undefined when it could not (add2db then stores bans itself). */
  readonly socketPath: string | undefined
  close(): Promise<void>
}

/**
 * Take add2db's reports over the local socket and store each on the daemon's open connection
 * with add2db's own code (reportBan: allowlists, flood limit, the spool when the database is
 * down). A socket that cannot be set up is a warning, never a stop: add2db stores bans itself.
 */
export async function startHandover(o: { config: Config; identity: ConfigIdentity; central: CentralDb; log: Logger; onStored: (banId: number) => void }): Promise<Handover> {
  const { config, log } = o
  const socketPath = handoverSocketPath(handoverDir(process.env), o.identity)
  try {
    const server = await listenForHandovers({
      socketPath,
      identity: o.identity,
      defaultBantime: config.bans.defaultBantime,
      waitMs: config.database.timeoutMs + WAIT_EXTRA_MS,
      store: async (ban, report) => {
        const started = performance.now()
        const outcome = await reportBan(config, ban, report, o.central)
        if (outcome.kind === 'stored') {
          // ms: what add2db waited for the database, beyond starting up.
          log.info({ ip: ban.ip, jail: ban.jail, banId: outcome.banId, held: outcome.held, ms: Math.round((performance.now() - started) * 10) / 10 }, 'stored a ban from add2db')
          try {
            // A held ban is applied by nobody yet, so nobody is woken.
            if (!outcome.held) o.onStored(outcome.banId)
          } catch (err) {
            // A notifier's failure is its own: the ban is stored, add2db is told so.
            log.warn({ banId: outcome.banId, problem: describeError(err) }, 'onStored failed')
          }
        } else if (outcome.kind === 'spooled') {
          log.warn({ ip: ban.ip, jail: ban.jail, spool: outcome.path, reason: outcome.reason }, 'kept a ban from add2db in the spool')
        }
        return summarizeOutcome(outcome, config)
      },
      onRefused: (reason, count) => log.warn({ reason, refusedSinceLastWarning: count }, 'refused a report on the add2db socket'),
    })
    return { socketPath, close: () => server.close() }
  } catch (err) {
    log.warn({ problem: describeError(err) }, 'add2db hand-over off: add2db stores its bans itself')
    return { socketPath: undefined, close: async () => undefined }
  }
}
