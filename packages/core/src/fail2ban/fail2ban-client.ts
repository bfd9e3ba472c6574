import { execFile } from 'node:child_process'
import { isIP } from 'node:net'
import { Fail2banError } from '../errors.js'

/**
 * Most addresses handed to one fail2ban-client call. The kernel bounds a command line
 * (60,000 addresses in one call fail with `spawn E2BIG`); 500 keeps a call far below that
 * and costs one Python start per 500 addresses.
 */
export const MAX_ADDRESSES_PER_CALL = 500

// The longest part of fail2ban-client's own output kept in an error message.
const MAX_DETAIL = 300

/** Runs fail2ban-client with a configured argv prefix, bounded in time. Arguments never pass through a shell. */
export class Fail2banClient {
  readonly #argv: readonly string[]
  readonly #timeoutMs: number

  constructor(argv: readonly string[], timeoutMs: number) {
    if (argv.length === 0 || !argv[0]) throw new Fail2banError('fail2ban.client: empty command')
    this.#argv = argv
    this.#timeoutMs = timeoutMs
  }

  /**
   * Run one fail2ban-client command and return its stdout. A failure names the command and
   * how many addresses it carried, never the addresses themselves: an error text is stored
   * with statuses and logged, and must stay one bounded line.
   */
  run(...args: string[]): Promise<string> {
    const [cmd, ...prefix] = this.#argv as [string, ...string[]]
    const fail = (err: ExecError, stdout: string, stderr: string) =>
      new Fail2banError(`fail2ban-client ${describeCommand(args)} failed: ${failureDetail(err, stdout, stderr, this.#timeoutMs)}`, {
        hint: 'is fail2ban running? check `fail2ban.client` in the config',
        cause: err,
      })
    return new Promise((resolve, reject) => {
      try {
        execFile(cmd, [...prefix, ...args], { timeout: this.#timeoutMs, maxBuffer: 256 * 1024 * 1024 }, (err, stdout, stderr) => {
          if (err) reject(fail(err, stdout, stderr))
          else resolve(stdout)
        })
      } catch (err) {
        // Some spawn failures (E2BIG: a command line past the kernel's bound) throw at once.
        reject(fail(err as ExecError, '', ''))
      }
    })
  }

  /**
   * Run `args` followed by `addresses`, at most MAX_ADDRESSES_PER_CALL per call (fail2ban's
   * `set JAIL unbanip IP …` and `unban IP …` take many at once). Stops at the first failure.
   */
  async runWithAddresses(args: readonly string[], addresses: readonly string[]): Promise<void> {
    for (let i = 0; i < addresses.length; i += MAX_ADDRESSES_PER_CALL) {
      await this.run(...args, ...addresses.slice(i, i + MAX_ADDRESSES_PER_CALL))
    }
  }

  /** Names of the running jails. */
  async jails(): Promise<string[]> {
    const out = await this.run('status')
    const m = /Jail list:\s*(.*)$/m.exec(out)
    if (!m) throw new Fail2banError(`fail2ban-client status: unexpected output ${JSON.stringify(out.slice(0, 200))}`)
    return (m[1] ?? '')
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean)
  }
}

/** The command's words, with a trailing list of addresses replaced by its count. */
export function describeCommand(args: readonly string[]): string {
  const first = args.findIndex((a) => isIP(a) !== 0)
  if (first === -1) return args.join(' ')
  const n = args.length - first
  return [...args.slice(0, first), `<${n} address${n === 1 ? '' : 'es'}>`].join(' ')
}

/**
 * What went wrong, in one bounded line: the last line fail2ban-client printed for a person
 * (stdout, else stderr without its log prefix), else how the process ended. Never Node's
 * `Command failed: …` message, which repeats the whole command line.
 */
type ExecError = Error & { code?: string | number | null; killed?: boolean; signal?: NodeJS.Signals | null }

function failureDetail(err: ExecError, stdout: string, stderr: string, timeoutMs: number): string {
  const lastLine = (text: string) =>
    text
      .split('\n')
      .map((l) => l.trim())
      .filter(Boolean)
      .pop()
  const said = lastLine(stdout) ?? lastLine(stderr)?.replace(/^\d{4}-\d\d-\d\d [\d:,]+ fail2ban\s+\[\d+\]:\s+\w+\s+/, '')
  if (said) return said.length > MAX_DETAIL ? `${said.slice(0, MAX_DETAIL)}…` : said
  if (err.killed && err.signal) return `no answer within ${timeoutMs / 1000} s (fail2ban.timeoutSeconds)`
  if (typeof err.code === 'string') return `cannot start it: ${err.code}`
  if (err.signal) return `killed by ${err.signal}`
  return `exit ${String(err.code)}`
}
