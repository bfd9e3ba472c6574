// Brokers for the push tests. The shared one is the machine's Mosquitto on 127.0.0.1:1883
// (npm test's preparation starts it); each test file takes a topic prefix of its own, so
// files running side by side never see each other's messages. An outage is played on a
// private Mosquitto this helper starts on another loopback port, and kills and restarts by
// its own pid: the shared broker is never stopped.
import { spawn, type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { createServer, connect as tcpConnect, type Server } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { connectAsync, type MqttClient } from 'mqtt'
import { findProgram, requirePrograms } from '../../scripts/test-machine.mjs'
import { waitUntil } from './fail2ban-server.js'

export const SHARED_BROKER_URL = 'mqtt://127.0.0.1:1883'

/** A topic prefix no other run uses. */
export function uniqueTopic(name: string): string {
  return `f2b-test/${name}-${process.pid}-${randomBytes(4).toString('hex')}`
}

/** A loopback port nothing listens on now. */
export async function freePort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as { port: number }).port
  await new Promise<void>((resolve) => server.close(() => resolve()))
  return port
}

function accepting(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = tcpConnect({ host: '127.0.0.1', port }, () => {
      s.destroy()
      resolve(true)
    })
    s.on('error', () => resolve(false))
  })
}

/** A private Mosquitto on 127.0.0.1:port, for outages: stop() kills it, start() brings it back on the same port. */
export class PrivateBroker {
  readonly port: number
  readonly url: string
  readonly #dir: string
  #child: ChildProcess | undefined

  private constructor(port: number) {
    this.port = port
    this.url = `mqtt://127.0.0.1:${port}`
    this.#dir = mkdtempSync(join(tmpdir(), 'f2b-mosquitto-'))
    writeFileSync(join(this.#dir, 'mosquitto.conf'), `listener ${port} 127.0.0.1\nallow_anonymous true\npersistence false\n`)
  }

  static async start(): Promise<PrivateBroker> {
    requirePrograms('mosquitto')
    const broker = new PrivateBroker(await freePort())
    await broker.start()
    return broker
  }

  async start(): Promise<void> {
    const child = spawn(findProgram('mosquitto') ?? 'mosquitto', ['-c', join(this.#dir, 'mosquitto.conf')], { stdio: 'ignore' })
    this.#child = child
    await waitUntil(`mosquitto on port ${this.port}`, () => accepting(this.port), 10_000, 50)
  }

  /** Kill it (SIGKILL: a broker that dies, not one that says goodbye), and wait until the port refuses. */
  async stop(): Promise<void> {
    const child = this.#child
    this.#child = undefined
    if (child === undefined || child.exitCode !== null) return
    const gone = new Promise<void>((resolve) => child.once('exit', () => resolve()))
    child.kill('SIGKILL')
    await gone
  }

  async remove(): Promise<void> {
    await this.stop()
    rmSync(this.#dir, { recursive: true, force: true })
  }
}

/** A TCP server that accepts connections and never answers: a broker that hangs. */
export async function silentBroker(): Promise<{ url: string; close: () => Promise<void> }> {
  const sockets = new Set<import('node:net').Socket>()
  const server: Server = createServer((s) => {
    sockets.add(s)
    s.on('error', () => undefined)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as { port: number }).port
  return {
    url: `mqtt://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy()
        server.close(() => resolve())
      }),
  }
}

/** Throws, saying how to fix it, unless the machine's Mosquitto listens on 127.0.0.1:1883. */
export async function requireSharedBroker(): Promise<void> {
  requirePrograms('mosquitto')
  if (!(await accepting(1883))) throw new Error("Mosquitto is not listening on 127.0.0.1:1883: start it with `mosquitto -d` (npm test's preparation does it when run as root)")
}

/** Every message on `<prefix>/#` from now on, as `topic payload`, read by a real subscriber (MQTT.js). */
export async function subscribe(url: string, prefix: string): Promise<{ messages: string[]; client: MqttClient; close: () => Promise<void> }> {
  if (url === SHARED_BROKER_URL) await requireSharedBroker()
  const client = await connectAsync(url, { clientId: `f2b-test-sub-${randomBytes(4).toString('hex')}`, reconnectPeriod: 0 })
  const messages: string[] = []
  client.on('message', (topic, payload) => messages.push(`${topic} ${payload.toString()}`))
  await client.subscribeAsync(`${prefix}/#`, { qos: 1 })
  return { messages, client, close: () => client.endAsync() }
}
