// Helpers for the serve tests (test/serve*.test.ts): a config for `f2b-central serve`, the
// SELECT-only account of sql/serve-grants.sql, a running serve process, a plain HTTP client.
import { spawn, type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { readFileSync, writeFileSync } from 'node:fs'
import { request as httpRequest } from 'node:http'
import { join } from 'node:path'
import { stringify } from 'yaml'
import { accountPrefix } from './database-logins.js'
import { adminConnection } from './mariadb.js'
import { BIN, ROOT } from './programs.js'

export interface ServeConfigOptions {
  dir: string
  dbUrl: string
  passwordFile?: string
  serve?: Record<string, unknown>
  name?: string
}

/** Write a serve config (mode 0600) and return its path. */
export function writeServeConfig(o: ServeConfigOptions): string {
  const path = join(o.dir, `${o.name ?? 'serve'}.yml`)
  const doc = {
    database: { url: o.dbUrl, timeoutSeconds: 5, ...(o.passwordFile ? { passwordFile: o.passwordFile } : {}) },
    host: { name: 'serve' },
    serve: { listen: '127.0.0.1:0', tokensFile: join(o.dir, 'serve-tokens'), ...o.serve },
  }
  writeFileSync(path, stringify(doc), { mode: 0o600 })
  return path
}

/**
 * The account sql/serve-grants.sql creates, made on the test server from the shipped file
 * (its database, user, password and host replaced as its header says), for the database in
 * `url`. Returns the URL to use instead, the password file, and how to drop the account.
 */
export async function createServeAccount(url: string, dir: string): Promise<{ url: string; passwordFile: string; drop(): Promise<void> }> {
  const u = new URL(url)
  const database = u.pathname.slice(1)
  // This run's prefix: the global teardown drops it if the test file dies before its own drop.
  const user = `${accountPrefix()}${randomBytes(3).toString('hex')}_serve`
  const password = randomBytes(12).toString('hex')
  const text = readFileSync(join(ROOT, 'sql/serve-grants.sql'), 'utf8')
    .replaceAll('f2b_central', database)
    .replaceAll('f2b_serve', user)
    .replaceAll('change-me-serve', password)
    .replaceAll("'localhost'", "'%'")
  const statements = text
    .split('\n')
    .filter((l) => !l.trimStart().startsWith('--'))
    .join('\n')
    .split(';')
    .map((s) => s.trim())
    .filter(Boolean)
  const admin = await adminConnection()
  try {
    for (const s of statements) await admin.query(s)
  } finally {
    await admin.end()
  }
  const passwordFile = join(dir, `${user}.pw`)
  writeFileSync(passwordFile, `${password}\n`, { mode: 0o600 })
  u.username = user
  u.password = ''
  return {
    url: u.toString(),
    passwordFile,
    drop: async () => {
      const c = await adminConnection()
      try {
        await c.query(`DROP USER IF EXISTS '${user}'@'%'`)
      } finally {
        await c.end()
      }
    },
  }
}

/** A running `f2b-central serve`: its base URL, everything it logged, and how to stop it. */
export interface ServeProcess {
  readonly child: ChildProcess
  readonly url: string
  /** Its JSON log lines so far, parsed. */
  lines(): Record<string, unknown>[]
  output(): string
  /** SIGTERM (or `signal`); resolves with the exit code once its pipes are drained. */
  stop(signal?: NodeJS.Signals): Promise<number | null>
  readonly exited: Promise<number | null>
}

/** Wait for a serve child (started however: here, or inside a namespace) to log that it listens. */
export function attachServe(child: ChildProcess, timeoutMs = 15_000): Promise<ServeProcess> {
  let out = ''
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()))
  child.stderr?.on('data', (d: Buffer) => (out += d.toString()))
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)))
  const lines = () =>
    out
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, unknown>)
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => finish(new Error(`serve did not listen within ${timeoutMs} ms:\n${out}`)), timeoutMs)
    const poll = setInterval(() => {
      const listening = lines().find((l) => l.msg === 'listening')
      if (listening) finish(undefined, String(listening.url))
    }, 25)
    void exited.then((code) => finish(new Error(`serve exited (${code}) before listening:\n${out}`)))
    let done = false
    function finish(err: Error | undefined, url?: string) {
      if (done) return
      done = true
      clearTimeout(timer)
      clearInterval(poll)
      if (err) {
        child.kill('SIGKILL')
        reject(err)
        return
      }
      resolve({
        child,
        url: url!,
        lines,
        output: () => out,
        exited,
        stop: (signal = 'SIGTERM') => {
          if (child.exitCode === null && child.signalCode === null) child.kill(signal)
          return exited
        },
      })
    }
  })
}

/** Start the built `f2b-central serve --config CONFIG` on this machine. */
export function startServeProcess(config: string, env: NodeJS.ProcessEnv = {}): Promise<ServeProcess> {
  const child = spawn(process.execPath, [BIN.cli, 'serve', '--config', config], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } })
  return attachServe(child)
}

export interface HttpResult {
  status: number
  headers: Record<string, string | string[] | undefined>
  body: string
  /** The response ended as announced (a cut-off chunked body is not complete). */
  complete: boolean
}

/** One HTTP request with node:http (no pooling, nothing hidden): any method, headers, even a body on GET. */
export function http(url: string, options: { method?: string; headers?: Record<string, string>; body?: string; token?: string; timeoutMs?: number } = {}): Promise<HttpResult> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { ...(options.token ? { Authorization: `Bearer ${options.token}` } : {}), ...options.headers }
    // A body is announced as a client would (node:http sends a GET's body unannounced otherwise).
    if (options.body !== undefined && headers['Transfer-Encoding'] === undefined) headers['Content-Length'] ??= String(Buffer.byteLength(options.body))
    const req = httpRequest(url, { method: options.method ?? 'GET', headers, agent: false, timeout: options.timeoutMs ?? 30_000 }, (res) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (d: string) => (body += d))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body, complete: res.complete }))
      res.on('error', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body, complete: false }))
      res.on('aborted', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body, complete: false }))
    })
    req.on('timeout', () => req.destroy(new Error('timeout')))
    req.on('error', reject)
    req.end(options.body)
  })
}

/** Add a token with the built CLI to a tokens file; returns it. */
export async function addToken(tokensFile: string, name: string): Promise<string> {
  const { runProgram } = await import('./programs.js')
  const r = await runProgram(BIN.cli, ['tokens', 'add', name, '--file', tokensFile])
  if (r.code !== 0) throw new Error(`tokens add ${name}: ${r.stderr}`)
  return r.stdout.trim()
}
