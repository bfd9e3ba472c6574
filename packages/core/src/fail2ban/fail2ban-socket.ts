import { connect } from 'node:net'
import { basename } from 'node:path'
import { Fail2banError } from '../errors.js'

// fail2ban's client protocol (fail2ban/client/csocket.py, server/asyncserver.py, 0.10–1.1):
// a pickled list of strings, then END; the answer is a pickled `(0, result)` or `(1,
// exception)`, then END.
const END = Buffer.from('<F2B_END_COMMAND>')
const CLOSE = Buffer.from('<F2B_CLOSE_COMMAND>')

/**
 * The socket `fail2ban.client` names: its program is fail2ban-client and it passes `-s
 * SOCKET`. Anything else (a wrapper, a socket only in a config directory) is run as a
 * program instead: undefined.
 */
export function clientSocket(argv: readonly string[]): string | undefined {
  if (argv[0] === undefined || basename(argv[0]) !== 'fail2ban-client') return undefined
  const i = argv.indexOf('-s')
  const path = i === -1 ? undefined : argv[i + 1]
  return path?.startsWith('/') ? path : undefined
}

/**
 * Send one command to fail2ban's socket, as fail2ban-client would, without starting a Python
 * (one call of fail2ban-client costs a Python start: ~0.1 s on an idle machine, 0.5 s on a
 * loaded one, figure 7 of `npm run bench`; this is a socket round trip). Resolves when
 * fail2ban answered `(0, …)`; rejects with a Fail2banError naming the command (never its
 * addresses) otherwise, or past `timeoutMs`.
 */
export function sendCommand(socket: string, args: readonly string[], timeoutMs: number): Promise<void> {
  return ask(socket, args, timeoutMs).then(() => undefined)
}

/** fail2ban answered, and refused the command (an unknown jail, a bad value). */
export class Fail2banRefusal extends Fail2banError {}

/**
 * The strings of fail2ban's answer to a command it accepted, in order (for `status`: the
 * labels and values, `Jail list` then `sshd, f2b-central-shared`). Rejects as sendCommand.
 */
export function ask(socket: string, args: readonly string[], timeoutMs: number): Promise<string[]> {
  const what = `fail2ban socket ${socket}: ${args.slice(0, 3).join(' ')}`
  return new Promise<string[]>((resolve, reject) => {
    const chunks: Buffer[] = []
    const conn = connect(socket)
    const fail = (problem: string) => {
      conn.destroy()
      reject(new Fail2banError(`${what} failed: ${problem}`, { hint: 'is fail2ban running? check `fail2ban.client` in the config' }))
    }
    conn.setTimeout(timeoutMs, () => fail(`no answer within ${timeoutMs / 1000} s (fail2ban.timeoutSeconds)`))
    conn.on('error', (err: NodeJS.ErrnoException) => fail(err.code ?? err.message))
    conn.on('connect', () => conn.write(Buffer.concat([pickleStrings(args), END])))
    conn.on('data', (chunk) => {
      chunks.push(chunk)
      const answer = Buffer.concat(chunks)
      if (answer.length < END.length || !answer.subarray(answer.length - END.length).equals(END)) return
      conn.end(Buffer.concat([CLOSE, END]))
      const pickle = answer.subarray(0, answer.length - END.length)
      const problem = answerProblem(pickle)
      if (problem === undefined) resolve(pickledStrings(pickle))
      else reject(new Fail2banRefusal(`${what} failed: ${problem}`))
    })
    conn.on('end', () => fail('connection closed before the answer'))
  })
}

/** A list of str as pickle protocol 2 (any fail2ban's Python 3 reads it): PROTO 2, EMPTY_LIST, MARK, BINUNICODE…, APPENDS, STOP. */
export function pickleStrings(args: readonly string[]): Buffer {
  const parts: Buffer[] = [Buffer.from([0x80, 0x02, 0x5d, 0x28])]
  for (const a of args) {
    const text = Buffer.from(a, 'utf8')
    const head = Buffer.alloc(5)
    head[0] = 0x58
    head.writeUInt32LE(text.length, 1)
    parts.push(head, text)
  }
  parts.push(Buffer.from([0x65, 0x2e]))
  return Buffer.concat(parts)
}

/**
 * undefined when the answer is `(0, …)`; else what fail2ban said, from the strings in the
 * pickle (`ValueError: Invalid jail`). Only the opening is read: the code is the first thing
 * pickled after the protocol and frame headers.
 */
export function answerProblem(pickle: Buffer): string | undefined {
  let i = 0
  if (pickle[i] === 0x80) i += 2
  if (pickle[i] === 0x95) i += 9
  if (pickle[i] === 0x4b && pickle[i + 1] === 0) return undefined
  const strings = pickledStrings(pickle)
  const said = strings.length >= 3 ? `${strings[1]}: ${strings.slice(2).join(' ')}` : strings.join(' ') || 'an error'
  return said.length > 300 ? `${said.slice(0, 300)}…` : said
}

/** The short strings (SHORT_BINUNICODE, as fail2ban's Python pickles every str under 256 bytes) of a pickle, in order. */
function pickledStrings(pickle: Buffer): string[] {
  const strings: string[] = []
  for (let j = 0; j < pickle.length; j++) {
    if (pickle[j] === 0x8c && j + 1 < pickle.length) {
      const n = pickle[j + 1] as number
      strings.push(pickle.subarray(j + 2, j + 2 + n).toString('utf8'))
      j += 1 + n
    }
  }
  return strings
}
