// add2db's side of the hand-over: give the report to the local daemon, or say why not, so
// add2db stores it itself. Never throws: every failure is a fallback, and since the report
// keeps its key on both paths, a daemon that stored it after all makes the fallback a no-op.
import { lstatSync } from 'node:fs'
import { createConnection } from 'node:net'
import { dirname } from 'node:path'
import type { HandoverReply, HandoverRequest, ReportSummary } from './protocol.js'

export type HandoverResult = { readonly kind: 'done'; readonly summary: ReportSummary } | { readonly kind: 'fallback'; readonly why: string }

/**
 * How long the daemon has to accept a report: a daemon that is there answers in well under
 * a millisecond; one that is stopped, swapped out or hung costs fail2ban no more than this.
 */
export const ACCEPT_MS = 50

/** The daemon says how long storing may take (its database deadline); never longer than this. */
const MAX_WAIT_MS = 120_000

const MAX_REPLY_BYTES = 65_536

export function handOver(socketPath: string, request: HandoverRequest, acceptMs = ACCEPT_MS): Promise<HandoverResult> {
  const unsafe = unsafeDirectory(dirname(socketPath))
  if (unsafe) return Promise.resolve({ kind: 'fallback', why: unsafe })
  return new Promise((resolve) => {
    let settled = false
    let accepted = false
    let text = ''
    const socket = createConnection(socketPath)
    const finish = (result: HandoverResult): void => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      socket.destroy()
      resolve(result)
    }
    let timer = setTimeout(() => finish({ kind: 'fallback', why: `no answer within ${acceptMs} ms` }), acceptMs)
    socket.setEncoding('utf8')
    socket.on('connect', () => socket.write(`${JSON.stringify(request)}\n`))
    socket.on('error', (err: NodeJS.ErrnoException) => finish({ kind: 'fallback', why: err.code ?? err.message }))
    socket.on('close', () => finish({ kind: 'fallback', why: accepted ? 'the daemon went away before storing it' : 'the daemon closed the connection' }))
    socket.on('data', (chunk: string) => {
      text += chunk
      if (text.length > MAX_REPLY_BYTES) return finish({ kind: 'fallback', why: 'reply too long' })
      let nl = text.indexOf('\n')
      while (nl >= 0 && !settled) {
        const line = text.slice(0, nl)
        text = text.slice(nl + 1)
        const reply = parseReply(line)
        if (reply === undefined) return finish({ kind: 'fallback', why: 'unreadable reply' })
        if ('accepted' in reply && !accepted) {
          accepted = true
          clearTimeout(timer)
          const waitMs = Math.min(MAX_WAIT_MS, Math.max(acceptMs, Number(reply.waitMs) || 0))
          timer = setTimeout(() => finish({ kind: 'fallback', why: `accepted but not stored within ${waitMs} ms` }), waitMs)
        } else if ('done' in reply && accepted && isSummary(reply.done)) {
          return finish({ kind: 'done', summary: reply.done })
        } else if ('refused' in reply) {
          return finish({ kind: 'fallback', why: `refused: ${String(reply.refused)}` })
        } else if ('failed' in reply) {
          return finish({ kind: 'fallback', why: `failed: ${String(reply.failed)}` })
        } else {
          return finish({ kind: 'fallback', why: 'unexpected reply' })
        }
        nl = text.indexOf('\n')
      }
    })
  })
}

function isSummary(s: unknown): s is ReportSummary {
  const kind = (s as { kind?: unknown } | null)?.kind
  return kind === 'stored' || kind === 'allowlisted' || kind === 'spooled'
}

function parseReply(line: string): HandoverReply | undefined {
  try {
    const reply = JSON.parse(line) as unknown
    return typeof reply === 'object' && reply !== null ? (reply as HandoverReply) : undefined
  } catch {
    return undefined
  }
}

/**
 * A report goes only to a socket in a directory nobody but root (or this user) could have put
 * it in: else someone could listen there, take bans and drop them.
 */
function unsafeDirectory(dir: string): string | undefined {
  try {
    const st = lstatSync(dir)
    if (!st.isDirectory()) return `${dir} is not a directory`
    const uid = typeof process.getuid === 'function' ? process.getuid() : 0
    if (st.uid !== 0 && st.uid !== uid) return `${dir} belongs to uid ${st.uid}`
    if ((st.mode & 0o022) !== 0) return `${dir} is writable by others`
    return undefined
  } catch (err) {
    return (err as NodeJS.ErrnoException).code ?? String(err)
  }
}
