import { randomBytes } from 'node:crypto'
import { connect, type IClientOptions, type MqttClient } from 'mqtt'
import type { MqttTarget } from '../config/mqtt-url.js'
import type { NotifyLog } from './notifier.js'

/** MQTT.js's options for notify.mqtt: the broker's certificate always verified, the password never logged (it is only ever in this object). */
export function clientOptions(target: MqttTarget, options: Pick<IClientOptions, 'connectTimeout' | 'reconnectPeriod'>): IClientOptions {
  return {
    ...options,
    clientId: `f2b-central-${randomBytes(6).toString('hex')}`,
    clean: true,
    keepalive: 30,
    protocolVersion: 4,
    username: target.username,
    password: target.password,
    ...(target.tls ? { ca: target.ca, cert: target.cert, key: target.key, rejectUnauthorized: true, servername: target.host } : {}),
  }
}

/**
 * One publish on a connection of its own, within `boundMs` (connect, publish, PUBACK). Never
 * throws: undefined when the broker took it, else why not, in one line.
 */
export async function publishOnce(target: MqttTarget, messages: readonly { topic: string; payload: string }[], boundMs: number): Promise<string | undefined> {
  // MQTT.js's own connect timeout later than ours: the bound is ours, and so is the message.
  const client = connect(target.url, clientOptions(target, { connectTimeout: boundMs + 1000, reconnectPeriod: 0 }))
  let timer: NodeJS.Timeout | undefined
  // Only errors name the broker: MQTT.js's messages carry no credentials.
  const failure = new Promise<string>((resolve) => {
    timer = setTimeout(() => resolve(`no answer from ${target.url} within ${boundMs} ms`), boundMs)
    client.on('error', (err) => resolve(`${target.url}: ${err.message}`))
    client.on('close', () => resolve(`${target.url}: connection closed`))
  })
  const sent = (async () => {
    await new Promise<void>((resolve) => client.once('connect', () => resolve()))
    await Promise.all(messages.map((m) => client.publishAsync(m.topic, m.payload, { qos: 1 })))
    return undefined
  })()
  try {
    return await Promise.race([sent, failure])
  } finally {
    clearTimeout(timer)
    client.end(true)
    sent.catch(() => undefined)
  }
}

/**
 * A connection kept open by a daemon: re-made in the background after the broker goes (every
 * second), subscriptions renewed each time. Going and coming back are each logged once.
 */
export class MqttLink {
  readonly #client: MqttClient
  readonly #target: MqttTarget
  readonly #log: NotifyLog
  readonly #handlers = new Map<string, () => void>()
  readonly #subscribed = new Set<string>()
  #down: string | undefined

  constructor(target: MqttTarget, log: NotifyLog) {
    this.#target = target
    this.#log = log
    this.#client = connect(target.url, clientOptions(target, { connectTimeout: 5000, reconnectPeriod: 1000 }))
    this.#client.on('connect', () => {
      if (this.#down !== undefined) this.#log.info?.(`broker ${target.url} reachable again: push resumes`)
      this.#down = undefined
      // Subscribed again on every connect: with a clean session the broker forgot them.
      for (const topic of this.#handlers.keys()) this.#subscribe(topic)
    })
    const lost = (why: string) => {
      if (this.#down !== undefined) return
      this.#down = why
      this.#log.warn(`broker ${target.url} unreachable (${why}): polling on the schedule only until it is back`)
    }
    this.#client.on('error', (err) => lost(err.message))
    this.#client.on('offline', () => lost('offline'))
    this.#client.on('message', (topic) => this.#handlers.get(topic)?.())
  }

  get connected(): boolean {
    return this.#client.connected
  }

  /** Call `handler` for each message on `topic` (its payload is not looked at). */
  onMessage(topic: string, handler: () => void): void {
    this.#handlers.set(topic, handler)
    if (this.#client.connected) this.#subscribe(topic)
  }

  /** Publish within `boundMs`; skipped at once while the broker is away (no queue: a late wake-up is worth nothing). Never throws. */
  async publish(messages: readonly { topic: string; payload: string }[], boundMs: number): Promise<boolean> {
    if (!this.#client.connected || messages.length === 0) return false
    let timer: NodeJS.Timeout | undefined
    const late = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), boundMs)
    })
    const sent = Promise.all(messages.map((m) => this.#client.publishAsync(m.topic, m.payload, { qos: 1 }))).then(
      () => true,
      () => false,
    )
    try {
      return await Promise.race([sent, late])
    } finally {
      clearTimeout(timer)
    }
  }

  async close(): Promise<void> {
    await this.#client.endAsync(true).catch(() => undefined)
  }

  #subscribe(topic: string): void {
    this.#client.subscribe(topic, { qos: 1 }, (err) => {
      if (err) this.#log.warn(`broker ${this.#target.url}: cannot subscribe to ${topic}: ${err.message}`)
      else if (!this.#subscribed.has(topic)) {
        this.#subscribed.add(topic)
        this.#log.info?.(`subscribed to ${topic} on ${this.#target.url}`)
      }
    })
  }
}
