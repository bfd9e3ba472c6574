// Shared helpers of the benchmark: statistics, timed child processes, fail2ban log parsing,
// and one cleanup stack that runs however the run ends.
import { spawn } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'

export const TIME_BIN = '/usr/bin/time'

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms))

export function progress(message: string): void {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${message}\n`)
}

// ---------------------------------------------------------------- cleanup

type Cleanup = { what: string; run: () => Promise<void> | void }
const cleanups: Cleanup[] = []
let shuttingDown = false
const late = new Set<Promise<void>>()

/** From now on a step registered (a server that finished starting after Ctrl-C) is undone at once. */
export function beginShutdown(): void {
  shuttingDown = true
}

export const isShuttingDown = () => shuttingDown

/** Throw when the run is being interrupted: long waits call this so they end promptly. */
export function checkInterrupted(): void {
  if (shuttingDown) throw new Error('interrupted')
}

/** Register an undo step; steps run newest first. Returns a function that runs it early (once). */
export function defer(what: string, run: () => Promise<void> | void): () => Promise<void> {
  const entry: Cleanup = { what, run }
  if (shuttingDown) {
    const p = runOne(entry)
    late.add(p)
    return () => p
  }
  cleanups.push(entry)
  return async () => {
    const i = cleanups.indexOf(entry)
    if (i < 0) return
    cleanups.splice(i, 1)
    await runOne(entry)
  }
}

async function runOne(c: Cleanup): Promise<void> {
  try {
    await c.run()
  } catch (err) {
    process.stderr.write(`[bench] cleanup "${c.what}" failed: ${(err as Error).message}\n`)
  }
}

export async function cleanupAll(): Promise<void> {
  while (cleanups.length > 0) await runOne(cleanups.pop()!)
  await Promise.all(late)
}

// ---------------------------------------------------------------- statistics

export function sorted(xs: readonly number[]): number[] {
  return [...xs].sort((a, b) => a - b)
}

/** Nearest-rank percentile (p in 0..100): a value that was actually observed. */
export function percentile(xs: readonly number[], p: number): number {
  if (xs.length === 0) return NaN
  const s = sorted(xs)
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!
}

export function median(xs: readonly number[]): number {
  if (xs.length === 0) return NaN
  const s = sorted(xs)
  const mid = s.length >> 1
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2
}

export const round = (x: number, digits = 1) => (Number.isFinite(x) ? Math.round(x * 10 ** digits) / 10 ** digits : x)

// ---------------------------------------------------------------- processes

export interface TimedRun {
  code: number | null
  stdout: string
  stderr: string
  /** Wall time from spawn to exit, measured here. */
  ms: number
  /** Peak resident set size of the measured program (/usr/bin/time %M), KiB; null without /usr/bin/time. */
  maxRssKb: number | null
  /** CPU time of the measured program, user + system (/usr/bin/time %U %S), ms; null without /usr/bin/time. */
  cpuMs: number | null
}

export const haveTimeBin = () => existsSync(TIME_BIN)

/**
 * Run argv under /usr/bin/time (when present) for its peak RSS and CPU time; wall time is measured here
 * around the whole spawn, so both sides of a comparison carry the same small overhead.
 */
export function runTimed(argv: readonly string[], options: { env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<TimedRun> {
  const useTime = haveTimeBin()
  const [cmd, ...args] = useTime ? [TIME_BIN, '-f', 'F2BTIME %e %M %U %S', ...argv] : argv
  return new Promise((resolve, reject) => {
    const started = performance.now()
    const child = spawn(cmd!, args, { env: options.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()))
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()))
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 60_000)
    child.on('error', (err) => {
      clearTimeout(timer)
      reject(err)
    })
    child.on('close', (code) => {
      clearTimeout(timer)
      const ms = performance.now() - started
      let maxRssKb: number | null = null
      let cpuMs: number | null = null
      const m = /^F2BTIME [\d.]+ (\d+) ([\d.]+) ([\d.]+)\s*$/m.exec(stderr)
      if (m) {
        maxRssKb = Number(m[1])
        cpuMs = Math.round((Number(m[2]) + Number(m[3])) * 1000)
        stderr = stderr.replace(m[0], '').replace(/\n$/, '')
      }
      // /usr/bin/time reports "Command exited with non-zero status N" and exits with N.
      stderr = stderr.replace(/^Command exited with non-zero status \d+\n?/m, '')
      resolve({ code, stdout, stderr, ms, maxRssKb, cpuMs })
    })
  })
}

// ---------------------------------------------------------------- fail2ban logs

/** `2026-11-23 12:00:00,123 fail2ban.actions [123]: NOTICE  [jail] Ban 192.0.2.1`: local time, ms. */
const BAN_LINE = /^(\d{4})-(\d\d)-(\d\d) (\d\d):(\d\d):(\d\d),(\d{3}) .*\[([^\]\s]+)\] Ban (\S+)\s*$/gm

/** First `[jail] Ban ip` time (epoch ms) per address in a fail2ban log. */
export function banTimes(logFile: string, jail: string): Map<string, number> {
  const text = existsSync(logFile) ? readFileSync(logFile, 'utf8') : ''
  const out = new Map<string, number>()
  for (const m of text.matchAll(BAN_LINE)) {
    if (m[8] !== jail) continue
    const ip = m[9]!
    if (out.has(ip)) continue
    const t = new Date(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6]), Number(m[7])).getTime()
    out.set(ip, t)
  }
  return out
}

/** What fail2ban says each jail follows its log with (`Jail 'x' uses pyinotify {}`): pyinotify, poller, … */
export function jailBackends(logFile: string): Record<string, string> {
  const text = existsSync(logFile) ? readFileSync(logFile, 'utf8') : ''
  const out: Record<string, string> = {}
  for (const m of text.matchAll(/Jail '([^']+)' uses (\w+)/g)) out[m[1]!] = m[2]!
  return out
}

/** A database timestamp (UTC text `YYYY-MM-DD HH:MM:SS.fff`) as epoch ms. */
export function dbTimeMs(text: string | null | undefined): number {
  if (!text) return NaN
  return Date.parse(`${text.replace(' ', 'T')}Z`)
}

/** `YYYY-MM-DD HH:MM:SS` in local time, as a syslog-style log line starts. */
export function localStamp(d: Date): string {
  const p = (n: number) => String(n).padStart(2, '0')
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`
}

// ---------------------------------------------------------------- query counting

/** Counts queries (kysely's log hook via openDatabase's onQuery) while `active`. */
export class QueryCounter {
  active = false
  count = 0
  ms = 0
  readonly byKind = new Map<string, { count: number; ms: number }>()

  readonly onQuery = (sql: string, ms: number): void => {
    if (!this.active) return
    this.count++
    this.ms += ms
    const kind = queryKind(sql)
    const k = this.byKind.get(kind) ?? { count: 0, ms: 0 }
    k.count++
    k.ms += ms
    this.byKind.set(kind, k)
  }

  reset(): void {
    this.count = 0
    this.ms = 0
    this.byKind.clear()
  }

  start(): void {
    this.reset()
    this.active = true
  }

  stop(): { queries: number; dbMs: number; byKind: Record<string, { count: number; ms: number }> } {
    this.active = false
    const byKind = Object.fromEntries([...this.byKind].sort((a, b) => b[1].ms - a[1].ms).map(([k, v]) => [k, { count: v.count, ms: round(v.ms, 1) }]))
    return { queries: this.count, dbMs: this.ms, byKind }
  }
}

/** `select bans`, `update hosts`, `insert ban_status`, `begin`, … */
export function queryKind(sql: string): string {
  const s = sql.trim().toLowerCase()
  const verb = /^\w+/.exec(s)?.[0] ?? '?'
  const table = /\b(?:from|update|into)\s+[`"]?(\w+)/.exec(s)?.[1]
  let kind = table ? `${verb} ${table}` : verb
  if (verb === 'select' && /for update/.test(s)) kind += ' for update'
  if (verb === 'select' && table === 'bans' && /join/.test(s)) kind = 'select bans+join (fetch)'
  if (verb === 'select' && table === 'ban_status' && /join/.test(s)) kind = 'select ban_status+join (retries)'
  return kind
}
