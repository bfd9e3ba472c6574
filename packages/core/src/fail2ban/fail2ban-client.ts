import { execFile } from 'node:child_process'
import { Fail2banError } from '../errors.js'

/** Runs fail2ban-client with a configured argv prefix, bounded in time. Arguments never pass through a shell. */
export class Fail2banClient {
  readonly #argv: readonly string[]
  readonly #timeoutMs: number

  constructor(argv: readonly string[], timeoutMs: number) {
    if (argv.length === 0 || !argv[0]) throw new Fail2banError('fail2ban.client: empty command')
    this.#argv = argv
    this.#timeoutMs = timeoutMs
  }

  /** Run one fail2ban-client command and return its stdout. */
  run(...args: string[]): Promise<string> {
    const [cmd, ...prefix] = this.#argv as [string, ...string[]]
    return new Promise((resolve, reject) => {
      execFile(cmd, [...prefix, ...args], { timeout: this.#timeoutMs, maxBuffer: 256 * 1024 * 1024 }, (err, stdout, stderr) => {
        if (err) {
          const detail = (stderr || stdout || err.message).trim().split('\n').pop() ?? ''
          reject(new Fail2banError(`fail2ban-client ${args.join(' ')} failed: ${detail}`, { hint: 'is fail2ban running? check `fail2ban.client` in the config', cause: err }))
        } else resolve(stdout)
      })
    })
  }

  /** Names of the running jails. */
  async jails(): Promise<string[]> {
    const out = await this.run('status')
    const m = /Jail list:\s*(.*)$/m.exec(out)
    if (!m) throw new Fail2banError(`fail2ban-client status: unexpected output ${JSON.stringify(out.slice(0, 200))}`)
    return (m[1] ?? '').split(',').map((s) => s.trim()).filter(Boolean)
  }
}
