import { connect, createServer, type Socket } from 'node:net'

/**
 * A TCP proxy the test can cut and restore: the database "goes away and comes back" for one
 * client, without stopping the MariaDB server that other test files are using at the same time.
 */
export class TcpProxy {
  readonly port: number
  #open = true
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
      const upstream = connect(targetPort, targetHost)
      for (const s of [client, upstream]) {
        proxy.sockets.add(s)
        s.on('close', () => proxy?.sockets.delete(s))
        s.on('error', () => undefined)
      }
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

  restore(): void {
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
