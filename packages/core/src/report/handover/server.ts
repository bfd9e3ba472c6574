// The daemon's side of add2db's hand-over: a unix socket in a root-only directory, reading
// one report per connection. The socket is an input like argv: every report is validated
// again here (the same parseBanReport add2db uses), and no client, however hostile (garbage,
// a huge or endless line, a connection that never sends, a flood of them), can crash the
// daemon, hold its memory or store an invalid ban. Node cannot read a peer's credentials
// (SO_PEERCRED); the directory (0700, the daemon's own) and the socket (0600) keep every
// other user out, and connect() says EACCES to them.
import { chmodSync, lstatSync, mkdirSync, unlinkSync } from 'node:fs'
import { createServer, type Server, type Socket } from 'node:net'
import { dirname } from 'node:path'
import { parseBanReport, type BanReport } from '../../ban/ban-report.js'
import { F2bError } from '../../errors.js'
import type { ReportIdentity } from '../report-ban.js'
import { type ConfigIdentity, type HandoverReply, type HandoverRequest, MAX_REQUEST_BYTES, type ReportSummary } from './protocol.js'

export interface HandoverServerOptions {
  readonly socketPath: string
  /** The daemon's own config: a report made with another one is refused. */
  readonly identity: ConfigIdentity
  readonly defaultBantime: number
  /** How long add2db should wait for `done` once accepted: the store's own deadline and some. */
  readonly waitMs: number
  /** Store one validated report durably (committed, or fsync'd in the spool). */
  readonly store: (ban: BanReport, report: ReportIdentity) => Promise<ReportSummary>
  /** A report refused (told at most once per REFUSAL_LOG_MS, with how many since). */
  readonly onRefused: (reason: string, count: number) => void
}

export interface HandoverServer {
  /** Stop taking reports, let those being stored finish, remove the socket. */
  close(): Promise<void>
}

/** A whole request must arrive within this: a connection that dribbles or never sends is cut. */
const REQUEST_MS = 2000
/** More concurrent clients than fail2ban ever makes; beyond it connections are closed at once (add2db then stores itself). */
const MAX_CONNECTIONS = 64
const REFUSAL_LOG_MS = 10_000
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/

/** Thrown when the socket cannot be set up; the daemon runs on without it (add2db stores bans itself). */
export class HandoverSetupError extends F2bError {}

export async function listenForHandovers(o: HandoverServerOptions): Promise<HandoverServer> {
  prepareDirectory(dirname(o.socketPath))
  removeStaleSocket(o.socketPath)
  const storing = new Set<Promise<void>>()
  let refused = 0
  let lastRefusalLog = 0
  const refuse = (socket: Socket, reason: string): void => {
    refused++
    if (Date.now() - lastRefusalLog >= REFUSAL_LOG_MS) {
      lastRefusalLog = Date.now()
      o.onRefused(reason, refused)
      refused = 0
    }
    reply(socket, { refused: reason })
    // Closed once the reply is out, whatever the client goes on sending.
    socket.destroySoon()
  }
  const server: Server = createServer({ allowHalfOpen: true }, (socket) => {
    // A client that goes away is its own affair: add2db stores the ban itself then.
    socket.on('error', () => undefined)
    const cut = setTimeout(() => socket.destroy(), REQUEST_MS)
    socket.on('close', () => clearTimeout(cut))
    const chunks: Buffer[] = []
    let size = 0
    let reading = true
    const stopReading = (): void => {
      reading = false
      socket.off('data', onData)
      clearTimeout(cut)
    }
    const onData = (chunk: Buffer): void => {
      const nl = chunk.indexOf(0x0a)
      size += nl >= 0 ? nl : chunk.length
      if (size > MAX_REQUEST_BYTES) {
        stopReading()
        refuse(socket, `request longer than ${MAX_REQUEST_BYTES} bytes`)
        return
      }
      if (nl < 0) {
        chunks.push(chunk)
        return
      }
      chunks.push(chunk.subarray(0, nl))
      stopReading()
      const checked = checkRequest(Buffer.concat(chunks).toString('utf8'), o)
      if (typeof checked === 'string') {
        refuse(socket, checked)
        return
      }
      reply(socket, { accepted: true, waitMs: o.waitMs })
      const done = o
        .store(checked.ban, checked.report)
        .then(
          (summary) => reply(socket, { done: summary }),
          (err: unknown) => reply(socket, { failed: err instanceof Error ? err.message : String(err) }),
        )
        .finally(() => {
          socket.destroySoon()
          storing.delete(done)
        })
      storing.add(done)
    }
    socket.on('data', onData)
    socket.on('end', () => {
      // The client stopped sending before a whole line: nothing to store.
      if (reading) {
        stopReading()
        socket.destroy()
      }
    })
  })
  server.maxConnections = MAX_CONNECTIONS
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(o.socketPath, () => {
      server.off('error', reject)
      resolve()
    })
  }).catch((err: NodeJS.ErrnoException) => {
    throw new HandoverSetupError(`cannot listen on ${o.socketPath}: ${err.code ?? err.message}`)
  })
  chmodSync(o.socketPath, 0o600)
  server.on('error', () => undefined)
  return {
    async close() {
      await new Promise<void>((resolve) => server.close(() => resolve()))
      await Promise.allSettled([...storing])
      try {
        unlinkSync(o.socketPath)
      } catch {
        // server.close() removes it already on most platforms
      }
    },
  }
}

function reply(socket: Socket, message: HandoverReply): void {
  if (!socket.destroyed && socket.writable) socket.write(`${JSON.stringify(message)}\n`)
}

/** A validated report, or why it is refused (one line, nothing of the input but its shape). */
function checkRequest(line: string, o: HandoverServerOptions): { ban: BanReport; report: ReportIdentity } | string {
  let raw: unknown
  try {
    raw = JSON.parse(line)
  } catch {
    return 'not valid JSON'
  }
  if (typeof raw !== 'object' || raw === null) return 'not a JSON object'
  const r = raw as Partial<Record<keyof HandoverRequest, unknown>>
  if (r.v !== 1) return 'unknown protocol version'
  if (r.config !== o.identity.path || r.file !== o.identity.file || r.env !== o.identity.env)
    return 'made with another config than the daemon runs (edited since it started, or another file or environment)'
  if (typeof r.key !== 'string' || !UUID.test(r.key)) return 'bad key'
  if (typeof r.reportedAt !== 'string' || r.reportedAt.length > 40 || Number.isNaN(Date.parse(r.reportedAt))) return 'bad reportedAt'
  const b = r.ban as Record<string, unknown> | null | undefined
  if (typeof b !== 'object' || b === null) return 'no ban'
  const text = (k: string): string | undefined => (typeof b[k] === 'string' ? (b[k] as string) : undefined)
  for (const k of ['ip', 'jail', 'protocol', 'port', 'bantime']) if (b[k] !== undefined && typeof b[k] !== 'string') return `bad ${k}`
  try {
    const parsed = parseBanReport({ ip: text('ip') ?? '', jail: text('jail') ?? '', protocol: text('protocol'), port: text('port'), bantime: text('bantime') })
    return { ban: { ...parsed, bantime: parsed.bantime ?? o.defaultBantime }, report: { key: r.key, reportedAt: new Date(r.reportedAt) } }
  } catch (err) {
    return err instanceof F2bError ? err.message : 'invalid ban'
  }
}

/** The socket's directory: created 0700, and only the daemon's own, with no access for anyone else. */
function prepareDirectory(dir: string): void {
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 })
    const st = lstatSync(dir)
    if (!st.isDirectory()) throw new HandoverSetupError(`${dir} is not a directory`)
    const uid = typeof process.getuid === 'function' ? process.getuid() : 0
    if (st.uid !== uid) throw new HandoverSetupError(`${dir} belongs to uid ${st.uid}, not to this daemon (uid ${uid})`)
    // /run/f2b-central also holds the lock file, which only root reads.
    if ((st.mode & 0o077) !== 0) chmodSync(dir, 0o700)
  } catch (err) {
    if (err instanceof HandoverSetupError) throw err
    throw new HandoverSetupError(`cannot prepare ${dir}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`)
  }
}

/** A socket left by a daemon that died (the host's lock says none is running now); anything else there is left alone. */
function removeStaleSocket(path: string): void {
  try {
    if (!lstatSync(path).isSocket()) throw new HandoverSetupError(`${path} exists and is not a socket`)
    unlinkSync(path)
  } catch (err) {
    if (err instanceof HandoverSetupError) throw err
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT')
      throw new HandoverSetupError(`cannot remove the old socket ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`)
  }
}
