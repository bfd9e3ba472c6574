import type { Config } from '@f2b-central/core/config/load-config'
import { NO_NOTIFIER, wakeTopic, type Notifier } from '@f2b-central/core/notify/notifier'
import { vallumdMessages } from '@f2b-central/core/notify/vallumd'
import type { PollOptions } from '@f2b-central/core/poll/poll'
import type { Logger } from './logger.js'

// A daemon's wake-ups and vallumd messages on its kept-open connection; a one-shot readdb's
// vallumd messages on a connection of their own. Never longer than this per publish.
const PUBLISH_BOUND_MS = 1000

/** readdb's side of notify.mqtt: what it is woken by, and what it publishes. */
export interface Push {
  /** Wake-ups for other programs of this host to publish (the daemon's connection). */
  readonly notifier: Notifier
  /** Call `wake` on each wake-up received (daemon only). */
  onWake(wake: () => void): void
  /** The poll's announce (PollOptions.announce), with notify.vallumd.topics set. */
  readonly announce: PollOptions['announce']
  close(): Promise<void>
}

/**
 * Push for this config, undefined without notify.mqtt (the MQTT client is then never loaded).
 * A daemon keeps one connection (re-made in the background when the broker goes); a one-shot
 * run connects only to publish vallumd messages.
 */
export async function openPush(config: Config, log: Logger, daemon: boolean): Promise<Push | undefined> {
  const target = config.notify.mqtt
  if (target === undefined) return undefined
  const { MqttLink, publishOnce } = await import('@f2b-central/core/notify/mqtt-link')
  const topics = config.notify.vallumdTopics
  if (!daemon) {
    const announce: PollOptions['announce'] = async (change) => {
      const problem = await publishOnce(target, vallumdMessages(topics, change), PUBLISH_BOUND_MS)
      if (problem !== undefined) log.warn({ problem }, 'vallumd messages not sent')
    }
    return { notifier: NO_NOTIFIER, onWake: () => undefined, announce: topics.length > 0 ? announce : undefined, close: async () => undefined }
  }
  const link = new MqttLink(target, { warn: (line) => log.warn(line), info: (line) => log.info(line) })
  const { stayingNotifier } = await import('@f2b-central/core/notify/mqtt-notifier')
  return {
    notifier: stayingNotifier(target, { boundMs: PUBLISH_BOUND_MS, log }, link),
    onWake: (wake) => link.onMessage(wakeTopic(target.topic), wake),
    announce:
      topics.length > 0
        ? async (change) => {
            const messages = vallumdMessages(topics, change)
            if (!(await link.publish(messages, PUBLISH_BOUND_MS))) log.warn({ messages: messages.length }, 'vallumd messages not sent: the broker is not reachable')
          }
        : undefined,
    close: () => link.close(),
  }
}
