import type { Config } from '../config/config-schema.js'
import { skipDownBroker } from './broker-down.js'

/**
 * Tells the fleet's `readdb --daemon`s that bans changed, so they poll now instead of at
 * their next tick. What is published is only a hint: topic `<notify.mqtt.topic>/bans`, QoS 1,
 * payload the ban id or nothing. A reader never trusts it (it polls the database, which says
 * what changed), so a forged message costs a poll and never a ban.
 *
 * Use: `const n = await openNotifier(config, …)`, then `await n.bansChanged(banId)` after the
 * change is committed (an insert, an unban, an allowlist change, a handed-over report), and
 * `await n.close()` before the process ends. Both never throw, and bansChanged resolves within
 * its bound whatever the broker does: a ban never waits on, or fails because of, the broker.
 * Inside `readdb --daemon`, use the notifier it already has (its Push, packages/readdb/src/push.ts)
 * rather than opening a second connection.
 */
export interface Notifier {
  /** Publish one wake-up; resolves when the broker acknowledged it, or when it was skipped or failed (the bound passed, the broker is down). */
  bansChanged(banId?: number): Promise<void>
  /** Disconnect. */
  close(): Promise<void>
}

/** What a notifier says about the broker: a problem once when it shows (and not at every publish), and when it is over. */
export interface NotifyLog {
  warn(line: string): void
  info?(line: string): void
}

/** No broker configured: every call is a no-op. */
export const NO_NOTIFIER: Notifier = { bansChanged: async () => undefined, close: async () => undefined }

/** The topic wake-ups go to. */
export function wakeTopic(prefix: string): string {
  return `${prefix}/bans`
}

export interface OpenNotifierOptions {
  /**
   * `once` (add2db, the operator commands): connect for one publish and hang up; a broker
   * found down is noted in the spool directory so the runs after it skip it for a while.
   * `stay` (a daemon): one connection kept open and re-made in the background.
   */
  readonly mode: 'once' | 'stay'
  /**
   * Longest a bansChanged call may wait on the broker, milliseconds (connecting included, in
   * `once` mode). Loading the client is not counted: it costs the same every time, and is
   * measured in `npm run bench` (add2db with push).
   */
  readonly boundMs: number
  readonly log: NotifyLog
}

/**
 * The notifier for this config: NO_NOTIFIER without notify.mqtt. The MQTT client is loaded
 * only here, with notify.mqtt set, so add2db without push never loads it.
 */
export async function openNotifier(config: Config, options: OpenNotifierOptions): Promise<Notifier> {
  const target = config.notify.mqtt
  if (target === undefined) return NO_NOTIFIER
  // A broker a run before this one found down is skipped without loading the client.
  if (options.mode === 'once' && skipDownBroker(config.spool.dir, new Date())) return NO_NOTIFIER
  let client: typeof import('./mqtt-notifier.js')
  try {
    client = await import('./mqtt-notifier.js')
  } catch (err) {
    // An install missing the client's file: push is lost, never the ban.
    options.log.warn(`wake-ups not sent: cannot load the MQTT client: ${(err as Error).message}`)
    return NO_NOTIFIER
  }
  const { onceNotifier, stayingNotifier } = client
  return options.mode === 'once' ? onceNotifier(target, config.spool.dir, options) : stayingNotifier(target, options)
}
