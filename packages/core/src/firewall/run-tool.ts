import { spawn } from 'node:child_process'
import { Readable } from 'node:stream'
import { FirewallError } from '../errors.js'

/** What a firewall tool printed. */
export interface ToolOutput {
  readonly stdout: string
  readonly stderr: string
}

/**
 * Run a firewall tool (nft, ipset, iptables, conntrack) with a script on stdin (whole, or in
 * pieces), never through a shell: argv is fixed by the caller, and every value in `input` was
 * checked by firewallEntry. A non-zero exit, a signal or the deadline is a FirewallError with the first
 * lines of stderr.
 */
export function runTool(argv: readonly string[], input: string | Iterable<string>, timeoutMs: number): Promise<ToolOutput> {
  const [file, ...args] = argv
  if (file === undefined) throw new FirewallError('empty firewall command')
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { stdio: ['pipe', 'pipe', 'pipe'] })
    const out: Buffer[] = []
    const err: Buffer[] = []
    let timedOut = false
    const timer = setTimeout(() => {
      timedOut = true
      child.kill('SIGKILL')
    }, timeoutMs)
    child.stdout.on('data', (d: Buffer) => out.push(d))
    child.stderr.on('data', (d: Buffer) => err.push(d))
    child.stdin.on('error', () => undefined)
    child.on('error', (e: NodeJS.ErrnoException) => {
      clearTimeout(timer)
      reject(
        new FirewallError(`cannot run ${file}: ${e.code === 'ENOENT' ? 'not found' : e.message}`, {
          hint: 'install nftables, ipset, iptables and conntrack (see README "Firewall mode")',
        }),
      )
    })
    child.on('close', (code, signal) => {
      clearTimeout(timer)
      const stdout = Buffer.concat(out).toString('utf8')
      const stderr = Buffer.concat(err).toString('utf8')
      if (code === 0) return resolve({ stdout, stderr })
      const why = timedOut ? `no answer within ${timeoutMs / 1000} s (firewall.timeoutSeconds)` : signal ? `killed by ${signal}` : `exit ${code}`
      const detail = stderr.trim().split('\n').slice(0, 3).join(' / ').slice(0, 400)
      reject(new FirewallError(`${[file, ...args].join(' ')} failed (${why})${detail ? `: ${detail}` : ''}`))
    })
    // A script in pieces is written as it is built: `ipset restore` applies each line as it
    // reads it, so the kernel's work overlaps the building of the rest.
    if (typeof input === 'string') child.stdin.end(input)
    else
      Readable.from(input, { objectMode: false })
        .on('error', () => child.kill('SIGKILL'))
        .pipe(child.stdin)
  })
}
