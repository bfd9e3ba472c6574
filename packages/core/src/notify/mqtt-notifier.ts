import type { MqttTarget } from '../config/mqtt-url.js'
import { clearBrokerDown, noteBrokerDown } from './broker-down.js'
import { MqttLink, publishOnce } from './mqtt-link.js'
import { wakeTopic, type Notifier, type NotifyLog } from './notifier.js'

/** The payload: the ban id, or empty. Nothing a reader acts on. */
function payload(banId: number | undefined): string {
  return banId === undefined ? '' : String(banId)
}

/**
 * For one-shot programs (add2db, the operator commands): each wake-up on a connection of its
 * own, within `boundMs`. A failure is noted in `spoolDir`
 * (broker-down.ts) and said once; while the note is fresh the runs after it skip the broker
 * (openNotifier looks at the note).
 */
export function onceNotifier(target: MqttTarget, spoolDir: string, options: { boundMs: number; log: NotifyLog }): Notifier {
  return {
    async bansChanged(banId) {
      const problem = await publishOnce(target, [{ topic: wakeTopic(target.topic), payload: payload(banId) }], options.boundMs)
      if (problem === undefined) {
        clearBrokerDown(spoolDir)
        return
      }
      let fresh = true
      try {
        fresh = noteBrokerDown(spoolDir, new Date(), problem)
      } catch {
        // no note: the next run tries (and may say so) again
      }
      if (fresh) options.log.warn(`wake-up not sent (${problem}); hosts apply the change at their next poll, and push is tried again in 30 s`)
    },
    close: async () => undefined,
  }
}

/** For a daemon: wake-ups on its kept-open link (MqttLink), skipped while the broker is away. */
export function stayingNotifier(target: MqttTarget, options: { boundMs: number; log: NotifyLog }, link = new MqttLink(target, options.log)): Notifier {
  return {
    async bansChanged(banId) {
      await link.publish([{ topic: wakeTopic(target.topic), payload: payload(banId) }], options.boundMs)
    },
    close: () => link.close(),
  }
}
