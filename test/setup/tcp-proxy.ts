import { connect, createServer, type Socket } from 'node:net'

/**
 * A TCP proxy the test can cut, freeze and restore: the database "goes away and comes back"
 * (or stops answering) for one client, without stopping the MariaDB server that other test
 * files are using at the same time.
 */
export class TcpProxy {
  readonly port: number
  /** Connections accepted so far (refused ones not counted): who tried the database. */
  accepted = 0
  #open = true
  #frozen = false
  private readonly sockets = new Set<Socket>()
  readonly #server: ReturnType<typeof createServer>

  private constructor(server: ReturnType<typeof createServer>, port: number) {
    this.#server = server
    this.port = port
  }

  static async start(targetHost: string, targetPort: number): Promise<TcpProxy> {
    let proxy: TcpProxy | undefined
    const server = createServer((client) => {
      if (!proxy?.isOpen) {
        client.destroy()
        return
      }
      proxy.accepted++
      const track = (s: Socket) => {
        proxy?.sockets.add(s)
        s.on('close', () => proxy?.sockets.delete(s))
        s.on('error', () => undefined)
      }
      track(client)
      // Frozen: the connection is accepted and then nothing ever comes back.
      if (proxy.#frozen) {
        client.pause()
        return
      }
      const upstream = connect(targetPort, targetHost)
      track(upstream)
      client.pipe(upstream).pipe(client)
      client.on('close', () => upstream.destroy())
      upstream.on('close', () => client.destroy())
    })
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
    proxy = new TcpProxy(server, (server.address() as { port: number }).port)
    return proxy
  }

  get isOpen(): boolean {
    return this.#open
  }

  /** Drop every open connection and refuse new ones. */
  cut(): void {
    this.#open = false
    for (const s of this.sockets) s.destroy()
  }

  /**
   * Keep every connection open and accept new ones, but pass nothing either way: a database
   * server that stopped answering, or a network that drops packets without a word.
   */
  freeze(): void {
    this.#frozen = true
    for (const s of this.sockets) {
      s.unpipe()
      s.pause()
    }
  }

  /** Back to forwarding; connections held while frozen are dropped (their clients gave up on them). */
  restore(): void {
    if (this.#frozen) for (const s of this.sockets) s.destroy()
    this.#frozen = false
    this.#open = true
  }

  async close(): Promise<void> {
    this.cut()
    await new Promise<void>((r) => this.#server.close(() => r()))
  }
}

/** A proxy in front of a database URL, and the URL that goes through it. */
export async function proxyDatabaseUrl(url: string): Promise<{ proxy: TcpProxy; url: string }> {
  const real = new URL(url)
  const proxy = await TcpProxy.start(real.hostname, Number(real.port || 3306))
  const viaProxy = new URL(url)
  viaProxy.port = String(proxy.port)
  return { proxy, url: viaProxy.toString() }
}
