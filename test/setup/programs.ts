import { execFile, spawn, type ChildProcess } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { stringify } from 'yaml'
import { BIN, ROOT } from './bins.js'
import { hostLogin, operatorLogin, type DatabaseLogin } from './database-logins.js'

export { BIN, ROOT }

export interface RunResult {
  code: number
  stdout: string
  stderr: string
  ms: number
}

/**
 * Run one of the built programs (the bundles CI ships, as pino tests its real exit path).
 * `onSpawn` gets the process while it runs, for a test that looks at it meanwhile (/proc).
 */
export function runProgram(
  bin: string,
  args: readonly string[],
  options: { env?: NodeJS.ProcessEnv; timeoutMs?: number; onSpawn?: (child: ChildProcess) => void } = {},
): Promise<RunResult> {
  const started = performance.now()
  return new Promise((resolvePromise) => {
    const child = execFile(process.execPath, [bin, ...args], { env: { ...process.env, ...options.env }, timeout: options.timeoutMs ?? 30_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : -1) : 0
      resolvePromise({ code, stdout, stderr, ms: performance.now() - started })
    })
    options.onSpawn?.(child)
  })
}

export interface HostConfigOptions {
  dir: string
  name: string
  dbUrl: string
  sharedLog?: string
  /** false: no fail2ban section at all (a firewall-mode host that feeds only its kernel sets). */
  fail2ban?: Record<string, unknown> | false
  extra?: Record<string, unknown>
}

/**
 * fail2ban.client for a host whose fail2ban is only a state file (`fail2ban.database` made by
 * scripts/fail2ban-state-db.mjs): a stand-in that says the shared jail runs, and nothing more
 * (see the script).
 */
export function standInClient(sharedJail = 'f2b-central-shared'): string[] {
  return ['sh', join(ROOT, 'test/setup/fail2ban-client-stand-in.sh'), sharedJail]
}

/**
 * Write a host's config.yml, as an admin would, and return its path. A host given
 * `fail2ban.database` but no `fail2ban.client` gets the stand-in client: its fail2ban is a
 * state file, with no server to ask. On a MySQL test database (its root URL), the host logs in
 * with its own account, made with `f2b-central hosts add` (database-logins.ts), as a real host
 * does; a test that names another URL or `database.url` keeps it. The first config of a host
 * waits for `hosts add` synchronously: write configs before starting a program that talks
 * through an in-process proxy or forwarder, which would be held up meanwhile.
 */
export function writeHostConfig(o: HostConfigOptions): string {
  const host = (o.extra?.host as { name?: string } | undefined)?.name ?? o.name
  return writeConfig(o, () => hostLogin(o.dbUrl, host))
}

/**
 * The operator's config.yml (for `f2b-central` commands other than a host's own `check`): on
 * a MySQL test database, the non-root account of sql/grants.sql; on SQLite, the file.
 */
export function writeOperatorConfig(o: Omit<HostConfigOptions, 'name'> & { name?: string }): string {
  return writeConfig({ ...o, name: o.name ?? 'ops' }, () => operatorLogin(o.dbUrl))
}

function writeConfig(o: HostConfigOptions, login: () => DatabaseLogin | undefined): string {
  const path = join(o.dir, `${o.name}.yml`)
  const { database, readdb, spool, ...rest } = (o.extra ?? {}) as { database?: Record<string, unknown>; readdb?: Record<string, unknown>; spool?: Record<string, unknown> }
  const f2b = o.fail2ban === false ? undefined : o.fail2ban
  const standIn = f2b?.database !== undefined && f2b.client === undefined ? { client: standInClient(f2b.sharedJail as string | undefined) } : {}
  const account = database?.url === undefined ? login() : undefined
  const doc = {
    database: { url: account?.url ?? o.dbUrl, ...(account ? { passwordFile: account.passwordFile } : {}), timeoutSeconds: 3, ...database },
    host: { name: o.name },
    ...(o.fail2ban === false ? {} : { fail2ban: { sharedLog: o.sharedLog ?? join(o.dir, `${o.name}-shared.log`), ...standIn, ...f2b } }),
    // Each test host gets its own lock file: the default in /run would make test hosts exclude each other.
    readdb: { lockFile: join(o.dir, `${o.name}-readdb.lock`), ...readdb },
    spool: { dir: join(o.dir, `${o.name}-spool`), ...spool },
    ...rest,
  }
  writeFileSync(path, stringify(doc), { mode: 0o600 })
  return path
}

/** A running `readdb --daemon`: everything it printed so far, and its exit code once closed. */
export interface RunningDaemon {
  readonly child: ChildProcess
  output(): string
  /** Resolves on 'close', not 'exit': only then are the output pipes drained. */
  readonly exited: Promise<number | null>
}

export function startDaemon(config: string, env: NodeJS.ProcessEnv = {}): RunningDaemon {
  const child = spawn(process.execPath, [BIN.readdb, '--config', config, '--daemon'], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } })
  let out = ''
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()))
  child.stderr?.on('data', (d: Buffer) => (out += d.toString()))
  const exited = new Promise<number | null>((r) => child.on('close', (code) => r(code)))
  return { child, output: () => out, exited }
}
