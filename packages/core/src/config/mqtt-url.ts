import { ConfigError } from '../errors.js'

/** notify.mqtt, resolved: the URL parsed, the password and the TLS files read when the config is loaded. */
export interface MqttTarget {
  /** `mqtt://host:port` or `mqtts://host:port`, without credentials: safe to log. */
  readonly url: string
  readonly host: string
  readonly port: number
  readonly tls: boolean
  readonly username: string | undefined
  /** From notify.mqtt.passwordFile; never logged, never on a command line. */
  readonly password: string | undefined
  /** PEM texts of notify.mqtt.tls; the broker's certificate is always verified. */
  readonly ca: string | undefined
  readonly cert: string | undefined
  readonly key: string | undefined
  /** The prefix: wake-ups are published on `<topic>/bans`. */
  readonly topic: string
}

/**
 * A topic we publish on or subscribe to: no wildcard (`+`, `#`), no NUL, no empty level (a
 * leading, trailing or double `/`), and not a `$SYS`-style broker topic.
 */
export function validTopic(topic: string): boolean {
  return topic.length > 0 && topic.length <= 200 && !/[+#\0]/.test(topic) && !topic.startsWith('$') && topic.split('/').every((level) => level.length > 0)
}

/** Parse notify.mqtt.url: `mqtt://host[:port]` (1883) or `mqtts://host[:port]` (8883); credentials go in username and passwordFile. */
export function parseMqttUrl(url: string, key = 'notify.mqtt.url'): { url: string; host: string; port: number; tls: boolean } {
  let u: URL
  try {
    u = new URL(url)
  } catch {
    throw new ConfigError(`${key}: not a URL; expected mqtt://host:1883 or mqtts://host:8883`)
  }
  if (u.protocol !== 'mqtt:' && u.protocol !== 'mqtts:') throw new ConfigError(`${key}: unsupported scheme "${u.protocol}"; expected mqtt: or mqtts:`)
  if (u.username || u.password) throw new ConfigError(`${key}: holds credentials`, { hint: 'put the user in notify.mqtt.username and the password in notify.mqtt.passwordFile' })
  if (!u.hostname) throw new ConfigError(`${key}: expected mqtt://host:1883 (the host is required)`)
  if ((u.pathname !== '' && u.pathname !== '/') || u.search || u.hash) throw new ConfigError(`${key}: expected only a host and port; the topic goes in notify.mqtt.topic`)
  const tls = u.protocol === 'mqtts:'
  const host = u.hostname.replace(/^\[|\]$/g, '')
  const port = u.port ? Number(u.port) : tls ? 8883 : 1883
  return { url: `${u.protocol}//${u.hostname}:${port}`, host, port, tls }
}
