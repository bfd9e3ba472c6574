import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import { createServer as createHttpsServer } from 'node:https'
import type { AddressInfo, Socket } from 'node:net'
import { pipeline } from 'node:stream/promises'
import { formatListenAddress, type ListenAddress } from '../config/listen-address.js'
import type { CentralDb } from '../db/db-adapter.js'
import { asDatabaseError } from '../db/database-error.js'
import { readDatabaseNow } from '../db/queries/clock.js'
import { assertSchemaCurrent } from '../db/schema-version.js'
import { DatabaseError, InvalidValueError, quote, SchemaError } from '../errors.js'
import { readFleetOverview } from '../fleet/fleet-overview.js'
import { etagMatches, LIST_PARAMETERS, parseListRequest, prepareList, type FirewallScripts, type ListKind } from './ban-lists.js'
import type { ServeEndpoint } from './endpoints.js'
import { printable } from './html.js'
import { ListCache } from './list-cache.js'
import { createServeMetrics } from './metrics.js'
import { renderStatusPage, STATUS_PAGE_CSP } from './status-page.js'
import { presentedToken, type TokenStore } from './tokens.js'

/** Where serve writes its lines (pino in `f2b-central serve`): fields first, then the message. */
export interface ServeLog {
  info(fields: Record<string, unknown>, message: string): void
  warn(fields: Record<string, unknown>, message: string): void
  error(fields: Record<string, unknown>, message: string): void
}

/** What a client may send, and for how long. The defaults are what serve runs with; tests lower the timeouts. */
export interface ServeLimits {
  /** Request line plus headers, bytes; more is answered 431 by Node. */
  readonly maxHeaderBytes: number
  /** The request target (path and query), characters; more is answered 414. */
  readonly maxUrlLength: number
  /** Time to send the request's headers, ms (slow-loris clients are cut off: 408). */
  readonly headersTimeoutMs: number
  /** Time to send the whole request, ms. */
  readonly requestTimeoutMs: number
  /** An idle keep-alive connection is closed after, ms. */
  readonly keepAliveTimeoutMs: number
  /** A connection with nothing moving either way (a client that stopped reading) is closed after, ms. */
  readonly idleTimeoutMs: number
  /** Longest a response may take, ms, however slowly it is read. */
  readonly responseDeadlineMs: number
  /** Open connections at once; more are refused. */
  readonly maxConnections: number
}

export const DEFAULT_SERVE_LIMITS: ServeLimits = {
  maxHeaderBytes: 8192,
  maxUrlLength: 2048,
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 15_000,
  keepAliveTimeoutMs: 5_000,
  idleTimeoutMs: 30_000,
  responseDeadlineMs: 300_000,
  maxConnections: 256,
}

export interface ServeOptions {
  readonly central: CentralDb
  readonly listen: ListenAddress
  /** PEM certificate (chain) and key: HTTPS. */
  readonly tls?: { readonly cert: string; readonly key: string } | undefined
  readonly tokens: TokenStore
  /** Endpoints answered without a token (serve.open). */
  readonly open: readonly ServeEndpoint[]
  readonly staleAfterSeconds: number
  readonly log: ServeLog
  readonly limits?: Partial<ServeLimits>
  /** How the firewall scripts are made (as `export` makes them with the same config); default: the backends' default names, nothing left out but the central allowlist. */
  readonly firewall?: FirewallScripts | undefined
  /** Where rendered lists are kept (a private directory is made inside). Default: the system's temporary directory. */
  readonly cacheDir?: string | undefined
}

export interface RunningServe {
  /** `http://127.0.0.1:8700` (the port chosen when listen asked for 0). */
  readonly url: string
  /**
   * Stop: no new connections, idle ones closed at once, requests in flight finish (each with
   * `Connection: close`), and so does every request a client had sent when stop began, though
   * serve had not read it yet; whatever still runs after `graceMs` is cut off. Resolves when
   * every connection is closed.
   */
  stop(graceMs: number): Promise<void>
}

interface Route {
  readonly params: readonly string[]
  /** A browser is asked to log in (Basic); API clients are told Bearer. */
  readonly page?: boolean
  handle(req: IncomingMessage, res: ServerResponse, params: ReadonlyMap<string, string>): Promise<void>
}

class BadRequest extends Error {}

const NOSNIFF = { 'X-Content-Type-Options': 'nosniff' }

function send(res: ServerResponse, status: number, body: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', 'Cache-Control': 'no-store', ...NOSNIFF, ...headers })
  res.end(res.req.method === 'HEAD' ? undefined : body)
}

/**
 * `f2b-central serve`'s HTTP service: the fleet's active ban list (plain, ipset, nft, JSON),
 * Prometheus metrics, a health check and the status page, each read from the database when
 * asked (a list once per version: it is rendered into a ListCache file and sent from there).
 * Listens once the returned promise resolves.
 *
 * What a request may be: GET or HEAD (405 otherwise), no body (413), a target of at most
 * maxUrlLength (414), headers within maxHeaderBytes (431), only the parameters its endpoint
 * takes, each valid (400 naming it), a valid token unless the endpoint is open (401, saying
 * nothing more). Unknown paths are 404. Tokens are never logged; a request's line names the
 * token's owner.
 */
export async function startServe(options: ServeOptions): Promise<RunningServe> {
  const limits = { ...DEFAULT_SERVE_LIMITS, ...options.limits }
  const { central, log } = options
  const metrics = createServeMetrics(central, {
    staleAfterSeconds: options.staleAfterSeconds,
    onDatabaseError: (err) => log.warn({ err: errorLine(err) }, 'metrics: database not readable'),
  })
  let stopping = false
  const cache = new ListCache({ dir: options.cacheDir })

  const list =
    (kind: ListKind): Route['handle'] =>
    async (req, res, params) => {
      const request = parseListRequest(kind, params)
      const prepared = await prepareList(central, request, options.firewall)
      const headers = { ETag: prepared.etag, 'Cache-Control': 'no-cache', 'Content-Type': prepared.contentType, ...NOSNIFF }
      if (etagMatches(req.headers['if-none-match'], prepared.etag)) {
        res.writeHead(304, headers).end()
        return
      }
      if (req.method === 'HEAD') {
        res.writeHead(200, headers).end()
        return
      }
      // Read from the database into a file once per version, however many pull it; sent with
      // its length, so a client can tell a cut-off list from a whole one.
      const rendered = await cache.open(prepared.key, prepared.rendering, prepared.body)
      res.writeHead(200, { ...headers, 'Content-Length': String(rendered.size) })
      await pipeline(rendered.file.createReadStream({ autoClose: true }), res)
    }

  const routes: Record<ServeEndpoint, Route> = {
    '/v1/bans.txt': { params: LIST_PARAMETERS.txt, handle: list('txt') },
    '/fail2ban': { params: LIST_PARAMETERS.txt, handle: list('txt') },
    '/v1/bans.ipset': { params: LIST_PARAMETERS.ipset, handle: list('ipset') },
    '/v1/bans.nft': { params: LIST_PARAMETERS.nft, handle: list('nft') },
    '/v1/bans.json': { params: LIST_PARAMETERS.json, handle: list('json') },
    '/metrics': {
      params: [],
      async handle(_req, res) {
        const text = await metrics.render()
        send(res, 200, text, { 'Content-Type': metrics.contentType })
      },
    },
    '/healthz': {
      params: [],
      async handle(_req, res) {
        try {
          await readDatabaseNow(central)
          await assertSchemaCurrent(central)
        } catch (err) {
          const problem = err instanceof SchemaError ? err.message : 'the database is not reachable'
          log.warn({ err: errorLine(err) }, 'healthz: unhealthy')
          send(res, 503, `unhealthy: ${problem}\n`, { 'Retry-After': '10' })
          return
        }
        send(res, 200, 'ok\n')
      },
    },
    '/': {
      params: [],
      page: true,
      async handle(_req, res) {
        const overview = await readFleetOverview(central, { staleAfterSeconds: options.staleAfterSeconds })
        send(res, 200, renderStatusPage(overview), {
          'Content-Type': 'text/html; charset=utf-8',
          'Content-Security-Policy': STATUS_PAGE_CSP,
          'Referrer-Policy': 'no-referrer',
          'X-Frame-Options': 'DENY',
        })
      },
    },
  }
  const open = new Set<string>(options.open)

  /** What a request's log line and metrics name: the endpoint (a known path or `other`) and the token's owner. */
  interface Outcome {
    endpoint: string
    consumer: string
  }

  async function handle(req: IncomingMessage, res: ServerResponse, outcome: Outcome): Promise<void> {
    const target = req.url ?? ''
    if (stopping) res.setHeader('Connection', 'close')
    if (target.length > limits.maxUrlLength) return send(res, 414, 'request target too long\n', { Connection: 'close' })
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(res, 405, 'method not allowed\n', { Allow: 'GET, HEAD', Connection: 'close' })
    const length = req.headers['content-length']
    if ((length !== undefined && length !== '0') || req.headers['transfer-encoding'] !== undefined) {
      // Nothing here takes a body: refuse it without reading it, and close the connection it came on.
      return send(res, 413, 'request bodies are not accepted\n', { Connection: 'close' })
    }
    const q = target.indexOf('?')
    const path = q < 0 ? target : target.slice(0, q)
    const route = Object.hasOwn(routes, path) ? routes[path as ServeEndpoint] : undefined
    if (!route) return send(res, 404, 'not found\n')
    outcome.endpoint = path
    if (open.has(path)) outcome.consumer = 'open'
    else {
      const name = options.tokens.match(presentedToken(req.headers.authorization))
      if (name === undefined) {
        return send(res, 401, 'unauthorized\n', { 'WWW-Authenticate': route.page ? 'Basic realm="f2b-central", charset="UTF-8"' : 'Bearer realm="f2b-central"' })
      }
      outcome.consumer = name
    }
    try {
      await route.handle(req, res, parseQuery(q < 0 ? '' : target.slice(q + 1), route.params))
    } catch (err) {
      if (!(err instanceof BadRequest || err instanceof InvalidValueError) || res.headersSent) throw err
      send(res, 400, `${err.message}\n`)
    }
  }

  // Connections with a response under way: a client error there (bytes after a request) must not interleave a raw answer with it.
  const busy = new WeakSet<object>()
  const onRequest = (req: IncomingMessage, res: ServerResponse): void => {
    const started = performance.now()
    busy.add(req.socket)
    const deadline = setTimeout(() => res.destroy(new Error('response deadline')), limits.responseDeadlineMs)
    const outcome: Outcome = { endpoint: 'other', consumer: '-' }
    res.once('close', () => {
      busy.delete(req.socket)
      clearTimeout(deadline)
      const seconds = (performance.now() - started) / 1000
      const complete = res.writableFinished
      metrics.observeRequest(outcome.endpoint, complete ? res.statusCode : 0, seconds)
      const target = req.url ?? ''
      const fields = {
        method: printable(req.method ?? '', 10),
        // The path alone: parameters are the endpoint's own (jail, family …), and a token is never in a URL we accept.
        path: printable(target.split('?')[0] ?? '', 200),
        status: complete ? res.statusCode : 'aborted',
        ms: Math.round(seconds * 1000),
        consumer: outcome.consumer,
        remote: res.socket?.remoteAddress ?? req.socket.remoteAddress,
      }
      if (complete && res.statusCode < 400) log.info(fields, 'request')
      else log.warn(fields, 'request')
      // A kept-alive connection whose answer went out before stop (without Connection: close)
      // stays open: closed once idle, after the poll that reads a request its client sent meanwhile.
      if (stopping) void afterPolls(1).then(() => server.closeIdleConnections())
    })
    handle(req, res, outcome).catch((err: unknown) => {
      // The client went away while a list was sent: its line says "aborted".
      if (res.destroyed && (err as NodeJS.ErrnoException).code === 'ERR_STREAM_PREMATURE_CLOSE') return
      const e = asDatabaseError(err, 'database')
      log.error({ path: printable((req.url ?? '').split('?')[0] ?? '', 200), err: errorLine(e) }, 'request failed')
      // Once the status line is out, a failure must not look like a complete answer: cut the connection.
      if (res.headersSent) res.destroy()
      else if (e instanceof DatabaseError) send(res, 503, 'the database cannot be read\n', { 'Retry-After': '10' })
      else send(res, 500, 'internal error\n')
    })
  }

  const common = {
    maxHeaderSize: limits.maxHeaderBytes,
    requestTimeout: limits.requestTimeoutMs,
    headersTimeout: limits.headersTimeoutMs,
    keepAliveTimeout: limits.keepAliveTimeoutMs,
    // How often the request and headers timeouts are checked (Node's default is every 30 s).
    connectionsCheckingInterval: Math.min(1000, limits.headersTimeoutMs),
  }
  const server: Server = options.tls ? createHttpsServer({ ...common, cert: options.tls.cert, key: options.tls.key }, onRequest) : createHttpServer(common, onRequest)
  server.timeout = limits.idleTimeoutMs
  server.keepAliveTimeout = limits.keepAliveTimeoutMs
  server.maxConnections = limits.maxConnections
  // `Expect: 100-continue` announces a body: answered like any request (413), never with 100.
  server.on('checkContinue', onRequest)
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => {
    // Node's own answers: 431 (headers too large), 408 (headers too slow), 400 (not HTTP).
    const status = err.code === 'HPE_HEADER_OVERFLOW' ? 431 : err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : 400
    log.warn({ status, err: err.code ?? err.message, remote: socket.remoteAddress }, 'bad request')
    if (socket.writable && !socket.writableEnded && !busy.has(socket))
      socket.end(
        `HTTP/1.1 ${status} ${status === 431 ? 'Request Header Fields Too Large' : status === 408 ? 'Request Timeout' : 'Bad Request'}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`,
      )
    else socket.destroy()
  })

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen({ host: options.listen.host, port: options.listen.port }, () => {
      server.off('error', reject)
      resolve()
    })
  })
  const bound = server.address() as AddressInfo
  const url = `${options.tls ? 'https' : 'http'}://${formatListenAddress({ host: options.listen.host, port: bound.port })}`
  return {
    url,
    async stop(graceMs) {
      stopping = true
      const timer = setTimeout(() => server.closeAllConnections(), graceMs)
      try {
        // A request the client already sent can still be unread here, and was reset (the
        // client saw ECONNRESET): on a connection still in the kernel's accept queue, which
        // closing the listening socket resets, or as the next request on a kept-alive
        // connection, which Node counts idle once its last answer is out and server.close()
        // destroys. One poll of the event loop with the listener still open accepts what the
        // kernel queued and reads what the open connections sent: each such request is then
        // answered (Connection: close). A connection Node accepted counts as busy until its first
        // request is answered, so one accepted now keeps its place until its request is read.
        // Only kept-alive connections that sent nothing more are closed; one made during that poll
        // is served.
        await afterPolls(1)
        await new Promise<void>((resolve) => server.close(() => resolve()))
      } finally {
        clearTimeout(timer)
        cache.close()
      }
    },
  }
}

/**
 * Resolves after the event loop has polled for I/O at least `polls` times. An immediate set
 * from inside the check phase runs in the next loop iteration, after its poll phase; the first
 * may run before any poll (when set from an I/O callback), hence one more than `polls`.
 */
function afterPolls(polls: number): Promise<void> {
  return new Promise((resolve) => {
    const turn = (left: number) => setImmediate(() => (left === 0 ? resolve() : turn(left - 1)))
    turn(polls)
  })
}

/** The query string as a map, with only `allowed` keys, each once; a BadRequest names the first problem. */
function parseQuery(query: string, allowed: readonly string[]): Map<string, string> {
  const params = new Map<string, string>()
  if (query === '') return params
  let parsed: URLSearchParams
  try {
    parsed = new URLSearchParams(query)
  } catch {
    throw new BadRequest('malformed query string')
  }
  for (const [key, value] of parsed) {
    if (!allowed.includes(key)) {
      throw new BadRequest(
        allowed.length === 0 ? `unknown parameter ${quote(key, 40)}: this endpoint takes none` : `unknown parameter ${quote(key, 40)}: expected ${allowed.join(', ')}`,
      )
    }
    if (params.has(key)) throw new BadRequest(`parameter ${key} given twice`)
    params.set(key, value)
  }
  return params
}

function errorLine(err: unknown): string {
  if (err instanceof Error) return 'hint' in err && err.hint ? `${err.message} (${String(err.hint)})` : err.message
  return String(err)
}
