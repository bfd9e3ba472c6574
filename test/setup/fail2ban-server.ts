// A private fail2ban server for tests: its own directory with config, socket,
// pid file, database and log, so tests never touch the system's fail2ban and
// several servers (one per simulated host) can run side by side.
//
// Why it is built this way (see shared/FAIL2BAN-NOTES.md for the checked facts):
// - Only fail2ban.conf, paths-*.conf and filter.d/common.conf come from
//   /etc/fail2ban.  The system's jail.conf enables jails for logs that do not
//   exist here, and fail2ban refuses to start at all when an enabled jail's
//   log file is missing.
// - The harness writes its own small jail.conf with the [DEFAULT] names that
//   the real jail.conf provides and that jail files rely on (port, protocol,
//   chain, banaction, banaction_allports, action_, action), with every ban
//   action being the no-op action `dummy-noop`.  So shipped jail files such as
//   fail2ban/jail.d/f2b-central.conf work unchanged, and a test's jail.local
//   can still override any default.
// - Every fail2ban-client call gets both -c CONFDIR and -s SOCKET.  With -s
//   alone the client reads /etc/fail2ban, and a `reload` would then load the
//   system's jails into the test server.
// - stop() must work after any failure (it runs in afterAll): the server is
//   stopped through the client, and if that fails or the process lingers it
//   is killed by the pid from its pid file, but only after checking that this
//   pid is still our fail2ban-server (its command line names our socket).  A
//   stopped server can stay a zombie here (PID 1 of the machine does not reap
//   it at once), so a zombie counts as gone.
// - With `netns`, the server is started by `ip netns exec NAME fail2ban-client
//   ... start`, so the server and every action it runs (nft, add2db) live in
//   that network namespace.  All other client calls (clientArgv(), client(),
//   stop) need no namespace: the socket is a path in the filesystem, and a
//   unix socket reached by path works across network namespaces.
// - fail2ban-client is a Python start per call (tens of milliseconds): poll
//   at ~100 ms, not faster.

import { execFile } from 'node:child_process'
import { constants as fsConstants, promises as fs } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { requirePrograms } from '../../scripts/test-machine.mjs'

export const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url))
/** The repository's fail2ban files (filter.d, action.d, jail.d). */
export const SHIPPED_FAIL2BAN_DIR = path.join(REPO_ROOT, 'fail2ban')

const SYSTEM_CONF_DIR = '/etc/fail2ban'
const FAIL2BAN_CLIENT = 'fail2ban-client'
// fail2ban's own interpreter: it has sqlite3.  A `python3` earlier in PATH
// (pyenv and the like) may not be the same Python.
const SYSTEM_PYTHON = '/usr/bin/python3'
// sun_path is 108 bytes on Linux; keep a margin.
const MAX_SOCKET_PATH = 100

/** The no-op action that is available in every test server as `dummy-noop`. */
export const NOOP_ACTION = `# No-op action for tests: fail2ban's own ban state is all that is looked at.
[Definition]
actionstart =
actionstop =
actioncheck =
actionflush =
actionban =
actionunban =
`

type Text = string | ((dir: string) => string)

export interface Fail2banServerOptions {
  /** Short name, used in the temp directory's name and in error messages. */
  name: string
  /**
   * jail.local after its `[DEFAULT]` line: optional default overrides first,
   * then the jail sections.  A function gets the server's directory (for
   * logpath and the like).
   */
  jails: Text
  /** action.d files to write: name (without .conf) -> content. */
  actions?: Record<string, string>
  /** filter.d files to write: name (without .conf) -> content. */
  filters?: Record<string, string>
  /** Further files, paths relative to the config directory (e.g. 'jail.d/x.local'). */
  files?: Record<string, Text>
  /** Copy the repository's fail2ban/{filter.d,action.d,jail.d}/*.conf into the config directory. */
  shippedFiles?: boolean
  /** Extra environment for fail2ban-client and so for the server it starts (e.g. TZ). */
  env?: Record<string, string>
  /** Runs after the config is written and before fail2ban starts (e.g. to create log files). */
  beforeStart?: (server: Fail2banServer) => void | Promise<void>
  /** How long start may take until the server answers; default 20 s. */
  startTimeoutMs?: number
  /**
   * Run the server inside this network namespace (`ip netns exec NAME`), e.g. for real
   * nftables/ipset ban actions.  The namespace must exist; it is not created or removed here.
   */
  netns?: string
}

export interface Fail2banDbBan {
  jail: string
  ip: string
  /** Unix seconds. */
  timeofban: number
  /** Seconds; negative means permanent. */
  bantime: number
  bancount: number
}

interface RunResult {
  stdout: string
  stderr: string
}

function run(file: string, args: string[], opts: { env?: NodeJS.ProcessEnv; timeoutMs?: number; cwd?: string } = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    execFile(
      file,
      args,
      {
        env: opts.env ?? process.env,
        cwd: opts.cwd,
        timeout: opts.timeoutMs ?? 30_000,
        killSignal: 'SIGKILL',
        maxBuffer: 64 * 1024 * 1024,
        encoding: 'utf8',
      },
      (error, stdout, stderr) => {
        if (error) {
          const err = new Error(`${file} ${args.join(' ')} failed: ${error.message}\n--- stdout\n${stdout}\n--- stderr\n${stderr}`) as Error & RunResult
          err.stdout = stdout
          err.stderr = stderr
          reject(err)
        } else {
          resolve({ stdout, stderr })
        }
      },
    )
  })
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

/** Polls `check` until it returns something other than undefined/false, or throws after timeoutMs. */
export async function waitUntil<T>(what: string, check: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs: number, intervalMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs
  let lastError: unknown
  for (;;) {
    try {
      const value = await check()
      if (value !== undefined && value !== false) return value as T
    } catch (error) {
      lastError = error
    }
    if (Date.now() >= deadline) {
      const detail = lastError instanceof Error ? `: ${lastError.message}` : ''
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${detail}`)
    }
    await sleep(intervalMs)
  }
}

async function copyConfDir(from: string, to: string): Promise<void> {
  let names: string[]
  try {
    names = await fs.readdir(from)
  } catch {
    return
  }
  await fs.mkdir(to, { recursive: true })
  for (const name of names) {
    if (name.endsWith('.conf')) await fs.copyFile(path.join(from, name), path.join(to, name))
  }
}

/** State of a process from /proc: undefined when it does not exist. */
async function processState(pid: number): Promise<{ state: string; cmdline: string } | undefined> {
  try {
    const stat = await fs.readFile(`/proc/${pid}/stat`, 'utf8')
    // "pid (comm) S ...": comm may contain spaces and parentheses.
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3)
    const cmdline = (await fs.readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '')).replace(/\0/g, ' ')
    return { state, cmdline }
  } catch {
    return undefined
  }
}

export class Fail2banServer {
  readonly name: string
  readonly dir: string
  readonly confDir: string
  readonly socket: string
  readonly pidFile: string
  readonly dbFile: string
  /** fail2ban's own log (bans are logged as `[JAIL] Ban IP` with millisecond times). */
  readonly logFile: string

  private readonly env: NodeJS.ProcessEnv
  private readonly startTimeoutMs: number
  /** The network namespace the server runs in, if any. */
  readonly netns: string | undefined
  private pid: number | undefined
  private removed = false

  private constructor(dir: string, opts: Fail2banServerOptions) {
    this.name = opts.name
    this.dir = dir
    this.confDir = path.join(dir, 'conf')
    this.socket = path.join(dir, 'fail2ban.sock')
    this.pidFile = path.join(dir, 'fail2ban.pid')
    this.dbFile = path.join(dir, 'fail2ban.sqlite3')
    this.logFile = path.join(dir, 'fail2ban.log')
    this.env = { ...process.env, ...opts.env }
    this.startTimeoutMs = opts.startTimeoutMs ?? 20_000
    this.netns = opts.netns
  }

  /** Writes a private config and starts fail2ban on it. On failure everything is cleaned up again. */
  static async start(opts: Fail2banServerOptions): Promise<Fail2banServer> {
    requirePrograms(FAIL2BAN_CLIENT)
    const safeName = opts.name.replace(/[^A-Za-z0-9_-]/g, '_').slice(0, 24)
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), `f2b-${safeName}-`))
    const server = new Fail2banServer(dir, opts)
    try {
      if (Buffer.byteLength(server.socket) > MAX_SOCKET_PATH) {
        throw new Error(`socket path too long for a unix socket: ${server.socket} (set TMPDIR to a shorter directory)`)
      }
      await server.writeConfig(opts)
      await opts.beforeStart?.(server)
      await server.startServer()
      return server
    } catch (error) {
      await server.stop().catch(() => {})
      throw error
    }
  }

  /** A path inside the server's directory. */
  path(...parts: string[]): string {
    return path.join(this.dir, ...parts)
  }

  /** argv prefix for fail2ban-client aimed at this server (e.g. for f2b-central's `fail2ban.client` setting). */
  clientArgv(): string[] {
    return [FAIL2BAN_CLIENT, '-c', this.confDir, '-s', this.socket]
  }

  /** Runs fail2ban-client against this server; resolves to its trimmed stdout, rejects on a non-zero exit. */
  async client(...args: string[]): Promise<string> {
    const { stdout } = await run(FAIL2BAN_CLIENT, [...this.clientArgv().slice(1), ...args], {
      env: this.env,
      timeoutMs: 30_000,
    })
    return stdout.trim()
  }

  async bannedIps(jail: string): Promise<string[]> {
    const out = await this.client('get', jail, 'banip')
    return out.split(/\s+/).filter(Boolean)
  }

  async waitForBan(jail: string, ip: string, timeoutMs = 10_000): Promise<void> {
    try {
      await waitUntil(`${ip} banned in ${jail}`, async () => (await this.bannedIps(jail)).includes(ip), timeoutMs)
    } catch (error) {
      throw new Error(`${this.name}: ${(error as Error).message}\n${await this.logTail()}`)
    }
  }

  /** fail2ban's log, '' if there is none yet. */
  async log(): Promise<string> {
    return fs.readFile(this.logFile, 'utf8').catch(() => '')
  }

  /**
   * Until the jail's filter has read a line naming ip. readdb hands a ban to the jail before
   * fail2ban reads its line, so a test that unbans right after the ban must wait for this too:
   * a line read after the unban bans the address again.
   */
  async waitForLineRead(jail: string, ip: string, timeoutMs = 30_000): Promise<void> {
    const literal = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
    await this.waitForLog(new RegExp(`\\[${literal(jail)}\\] Found ${literal(ip)} `), timeoutMs)
  }

  /**
   * Until fail2ban has fully handled every line of `sharedLog` naming ip, each of which readdb
   * also handed over (`set JAIL banip`): the filter read it (`Found`) and the action thread took
   * its ticket, finding the address already banned (`already banned`, logged at DEBUG: the
   * server must run with `loglevel = DEBUG`). Only then can a test unban without a late ticket
   * banning the address again.
   */
  async waitForSharedLogRead(jail: string, ip: string, sharedLog: string, timeoutMs = 30_000): Promise<void> {
    const written = (await fs.readFile(sharedLog, 'utf8').catch(() => '')).split('\n').filter((l) => l.includes(` ban ${ip} `)).length
    const count = (text: string, needle: string) => text.split('\n').filter((l) => l.includes(needle)).length
    try {
      await waitUntil(
        `${written} lines naming ${ip} read and handled by ${jail}`,
        async () => {
          const log = await this.log()
          if (!log.includes(' DEBUG ')) throw new Error(`${this.name} does not log at DEBUG: waitForSharedLogRead cannot see the action thread`)
          return count(log, `[${jail}] Found ${ip} `) >= written && count(log, `[${jail}] ${ip} already banned`) >= written
        },
        timeoutMs,
      )
    } catch (error) {
      throw new Error(`${this.name}: ${(error as Error).message}\n${await this.logTail()}`)
    }
  }

  async waitForLog(re: RegExp, timeoutMs = 10_000): Promise<RegExpMatchArray> {
    try {
      return await waitUntil(`${re} in fail2ban's log`, async () => (await this.log()).match(re) ?? undefined, timeoutMs)
    } catch (error) {
      throw new Error(`${this.name}: ${(error as Error).message}\n${await this.logTail()}`)
    }
  }

  /** Current bans from fail2ban's own database (table bips), opened read-only. */
  async dbBans(jail?: string): Promise<Fail2banDbBan[]> {
    const script = [
      'import json, sqlite3, sys, urllib.parse',
      'db = sqlite3.connect("file:" + urllib.parse.quote(sys.argv[1]) + "?mode=ro", uri=True, timeout=5)',
      'rows = db.execute("SELECT jail, ip, timeofban, bantime, bancount FROM bips ORDER BY timeofban, ip").fetchall()',
      'print(json.dumps([dict(jail=r[0], ip=r[1], timeofban=r[2], bantime=r[3], bancount=r[4]) for r in rows]))',
    ].join('\n')
    const { stdout } = await run(SYSTEM_PYTHON, ['-c', script, this.dbFile], { timeoutMs: 10_000 })
    const rows = JSON.parse(stdout) as Fail2banDbBan[]
    return jail === undefined ? rows : rows.filter((r) => r.jail === jail)
  }

  /** Stops and starts fail2ban on the same directory (same config, database and logs). */
  async restart(): Promise<void> {
    await this.stopServer()
    await this.startServer()
  }

  /** Stops fail2ban and keeps its directory, for a test of a host whose fail2ban is down; start() it again with resume(). */
  async halt(): Promise<void> {
    await this.stopServer()
  }

  /** Starts fail2ban again after halt(), on the same config, database and logs. */
  async resume(): Promise<void> {
    await this.startServer()
  }

  /** Stops fail2ban (killing it if it does not go) and removes the directory. Safe to call more than once. */
  async stop(): Promise<void> {
    try {
      await this.stopServer()
    } finally {
      if (!this.removed) {
        this.removed = true
        await fs.rm(this.dir, { recursive: true, force: true })
      }
    }
  }

  private async logTail(lines = 40): Promise<string> {
    const log = await this.log()
    return `--- last lines of ${this.logFile}\n${log.split('\n').slice(-lines).join('\n')}`
  }

  private async writeConfig(opts: Fail2banServerOptions): Promise<void> {
    const conf = this.confDir
    for (const sub of ['filter.d', 'action.d', 'jail.d']) await fs.mkdir(path.join(conf, sub), { recursive: true })
    for (const file of ['fail2ban.conf', 'paths-common.conf', 'paths-debian.conf', 'filter.d/common.conf']) {
      await fs.copyFile(path.join(SYSTEM_CONF_DIR, file), path.join(conf, file))
    }
    await fs.writeFile(
      path.join(conf, 'fail2ban.local'),
      `[DEFAULT]
loglevel = INFO
logtarget = ${this.logFile}
socket = ${this.socket}
pidfile = ${this.pidFile}
dbfile = ${this.dbFile}

[Definition]
# Set to silence the client's warning about it on every call.
allowipv6 = auto
`,
    )
    await fs.writeFile(path.join(conf, 'action.d', 'dummy-noop.conf'), NOOP_ACTION)
    if (opts.shippedFiles) {
      for (const sub of ['filter.d', 'action.d', 'jail.d']) {
        await copyConfDir(path.join(SHIPPED_FAIL2BAN_DIR, sub), path.join(conf, sub))
      }
    }
    await fs.writeFile(
      path.join(conf, 'jail.conf'),
      `# Written by test/setup/fail2ban-server.ts in place of the system's jail.conf:
# the defaults jail files expect, with the no-op action as every ban action.
[INCLUDES]
before = paths-debian.conf

[DEFAULT]
backend = polling
usedns = no
bantime = 10m
findtime = 10m
maxretry = 5
protocol = tcp
port = 0:65535
chain = INPUT
banaction = dummy-noop
banaction_allports = dummy-noop
action_ = %(banaction)s[port="%(port)s", protocol="%(protocol)s", chain="%(chain)s"]
action = %(action_)s
`,
    )
    const text = (t: Text) => (typeof t === 'function' ? t(this.dir) : t)
    await fs.writeFile(path.join(conf, 'jail.local'), `[DEFAULT]\n${text(opts.jails)}\n`)
    for (const [name, body] of Object.entries(opts.actions ?? {})) {
      await fs.writeFile(path.join(conf, 'action.d', `${name}.conf`), body)
    }
    for (const [name, body] of Object.entries(opts.filters ?? {})) {
      await fs.writeFile(path.join(conf, 'filter.d', `${name}.conf`), body)
    }
    for (const [rel, body] of Object.entries(opts.files ?? {})) {
      const target = path.resolve(conf, rel)
      if (!target.startsWith(conf + path.sep)) throw new Error(`file outside the config directory: ${rel}`)
      await fs.mkdir(path.dirname(target), { recursive: true })
      await fs.writeFile(target, text(body))
    }
  }

  private async startServer(): Promise<void> {
    try {
      // `start` returns once the server has taken the config (jails started),
      // or fails with the config error on stderr.
      const start = [FAIL2BAN_CLIENT, '-c', this.confDir, 'start']
      const [file, ...args] = this.netns === undefined ? start : ['ip', 'netns', 'exec', this.netns, ...start]
      await run(file!, args, { env: this.env, timeoutMs: this.startTimeoutMs })
      await waitUntil('fail2ban to answer', async () => (await this.client('ping')).includes('pong'), this.startTimeoutMs)
      await this.client('status')
      this.pid = await this.readPid()
    } catch (error) {
      throw new Error(`fail2ban server ${this.name} did not start: ${(error as Error).message}\n${await this.logTail()}`)
    }
  }

  private async readPid(): Promise<number | undefined> {
    const text = await fs.readFile(this.pidFile, 'utf8').catch(() => '')
    const pid = Number.parseInt(text.trim(), 10)
    return Number.isInteger(pid) && pid > 0 ? pid : undefined
  }

  /** Our fail2ban-server's pid if that process is still alive (not a zombie) and still ours. */
  private async livePid(pid: number | undefined): Promise<number | undefined> {
    if (pid === undefined) return undefined
    const proc = await processState(pid)
    if (!proc || proc.state === 'Z' || proc.state === 'X') return undefined
    return proc.cmdline.includes('fail2ban-server') && proc.cmdline.includes(this.socket) ? pid : undefined
  }

  private async stopServer(): Promise<void> {
    const pid = (await this.readPid()) ?? this.pid
    const socketExists = await fs.access(this.socket, fsConstants.F_OK).then(
      () => true,
      () => false,
    )
    const asked =
      socketExists &&
      (await run(FAIL2BAN_CLIENT, ['-c', this.confDir, '-s', this.socket, 'stop'], {
        env: this.env,
        timeoutMs: 15_000,
      }).then(
        () => true,
        () => false,
      ))
    const gone = async () => (await this.livePid(pid)) === undefined
    // Without a successful `stop` there is nothing to wait for: signal at once.
    const steps = asked ? ([undefined, 'SIGTERM', 'SIGKILL'] as const) : (['SIGTERM', 'SIGKILL'] as const)
    for (const signal of steps) {
      if (signal) {
        const live = await this.livePid(pid)
        if (live === undefined) break
        try {
          process.kill(live, signal)
        } catch {
          // already gone
        }
      }
      try {
        await waitUntil(`fail2ban-server ${pid} to exit`, gone, signal === 'SIGKILL' ? 5_000 : 10_000, 50)
        break
      } catch {
        // escalate
      }
    }
    if (!(await gone())) throw new Error(`fail2ban server ${this.name} (pid ${pid}) did not exit`)
    this.pid = undefined
    // A killed server leaves its socket and pid file behind; a restart must not trip over them.
    await fs.rm(this.socket, { force: true })
    await fs.rm(this.pidFile, { force: true })
  }
}
