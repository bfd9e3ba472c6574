// Proves the files an admin installs from deploy/: the systemd units and timer
// (systemd-analyze verify, offline), the cron file (parsed), and the logrotate
// file (the real logrotate, while a private fail2ban follows the log it
// rotates).  The units' sandbox is also tried out without systemd: readdb and
// fail2ban-client run in a mount namespace where everything but the writable
// paths is read-only, without capabilities and with no_new_privs, as
// ProtectSystem=strict, CapabilityBoundingSet= and NoNewPrivileges= make it.
//
// What was learned on the way (systemd 252, logrotate 3.21, fail2ban 1.0.2):
// - `systemd-analyze verify` exits 0 on a misspelt directive or an invalid
//   value: it only prints "Unknown key ..." / "Failed to parse ..., ignoring"
//   on stderr.  A unit passes here only with exit 0 AND nothing on stderr.
// - Without systemd as PID 1 it works offline with --root=DIR, where DIR
//   holds the system's unit directory (sysinit.target and the like must be
//   found), the units in etc/systemd/system and an executable at ExecStart's
//   path (verify checks that it exists inside DIR).
// - fail2ban moves to the new file after a rotation by itself (both
//   backends), but never reads what it had not read yet of the renamed file;
//   see deploy/logrotate/f2b-central for the postrotate that covers it.

import { execFile, execFileSync, type ExecFileException } from 'node:child_process'
import { accessSync, constants as fsConstants, existsSync, promises as fs, readFileSync, realpathSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { gunzipSync } from 'node:zlib'
import BetterSqlite3 from 'better-sqlite3'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { configFileSchema } from '@f2b-central/core/config/config-schema'
import { requirePrograms } from '../scripts/test-machine.mjs'
import { Fail2banServer, REPO_ROOT } from './setup/fail2ban-server.js'
import { BIN, runProgram, writeHostConfig } from './setup/programs.js'

const DEPLOY = path.join(REPO_ROOT, 'deploy')
const UNIT_DIR = path.join(DEPLOY, 'systemd')
const DAEMON = 'f2b-central-readdb.service'
const ONCE = 'f2b-central-readdb-once.service'
const TIMER = 'f2b-central-readdb.timer'
const UNITS = [DAEMON, ONCE, TIMER]
// f2b-central serve, and the pull of its list on edge hosts (issue 14)
const SERVE = 'f2b-central-serve.service'
const PULL = 'f2b-central-pull.service'
const PULL_TIMER = 'f2b-central-pull.timer'
const SERVE_UNITS = [SERVE, PULL, PULL_TIMER]
const CLI_PATH = '/usr/local/bin/f2b-central'
const PULL_PATH = '/usr/local/sbin/f2b-central-pull'
const PULL_CRON_FILE = path.join(DEPLOY, 'cron', 'f2b-central-pull')
const CRON_FILE = path.join(DEPLOY, 'cron', 'f2b-central')
const LOGROTATE_FILE = path.join(DEPLOY, 'logrotate', 'f2b-central')
/** Where every deploy file expects readdb: the README's install step links it there. */
const READDB_PATH = '/usr/local/bin/readdb'
const SHIPPED_SHARED_LOG = '/var/log/f2b-central/shared.log'
const SHARED_JAIL = 'f2b-central-shared'

// ---------------------------------------------------------------------------
// helpers

/** The absolute path of a program, looking in PATH and the sbin directories (logrotate lives in /usr/sbin). */
function findProgram(name: string): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(':'), '/usr/local/sbin', '/usr/sbin', '/sbin', '/usr/bin', '/bin']
  for (const dir of dirs.filter(Boolean)) {
    const file = path.join(dir, name)
    try {
      accessSync(file, fsConstants.X_OK)
      return file
    } catch {
      // not here
    }
  }
  return undefined
}

const SYSTEMD_ANALYZE = findProgram('systemd-analyze')
const LOGROTATE = findProgram('logrotate')

/** Only root may make the private mount namespace (unshare, setpriv from util-linux) the sandbox is tried in. */
const AS_ROOT = process.getuid?.() === 0

const skipNote = (what: string | undefined, why: string) => (what ? '' : ` (SKIPPED: ${why})`)

interface Run {
  code: number
  stdout: string
  stderr: string
}

function run(file: string, args: string[], opts: { env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      file,
      args,
      { env: opts.env ?? process.env, timeout: opts.timeoutMs ?? 20_000, killSignal: 'SIGKILL', encoding: 'utf8' },
      (error: ExecFileException | null, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : -1) : 0
        resolve({ code, stdout, stderr })
      },
    )
  })
}

/** The line readdb writes for a ban (the contract fail2ban/filter.d/f2b-central.conf implements). */
function banLine(ip: string, when: Date, banId: number): string {
  return `${when.toISOString().slice(0, 19).replace('T', ' ')} +0000 f2b-central: ban ${ip} jail=sshd reporter=host-a ban_id=${banId}\n`
}

const secondsAgo = (s: number) => new Date((Math.floor(Date.now() / 1000) - s) * 1000)

type UnitFile = Map<string, Map<string, string[]>>

/** A unit file as systemd reads it: sections of keys, each key with every value assigned to it, in order. */
function parseUnit(text: string): UnitFile {
  const unit: UnitFile = new Map()
  let section: Map<string, string[]> | undefined
  for (const [i, raw] of text.split('\n').entries()) {
    const line = raw.trim()
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue
    if (line.endsWith('\\')) throw new Error(`line ${i + 1}: continuation lines are not expected here`)
    const header = /^\[([^\]]+)\]$/.exec(line)
    if (header) {
      section = new Map()
      unit.set(header[1]!, section)
      continue
    }
    const eq = line.indexOf('=')
    if (!section || eq < 1) throw new Error(`line ${i + 1}: not "Key=value" inside a section: ${raw}`)
    const key = line.slice(0, eq).trim()
    section.set(key, [...(section.get(key) ?? []), line.slice(eq + 1).trim()])
  }
  return unit
}

function unitValue(unit: UnitFile, section: string, key: string): string | undefined {
  return unit.get(section)?.get(key)?.at(-1)
}

function readUnit(name: string): UnitFile {
  return parseUnit(readFileSync(path.join(UNIT_DIR, name), 'utf8'))
}

/** Directories a service may write under ProtectSystem=strict. */
function writablePaths(unit: UnitFile): string[] {
  const service = unit.get('Service') ?? new Map<string, string[]>()
  const all = (key: string) => (service.get(key) ?? []).flatMap((v) => v.split(/\s+/)).filter(Boolean)
  return [
    ...all('RuntimeDirectory').map((d) => path.join('/run', d)),
    ...all('LogsDirectory').map((d) => path.join('/var/log', d)),
    ...all('StateDirectory').map((d) => path.join('/var/lib', d)),
    ...all('CacheDirectory').map((d) => path.join('/var/cache', d)),
    ...all('ReadWritePaths').map((p) => p.replace(/^[-+]+/, '')),
  ]
}

/** The programs a unit's Exec*= lines run, without their prefixes (+, -, @, !, :). */
function execPrograms(unit: UnitFile): string[] {
  const service = unit.get('Service') ?? new Map<string, string[]>()
  return [...service].filter(([k]) => k.startsWith('Exec')).flatMap(([, values]) => values.map((v) => v.replace(/^[-+@!:]+/, '').split(/\s+/)[0]!))
}

const isInside = (file: string, dir: string) => file === dir || file.startsWith(dir.endsWith('/') ? dir : `${dir}/`)

// ---------------------------------------------------------------------------
// the systemd units, read as systemd reads them

describe('deploy/systemd: what the units say', () => {
  const daemon = readUnit(DAEMON)
  const once = readUnit(ONCE)
  const timer = readUnit(TIMER)
  const defaults = configFileSchema.parse({ database: { url: 'sqlite:/var/lib/f2b-central/bans.sqlite' } })

  it("run readdb from the documented path: the daemon with --daemon, the timer's service one poll", () => {
    expect(unitValue(daemon, 'Service', 'ExecStart')).toBe(`${READDB_PATH} --daemon`)
    expect(unitValue(once, 'Service', 'ExecStart')).toBe(READDB_PATH)
    expect(unitValue(once, 'Service', 'Type')).toBe('oneshot')
    expect(unitValue(timer, 'Timer', 'Unit')).toBe(ONCE)
    // the README's install step puts the symlink there
    expect(readFileSync(path.join(REPO_ROOT, 'README.md'), 'utf8')).toContain(` ${READDB_PATH}\n`)
  })

  it('start after the network, the database and fail2ban; only the daemon and the timer are enabled', () => {
    for (const unit of [daemon, once]) {
      expect(unitValue(unit, 'Unit', 'Wants')).toBe('network-online.target')
      expect(unitValue(unit, 'Unit', 'After')?.split(/\s+/)).toEqual(expect.arrayContaining(['network-online.target', 'mariadb.service', 'fail2ban.service']))
    }
    expect(unitValue(daemon, 'Install', 'WantedBy')).toBe('multi-user.target')
    expect(unitValue(timer, 'Install', 'WantedBy')).toBe('timers.target')
    expect(once.has('Install')).toBe(false)
    // starting one of daemon and timer stops the other
    expect(unitValue(daemon, 'Unit', 'Conflicts')).toBe(TIMER)
  })

  it('the daemon restarts on failure but not on a config error, and stops on SIGTERM', () => {
    expect(unitValue(daemon, 'Service', 'Restart')).toBe('on-failure')
    expect(unitValue(daemon, 'Service', 'RestartPreventExitStatus')).toBe('2')
    expect(unitValue(daemon, 'Service', 'KillSignal')).toBe('SIGTERM')
    expect(unitValue(daemon, 'Service', 'TimeoutStopSec')).toBeDefined()
    expect(unitValue(once, 'Service', 'TimeoutStartSec')).toBeDefined()
  })

  it('the timer fires every minute, to the second, and catches up after boot', () => {
    expect(unitValue(timer, 'Timer', 'OnCalendar')).toBe('minutely')
    expect(unitValue(timer, 'Timer', 'AccuracySec')).toBe('1s')
    expect(unitValue(timer, 'Timer', 'Persistent')).toBe('true')
    // a fixed offset per host: still exactly one poll a minute
    expect(unitValue(timer, 'Timer', 'FixedRandomDelay')).toBe('yes')
  })

  it('both services have the same sandbox', () => {
    const perUnit = new Set(['Type', 'ExecStart', 'Restart', 'RestartSec', 'RestartPreventExitStatus', 'TimeoutStartSec', 'CacheDirectory', 'Environment'])
    const sandbox = (unit: UnitFile) => [...(unit.get('Service') ?? new Map<string, string[]>())].filter(([k]) => !perUnit.has(k))
    expect(sandbox(once)).toEqual(sandbox(daemon))
    for (const [key, value] of Object.entries({
      User: 'root',
      NoNewPrivileges: 'yes',
      ProtectSystem: 'strict',
      ProtectHome: 'yes',
      PrivateTmp: 'yes',
      RuntimeDirectory: 'f2b-central',
      CapabilityBoundingSet: '',
    })) {
      expect(unitValue(daemon, 'Service', key), key).toBe(value)
    }
    // node's JIT needs writable executable memory
    expect(unitValue(daemon, 'Service', 'MemoryDenyWriteExecute') ?? 'no').toBe('no')
    // fail2ban's socket, the database over TCP
    expect(unitValue(daemon, 'Service', 'RestrictAddressFamilies')?.split(/\s+/)).toEqual(expect.arrayContaining(['AF_UNIX', 'AF_INET', 'AF_INET6']))
  })

  it('may write where readdb writes by default: the shared log, the lock file and the spool it empties', () => {
    for (const unit of [daemon, once]) {
      const writable = writablePaths(unit)
      for (const dir of [path.dirname(defaults.fail2ban.sharedLog), path.dirname(defaults.readdb.lockFile), defaults.spool.dir]) {
        expect(
          writable.some((w) => isInside(dir, w)),
          `${dir} in ${writable.join(' ')}`,
        ).toBe(true)
      }
      // the spool is made before the sandbox is, so that it can be made writable
      expect(unit.get('Service')?.get('ExecStartPre')).toContain(`+/bin/mkdir -p -m 0700 ${defaults.spool.dir}`)
      expect(writable).toContain('/run/f2b-central')
      expect(writable.some((dir) => isInside('/run/fail2ban', dir) || isInside('/var/lib/fail2ban', dir))).toBe(false)
    }
  })
})

// ---------------------------------------------------------------------------
// systemd-analyze, offline

describe('deploy/systemd with systemd-analyze', () => {
  let root = ''
  const etc = () => path.join(root, 'etc/systemd/system')

  beforeAll(async () => {
    requirePrograms('systemd-analyze')
    root = await fs.mkdtemp(path.join(os.tmpdir(), 'f2b-units-'))
    // The system's own units (sysinit.target, basic.target, ...), at the same place inside root.
    const copied = new Set<string>()
    for (const dir of ['/usr/lib/systemd/system', '/lib/systemd/system']) {
      if (!existsSync(dir) || copied.has(realpathSync(dir))) continue
      copied.add(realpathSync(dir))
      await fs.cp(dir, path.join(root, dir), { recursive: true, verbatimSymlinks: true })
    }
    await fs.mkdir(etc(), { recursive: true })
    for (const unit of [...UNITS, ...SERVE_UNITS]) await fs.copyFile(path.join(UNIT_DIR, unit), path.join(etc(), unit))
    // verify checks that every Exec*= program exists and is executable, inside root.
    for (const program of new Set([READDB_PATH, CLI_PATH, PULL_PATH, ...[...UNITS, ...SERVE_UNITS].flatMap((u) => execPrograms(readUnit(u)))])) {
      if (existsSync(path.join(root, program))) continue
      await fs.mkdir(path.join(root, path.dirname(program)), { recursive: true })
      await fs.writeFile(path.join(root, program), '#!/bin/sh\n', { mode: 0o755 })
    }
  })

  afterAll(async () => {
    if (root) await fs.rm(root, { recursive: true, force: true })
  })

  /** systemd-analyze verify on the units in root; passing means exit 0 and not a word on stderr. */
  async function verify(units = UNITS): Promise<Run & { ok: boolean }> {
    const r = await run(SYSTEMD_ANALYZE!, ['verify', '--man=no', '--no-pager', `--root=${root}`, ...units], {
      env: { ...process.env, SYSTEMD_LOG_LEVEL: 'info', SYSTEMD_COLORS: '0' },
    })
    return { ...r, ok: r.code === 0 && r.stderr.trim() === '' }
  }

  /** verify with one unit replaced by `edit(text)`, then the shipped file put back. */
  async function verifyBroken(unit: string, edit: (text: string) => string): Promise<Run & { ok: boolean }> {
    const shipped = await fs.readFile(path.join(UNIT_DIR, unit), 'utf8')
    const broken = edit(shipped)
    expect(broken).not.toBe(shipped)
    await fs.writeFile(path.join(etc(), unit), broken)
    try {
      return await verify()
    } finally {
      await fs.writeFile(path.join(etc(), unit), shipped)
    }
  }

  it('accepts the three units without a warning', async () => {
    const r = await verify()
    expect(r.stderr).toBe('')
    expect(r.code).toBe(0)
    expect(r.ok).toBe(true)
  })

  it('accepts the serve and pull units without a warning', async () => {
    const r = await verify(SERVE_UNITS)
    expect(r.stderr).toBe('')
    expect(r.code).toBe(0)
  })

  it('rejects broken copies: a misspelt directive, a bad value, a missing program', async () => {
    // systemd 252 exits 0 here and only warns: the stderr check is what catches it
    const typo = await verifyBroken(DAEMON, (t) => t.replace(/^ProtectHome=/m, 'ProtectHoem='))
    expect(typo.ok).toBe(false)
    expect(typo.stderr).toMatch(/Unknown key '?ProtectHoem'?/)

    const badValue = await verifyBroken(ONCE, (t) => t.replace(/^ProtectSystem=strict$/m, 'ProtectSystem=stritc'))
    expect(badValue.ok).toBe(false)
    expect(badValue.stderr).toMatch(/stritc/)

    const badCalendar = await verifyBroken(TIMER, (t) => t.replace(/^OnCalendar=minutely$/m, 'OnCalendar=minutly'))
    expect(badCalendar.ok).toBe(false)
    expect(badCalendar.stderr).toMatch(/minutly/)

    await fs.rename(path.join(root, READDB_PATH), path.join(root, `${READDB_PATH}.away`))
    try {
      const noProgram = await verify([DAEMON])
      expect(noProgram.ok).toBe(false)
      expect(noProgram.stderr).toContain(READDB_PATH)
    } finally {
      await fs.rename(path.join(root, `${READDB_PATH}.away`), path.join(root, READDB_PATH))
    }
    // and the shipped files pass again
    expect((await verify()).ok).toBe(true)
  })

  // A guard against the sandbox being loosened by accident: 1.7 with systemd
  // 252; the limit leaves room for checks newer versions add.
  it("the services' exposure in systemd-analyze security is at most 2.5", async () => {
    for (const unit of [DAEMON, ONCE]) {
      const r = await run(SYSTEMD_ANALYZE!, ['security', '--offline=yes', `--root=${root}`, '--threshold=25', '--no-pager', unit], {
        env: { ...process.env, SYSTEMD_COLORS: '0' },
      })
      expect(r.stdout, unit).toMatch(new RegExp(`Overall exposure level for ${unit.replace(/\./g, '\\.')}: \\d`))
      expect(
        r.code,
        `${unit}\n${r.stdout
          .split('\n')
          .filter((l) => l.includes('Overall'))
          .join('\n')}\n${r.stderr}`,
      ).toBe(0)
    }
  })

  // serve is network-facing (1.4 with systemd 252): it runs as its own user, without any
  // capability; pull needs root with CAP_NET_ADMIN and netlink for the firewall (2.0).
  it("serve's exposure is at most 2.0, pull's at most 2.5", async () => {
    for (const [unit, limit] of [
      [SERVE, 20],
      [PULL, 25],
    ] as const) {
      const r = await run(SYSTEMD_ANALYZE!, ['security', '--offline=yes', `--root=${root}`, `--threshold=${limit}`, '--no-pager', unit], {
        env: { ...process.env, SYSTEMD_COLORS: '0' },
      })
      expect(r.stdout, unit).toMatch(new RegExp(`Overall exposure level for ${unit.replace(/\./g, '\\.')}: \\d`))
      expect(
        r.code,
        `${unit}\n${r.stdout
          .split('\n')
          .filter((l) => l.includes('Overall'))
          .join('\n')}\n${r.stderr}`,
      ).toBe(0)
    }
  })
})

describe('deploy/systemd: what the serve and pull units say', () => {
  const serve = readUnit(SERVE)
  const pull = readUnit(PULL)
  const timer = readUnit(PULL_TIMER)

  it('serve: the documented f2b-central and config, its own user, no capability, restarts on failure, stops on SIGTERM', () => {
    expect(unitValue(serve, 'Service', 'ExecStart')).toBe(`${CLI_PATH} serve`)
    expect(unitValue(serve, 'Service', 'Environment')).toBe('NODE_COMPILE_CACHE=/var/cache/f2b-central-serve/node-compile-cache')
    expect(serve.get('Service')?.get('Environment')).toContain('F2B_CENTRAL_CONFIG=/etc/f2b-central/serve.yml')
    expect(unitValue(serve, 'Service', 'User')).toBe('f2b-serve')
    expect(unitValue(serve, 'Service', 'CapabilityBoundingSet')).toBe('')
    expect(unitValue(serve, 'Service', 'NoNewPrivileges')).toBe('yes')
    expect(unitValue(serve, 'Service', 'ProtectSystem')).toBe('strict')
    expect(unitValue(serve, 'Service', 'Restart')).toBe('on-failure')
    expect(unitValue(serve, 'Service', 'KillSignal')).toBe('SIGTERM')
    // serve's own grace is 20 s: systemd waits longer before SIGKILL
    expect(Number.parseInt(unitValue(serve, 'Service', 'TimeoutStopSec') ?? '0', 10)).toBeGreaterThan(20)
    expect(unitValue(serve, 'Install', 'WantedBy')).toBe('multi-user.target')
    expect(readFileSync(path.join(REPO_ROOT, 'README.md'), 'utf8')).toContain(` ${CLI_PATH}\n`)
  })

  it('pull: one run of the documented script as root with CAP_NET_ADMIN only, netlink allowed, every minute', () => {
    expect(unitValue(pull, 'Service', 'ExecStart')).toBe(PULL_PATH)
    expect(unitValue(pull, 'Service', 'Type')).toBe('oneshot')
    expect(unitValue(pull, 'Service', 'CapabilityBoundingSet')).toBe('CAP_NET_ADMIN')
    expect(unitValue(pull, 'Service', 'StateDirectory')).toBe('f2b-central-pull')
    expect(unitValue(pull, 'Service', 'RestrictAddressFamilies')?.split(/\s+/)).toEqual(expect.arrayContaining(['AF_INET', 'AF_INET6', 'AF_NETLINK']))
    expect(unitValue(pull, 'Service', 'TimeoutStartSec')).toBeDefined()
    expect(pull.has('Install')).toBe(false)
    expect(unitValue(timer, 'Timer', 'Unit')).toBe(PULL)
    expect(unitValue(timer, 'Timer', 'OnCalendar')).toBe('minutely')
    expect(unitValue(timer, 'Timer', 'Persistent')).toBe('true')
    expect(unitValue(timer, 'Install', 'WantedBy')).toBe('timers.target')
  })
})

describe('deploy/cron/f2b-central-pull', () => {
  const text = readFileSync(PULL_CRON_FILE, 'utf8')
  const lines = text.split('\n').filter((l) => l.trim() !== '' && !l.trimStart().startsWith('#'))
  const jobs = lines.filter((l) => !/^[A-Za-z_][A-Za-z0-9_]*=/.test(l))

  it('one job: every minute, as root, the documented script, valid sh, a PATH with /usr/local/sbin', () => {
    expect(path.basename(PULL_CRON_FILE)).toMatch(/^[A-Za-z0-9_-]+$/)
    expect(text.endsWith('\n')).toBe(true)
    expect(jobs).toHaveLength(1)
    const fields = jobs[0]!.trim().split(/\s+/)
    expect(fields.slice(0, 6).join(' ')).toBe('* * * * * root')
    const command = fields.slice(6).join(' ')
    expect(command.split(' ')[0]).toBe(PULL_PATH)
    expect(command).not.toContain('%')
    execFileSync('sh', ['-n', '-c', command])
    expect(lines).toContain('SHELL=/bin/sh')
    expect(
      lines
        .find((l) => l.startsWith('PATH='))
        ?.slice(5)
        .split(':'),
    ).toEqual(expect.arrayContaining(['/usr/local/sbin', '/usr/sbin', '/usr/bin']))
  })

  it('the script it runs is valid sh', () => {
    execFileSync('sh', ['-n', path.join(DEPLOY, 'pull', 'f2b-central-pull')])
  })
})

// ---------------------------------------------------------------------------
// the cron file

describe('deploy/cron/f2b-central', () => {
  const text = readFileSync(CRON_FILE, 'utf8')
  const lines = text.split('\n').filter((l) => l.trim() !== '' && !l.trimStart().startsWith('#'))
  const env = new Map(lines.filter((l) => /^[A-Za-z_][A-Za-z0-9_]*=/.test(l)).map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]))
  const jobs = lines.filter((l) => !/^[A-Za-z_][A-Za-z0-9_]*=/.test(l))

  // One field of a crontab time spec: *, a value, a range, a list, with /step; names for month and weekday.
  const NAMES: Record<number, string[]> = {
    3: ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'],
    4: ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'],
  }
  const BOUNDS: [number, number][] = [
    [0, 59],
    [0, 23],
    [1, 31],
    [1, 12],
    [0, 7],
  ]
  function validField(field: string, i: number): boolean {
    const [lo, hi] = BOUNDS[i]!
    const value = (v: string) => {
      const named = NAMES[i]?.indexOf(v.toLowerCase()) ?? -1
      const n = named >= 0 ? named + (i === 3 ? 1 : 0) : /^\d+$/.test(v) ? Number(v) : NaN
      return n >= lo && n <= hi
    }
    return field.split(',').every((item) => {
      const [range = '', step, extra] = item.split('/')
      if (extra !== undefined || (step !== undefined && !/^[1-9]\d*$/.test(step))) return false
      if (range === '*') return true
      const [a = '', b, more] = range.split('-')
      return more === undefined && value(a) && (b === undefined || value(b))
    })
  }

  it('is a valid /etc/cron.d file: a name without a dot, a newline at the end', () => {
    expect(path.basename(CRON_FILE)).toMatch(/^[A-Za-z0-9_-]+$/)
    expect(text.endsWith('\n')).toBe(true)
    expect(text).not.toContain('\r')
    expect(validField('*/5', 0) && validField('1-5', 4) && validField('mon-fri', 4) && !validField('60', 0) && !validField('*/0', 1)).toBe(true)
  })

  it('has one job: every minute, as root, the documented readdb, valid sh', () => {
    expect(jobs).toHaveLength(1)
    const fields = jobs[0]!.trim().split(/\s+/)
    expect(fields.length).toBeGreaterThanOrEqual(7)
    const time = fields.slice(0, 5)
    time.forEach((f, i) => expect(validField(f, i), `time field ${i + 1}: ${f}`).toBe(true))
    expect(time.join(' ')).toBe('* * * * *')
    expect(fields[5]).toBe('root')
    const command = jobs[0]!.trim().split(/\s+/).slice(6).join(' ')
    expect(command.split(/\s+/)[0]).toBe(READDB_PATH)
    // no % in the command: cron would turn it into a newline
    expect(command).not.toContain('%')
    execFileSync('sh', ['-n', '-c', command])
  })

  it('sets SHELL, and a PATH with node and fail2ban-client', () => {
    expect(env.get('SHELL')).toBe('/bin/sh')
    const dirs = env.get('PATH')?.split(':') ?? []
    expect(dirs).toEqual(expect.arrayContaining(['/usr/local/bin', '/usr/bin', '/usr/sbin', '/bin']))
  })
})

// ---------------------------------------------------------------------------
// logrotate while fail2ban follows the log, and the sandbox with readdb

describe('deploy/logrotate and the sandbox, with fail2ban following the shared log', () => {
  // 'auto' is what the shipped jail says (pyinotify where python3-pyinotify
  // is installed, else polling); 'polling' is tested on its own because it
  // is where a rotation loses the most.
  const BACKENDS = ['auto', 'polling'] as const
  const servers: Partial<Record<(typeof BACKENDS)[number] | 'sandbox', Fail2banServer>> = {}
  let work = ''

  const enableShared = (logpath: string, backend?: string) => `[${SHARED_JAIL}]\nenabled = true\nlogpath = ${logpath}\n${backend ? `backend = ${backend}\n` : ''}`

  beforeAll(async () => {
    work = await fs.mkdtemp(path.join(os.tmpdir(), 'f2b-deploy-'))
    await fs.mkdir(path.join(work, 'rw'))
    await fs.writeFile(path.join(work, 'rw', 'shared.log'), '')
    const started = await Promise.allSettled([
      ...BACKENDS.map((backend) =>
        Fail2banServer.start({
          name: `rotate-${backend}`,
          shippedFiles: true,
          jails: '',
          // as an admin enables it; 'auto' is the shipped value, kept
          files: { 'jail.d/f2b-central.local': (dir) => enableShared(`${dir}/shared.log`, backend === 'auto' ? undefined : backend) },
          beforeStart: (s) => fs.writeFile(s.path('shared.log'), ''),
        }),
      ),
      // The sandbox's fail2ban follows a log outside its own directory,
      // which the sandbox makes read-only while readdb runs.
      Fail2banServer.start({
        name: 'sandbox',
        shippedFiles: true,
        jails: '',
        files: { 'jail.d/f2b-central.local': enableShared(path.join(work, 'rw', 'shared.log')) },
      }),
    ])
    started.forEach((r, i) => {
      if (r.status === 'fulfilled') servers[i < BACKENDS.length ? BACKENDS[i]! : 'sandbox'] = r.value
    })
    const failed = started.find((r) => r.status === 'rejected')
    if (failed) throw (failed as PromiseRejectedResult).reason
  })

  afterAll(async () => {
    const stops = await Promise.allSettled(Object.values(servers).map((s) => s.stop()))
    if (work) await fs.rm(work, { recursive: true, force: true })
    const failed = stops.find((r) => r.status === 'rejected')
    if (failed) throw (failed as PromiseRejectedResult).reason
  })

  describe.each(BACKENDS)('logrotate, fail2ban backend %s', (backend) => {
    const server = () => servers[backend]!
    const log = () => server().path('shared.log')
    const conf = () => server().path('logrotate.conf')
    const rotate = () => run(LOGROTATE!, ['-f', '-s', server().path('logrotate.state'), conf()])
    const banCount = async (ip: string) => (await server().log()).split('\n').filter((l) => l.endsWith(`] Ban ${ip}`)).length
    // one address block per backend: nothing can be banned by the other test's lines
    const net = backend === 'auto' ? '192.0.2' : '198.51.100'
    const ip = { old: `${net}.9`, before: `${net}.10`, after: `${net}.11`, racing: `${net}.12` }

    beforeAll(async () => {
      requirePrograms('logrotate')
      // The shipped file, aimed at the test's log: the only change.
      const shipped = await fs.readFile(LOGROTATE_FILE, 'utf8')
      expect(shipped).toContain(`${SHIPPED_SHARED_LOG} {`)
      await fs.writeFile(conf(), shipped.replaceAll(SHIPPED_SHARED_LOG, log()), { mode: 0o644 })
    })

    it('bans a line before the rotation', async () => {
      const resolved = /Initiated '(\w+)' backend/.exec(await server().log())?.[1]
      console.info(`fail2ban backend ${backend}: ${resolved}`)
      // three minutes old: fail2ban bans it (it is within findtime), postrotate must not copy it
      await fs.appendFile(log(), banLine(ip.old, secondsAgo(180), 1) + banLine(ip.before, secondsAgo(0), 2))
      await server().waitForBan(SHARED_JAIL, ip.before)
    })

    it('rotates with create: the old lines in shared.log.1, a new shared.log 0640 root:adm', async () => {
      const before = await fs.stat(log())
      const r = await rotate()
      expect(r, r.stderr).toMatchObject({ code: 0, stderr: '' })
      const rotated = await fs.readFile(`${log()}.1`, 'utf8')
      expect(rotated).toContain(` ban ${ip.old} `)
      expect(rotated).toContain(` ban ${ip.before} `)
      expect((await fs.stat(`${log()}.1`)).ino).toBe(before.ino)
      const fresh = await fs.stat(log())
      expect(fresh.ino).not.toBe(before.ino)
      expect(fresh.mode & 0o777).toBe(0o640)
      expect(fresh.uid).toBe(0)
      const adm = /^adm:[^:]*:(\d+):/m.exec(readFileSync('/etc/group', 'utf8'))?.[1]
      if (adm) expect(fresh.gid).toBe(Number(adm))
      // postrotate copied the last two minutes' lines over as they were, nothing older
      const recent = rotated.split('\n').filter((l) => l.includes(` ban ${ip.before} `))
      expect(recent).toHaveLength(1)
      expect(await fs.readFile(log(), 'utf8')).toBe(`${recent[0]}\n`)
    })

    it('bans a line appended to the new file, by itself: no reload', async () => {
      await fs.appendFile(log(), banLine(ip.after, secondsAgo(0), 3))
      await server().waitForBan(SHARED_JAIL, ip.after)
      // the copied line did not ban (or prolong) anything a second time
      expect(await banCount(ip.before)).toBe(1)
    })

    it('bans a line appended just before the rename (postrotate copies it over)', async () => {
      // Without the postrotate, fail2ban never sees this line with the
      // polling backend, and about half the time with pyinotify.
      await fs.appendFile(log(), banLine(ip.racing, secondsAgo(0), 4))
      const r = await rotate()
      expect(r, r.stderr).toMatchObject({ code: 0, stderr: '' })
      await server().waitForBan(SHARED_JAIL, ip.racing)
      // the second rotation compressed the first one's file (delaycompress)
      expect(gunzipSync(await fs.readFile(`${log()}.2.gz`)).toString('utf8')).toContain(` ban ${ip.old} `)
      expect(await fs.readFile(`${log()}.1`, 'utf8')).toContain(` ban ${ip.racing} `)
      expect(await banCount(ip.after)).toBe(1)
    })
  })

  // The units' sandbox without systemd: a private mount namespace with every
  // mount read-only except /proc, /dev, /sys and the one writable directory
  // (ProtectSystem=strict plus ReadWritePaths=), no capabilities
  // (CapabilityBoundingSet=) and no_new_privs (NoNewPrivileges=yes).  Not
  // emulated: PrivateTmp, the syscall filter, the other Protect* settings.
  describe('the sandbox: readdb and fail2ban-client with everything read-only but the log and lock directory', () => {
    const rw = () => path.join(work, 'rw')
    const server = () => servers.sandbox!

    // $1: how many writable directories follow, then the directories, then the command.
    const SANDBOX = `set -e
n=$1; shift
rw=
while [ "$n" -gt 0 ]; do
  mount --bind "$1" "$1"
  rw="$rw|$1|"
  shift; n=$((n - 1))
done
for m in $(findmnt -rn -o TARGET | sort -u); do
  case "$m" in /proc|/proc/*|/dev|/dev/*|/sys|/sys/*|/mnt|/mnt/*) continue;; esac
  case "$rw" in *"|$m|"*) continue;; esac
  mount -o remount,bind,ro "$m" || { echo "sandbox: cannot make $m read-only" >&2; exit 97; }
done
exec setpriv --no-new-privs --bounding-set=-all --inh-caps=-all --ambient-caps=-all -- "$@"`

    const inSandboxWith = (writable: string | string[], ...argv: string[]) => {
      const dirs = typeof writable === 'string' ? [writable] : writable
      return run('unshare', ['--mount', '--propagation', 'private', 'sh', '-c', SANDBOX, 'sandbox', String(dirs.length), ...dirs, ...argv], { timeoutMs: 30_000 })
    }
    const inSandbox = (...argv: string[]) => inSandboxWith(rw(), ...argv)

    beforeAll(() => {
      if (AS_ROOT) requirePrograms('unshare', 'setpriv', 'findmnt')
    })

    it.runIf(AS_ROOT)(`is what it claims: no capabilities, no_new_privs, read-only but for the one directory${skipNote(AS_ROOT ? 'y' : undefined, 'needs root')}`, async () => {
      const status = await inSandbox('cat', '/proc/self/status')
      expect(status.stderr).toBe('')
      expect(status.stdout).toMatch(/^CapEff:\s+0+$/m)
      expect(status.stdout).toMatch(/^CapBnd:\s+0+$/m)
      expect(status.stdout).toMatch(/^NoNewPrivs:\s+1$/m)
      const probe = `${server().dir}/write-probe`
      const write = await inSandbox('sh', '-c', `touch ${probe} 2>&1; touch ${rw()}/write-probe`)
      expect(write.stdout).toMatch(/Read-only file system/)
      expect(write.code).toBe(0)
      await fs.access(path.join(rw(), 'write-probe'), fsConstants.F_OK)
    })

    it.runIf(AS_ROOT)(
      `readdb applies bans through fail2ban-client and through fail2ban's database, its socket and files read-only${skipNote(AS_ROOT ? 'y' : undefined, 'needs root')}`,
      async () => {
        const dbUrl = `sqlite:${path.join(rw(), 'central.sqlite')}`
        const sharedLog = path.join(rw(), 'shared.log')
        const reporter = writeHostConfig({ dir: rw(), name: 'host-a', dbUrl })
        const viaClient = writeHostConfig({ dir: rw(), name: 'host-b', dbUrl, sharedLog, fail2ban: { client: server().clientArgv(), sharedJail: SHARED_JAIL } })
        const viaDb = writeHostConfig({
          dir: rw(),
          name: 'host-c',
          dbUrl,
          sharedLog,
          fail2ban: { client: server().clientArgv(), database: server().dbFile, sharedJail: SHARED_JAIL },
        })
        expect((await runProgram(BIN.cli, ['migrate', '--config', reporter])).code).toBe(0)

        const report = async (ip: string) => {
          const r = await runProgram(BIN.add2db, ['--config', reporter, '--jail', 'sshd', '--ip', ip])
          expect(r, r.stderr).toMatchObject({ code: 0 })
        }
        const readdb = async (config: string) => {
          const r = await inSandbox(process.execPath, BIN.readdb, '--config', config)
          expect(r, r.stderr).toMatchObject({ code: 0, stderr: '' })
          return JSON.parse(r.stdout) as Record<string, unknown>
        }
        const lines = async () => (await fs.readFile(sharedLog, 'utf8')).split('\n').filter(Boolean)

        // host-b asks fail2ban-client (through the read-only socket directory)
        await report('203.0.113.50')
        expect(await readdb(viaClient)).toMatchObject({ msg: 'poll', added: 1, linesWritten: 1 })
        await server().waitForBan(SHARED_JAIL, '203.0.113.50')
        // host-c reads fail2ban's database (read-only): the first ban is already
        // banned there (status 2), the second is added
        await report('203.0.113.51')
        expect(await readdb(viaDb)).toMatchObject({ msg: 'poll', added: 1, alreadyBanned: 1, linesWritten: 1 })
        await server().waitForBan(SHARED_JAIL, '203.0.113.51')
        // and host-b, through the socket, finds the second one banned too
        const written = (await lines()).length
        expect(await readdb(viaClient)).toMatchObject({ msg: 'poll', added: 0, alreadyBanned: 1, linesWritten: 0 })
        expect(await lines()).toHaveLength(written)

        // the same run with its directory left read-only fails: the sandbox binds readdb
        const elsewhere = path.join(work, 'elsewhere')
        await fs.mkdir(elsewhere, { recursive: true })
        const denied = await inSandboxWith(elsewhere, process.execPath, BIN.readdb, '--config', viaClient)
        expect(denied.code).toBe(1)
        expect(denied.stderr).toMatch(/read-only file system/i)
      },
    )

    // Issue 11 point 2: after an outage readdb must empty the spool add2db filled. Each place
    // readdb writes by default has a stand-in here, writable in the sandbox exactly when the
    // units make the default place writable.
    it.runIf(AS_ROOT)(
      `readdb ships a spooled ban with the units' writable paths, and a spool it may not write is a warning, not a failed poll${skipNote(AS_ROOT ? 'y' : undefined, 'needs root')}`,
      async () => {
        const defaults = configFileSchema.parse({ database: { url: 'sqlite:/var/lib/f2b-central/bans.sqlite' } })
        const units = path.join(work, 'units')
        const standIns: [shipped: string, test: string][] = [
          [path.dirname(defaults.fail2ban.sharedLog), rw()],
          [path.dirname(defaults.readdb.lockFile), path.join(units, 'run')],
          [defaults.spool.dir, path.join(units, 'spool')],
          ['/var/lib/f2b-central', path.join(units, 'lib')],
        ]
        for (const [, dir] of standIns) await fs.mkdir(dir, { recursive: true })
        const unitWritable = [DAEMON, ONCE].map((u) => writablePaths(readUnit(u)))
        const writableAsShipped = standIns.filter(([shipped]) => unitWritable.every((w) => w.some((dir) => isInside(shipped, dir)))).map(([, dir]) => dir)
        const spoolDir = path.join(units, 'spool')
        expect(writableAsShipped).toContain(spoolDir)

        const dbUrl = `sqlite:${path.join(units, 'lib', 'central.sqlite')}`
        const sharedLog = path.join(rw(), 'shared.log')
        const config = writeHostConfig({
          dir: units,
          name: 'host-s',
          dbUrl,
          sharedLog,
          fail2ban: { client: server().clientArgv(), sharedJail: SHARED_JAIL },
          extra: { readdb: { lockFile: path.join(units, 'run', 'readdb.lock') }, spool: { dir: spoolDir } },
        })
        // host-s's add2db while its database is away (refused at once): the ban goes to the spool
        const away = path.join(units, 'away')
        await fs.mkdir(away, { recursive: true })
        const whileAway = writeHostConfig({ dir: away, name: 'host-s', dbUrl: 'mysql://f2b@127.0.0.1:1/none', extra: { spool: { dir: spoolDir } } })
        const spool = async (ip: string) => {
          const r = await runProgram(BIN.add2db, ['--config', whileAway, '--jail', 'sshd', '--ip', ip])
          expect(r.stderr).toMatch(/^add2db: warning: ban kept in the local spool/)
        }
        const spooled = async () => (await fs.readdir(spoolDir)).filter((n) => n.endsWith('.ban.json'))
        const reporter = writeHostConfig({ dir: units, name: 'host-r', dbUrl })
        expect((await runProgram(BIN.cli, ['migrate', '--config', reporter])).code).toBe(0)
        const report = async (ip: string) => expect((await runProgram(BIN.add2db, ['--config', reporter, '--jail', 'sshd', '--ip', ip])).code).toBe(0)
        const readdb = async (writable: string[]) => {
          const r = await inSandboxWith(writable, process.execPath, BIN.readdb, '--config', config)
          expect(r, r.stderr).toMatchObject({ code: 0, stderr: '' })
          return r.stdout
            .split('\n')
            .filter(Boolean)
            .map((l) => JSON.parse(l) as Record<string, unknown>)
        }
        const storedBy = async (ip: string) => {
          const db = new BetterSqlite3(dbUrl.slice('sqlite:'.length), { readonly: true })
          try {
            return (db.prepare('SELECT DISTINCT ban_id, added_by FROM ban_host_status WHERE ip = ?').all(ip) as { ban_id: number; added_by: string }[]).map((r) => r.added_by)
          } finally {
            db.close()
          }
        }

        // as the units are now: the spooled ban is shipped and its file removed
        await spool('203.0.113.60')
        expect(await spooled()).toHaveLength(1)
        await report('203.0.113.61')
        const shipping = await readdb(writableAsShipped)
        expect(shipping).toEqual([expect.objectContaining({ msg: 'shipped spooled bans', shipped: 1 }), expect.objectContaining({ msg: 'poll', added: 1 })])
        expect(await spooled()).toHaveLength(0)
        expect(await storedBy('203.0.113.60')).toEqual(['host-s'])
        await server().waitForBan(SHARED_JAIL, '203.0.113.61')

        // with the spool left read-only (the units before): one warning, and the poll still applies the fleet's bans
        await spool('203.0.113.62')
        await report('203.0.113.63')
        const readOnly = await readdb(writableAsShipped.filter((d) => d !== spoolDir))
        expect(readOnly).toEqual([
          // (or, had add2db's last-resort timer fired on a starved machine, about the note it left)
          expect.objectContaining({
            level: 40,
            msg: 'spool not shipped',
            problem: expect.stringMatching(/^cannot (ship spool .*: read-only file system \(EROFS\); its 1 ban\(s\) stay there|remove .*\.database-silent: EROFS)/),
          }),
          expect.objectContaining({ msg: 'poll', added: 1 }),
        ])
        expect(await spooled()).toHaveLength(1)
        expect(await storedBy('203.0.113.62')).toEqual([])
        await server().waitForBan(SHARED_JAIL, '203.0.113.63')
        // and the next run that may write it ships it, once
        expect((await readdb(writableAsShipped))[0]).toMatchObject({ msg: 'shipped spooled bans', shipped: 1 })
        expect(await spooled()).toHaveLength(0)
        expect(await storedBy('203.0.113.62')).toEqual(['host-s'])
      },
    )
  })
})
