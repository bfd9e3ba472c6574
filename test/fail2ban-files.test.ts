// Proves the fail2ban files the project ships (fail2ban/filter.d, action.d,
// jail.d) with the real fail2ban: fail2ban-regex for the filter's line format,
// private fail2ban servers (test/setup/fail2ban-server.ts) for the shared
// jail and for the action.

import { execFile } from 'node:child_process'
import { promises as fs } from 'node:fs'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Fail2banServer, REPO_ROOT, SHIPPED_FAIL2BAN_DIR, waitUntil } from './setup/fail2ban-server.js'

const FILTER = path.join(SHIPPED_FAIL2BAN_DIR, 'filter.d', 'f2b-central.conf')
const FIXTURE = path.join(REPO_ROOT, 'test', 'fixtures', 'fail2ban-logs', 'f2b-central')
const SHARED_JAIL = 'f2b-central-shared'

/** The line readdb writes for a ban (the contract the filter implements). */
function banLine(ip: string, when: Date, banId: number, jail = 'sshd', reporter = 'host-a'): string {
  const time = when.toISOString().slice(0, 19).replace('T', ' ')
  return `${time} +0000 f2b-central: ban ${ip} jail=${jail} reporter=${reporter} ban_id=${banId}`
}

/** A time with whole seconds, as the log line carries it. */
function secondsAgo(seconds: number): Date {
  return new Date((Math.floor(Date.now() / 1000) - seconds) * 1000)
}

function execText(file: string, args: string[], env: NodeJS.ProcessEnv): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(file, args, { env, timeout: 30_000, encoding: 'utf8', maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) =>
      error ? reject(new Error(`${file} failed: ${error.message}\n${stdout}\n${stderr}`)) : resolve(stdout),
    )
  })
}

// ---------------------------------------------------------------------------
// The filter, line by line, with fail2ban-regex

interface Sample {
  lineNo: number
  line: string
  match: boolean
  host?: string
  time?: string | null
  jail?: string
  reporter?: string
  ban_id?: string
}

async function readSamples(): Promise<Sample[]> {
  const lines = (await fs.readFile(FIXTURE, 'utf8')).split('\n')
  const samples: Sample[] = []
  for (const [i, text] of lines.entries()) {
    const m = /^# failJSON:(.*)$/.exec(text)
    if (!m?.[1]) continue
    const line = lines[i + 1]
    if (line === undefined || line.startsWith('#') || line === '') {
      throw new Error(`${FIXTURE}:${i + 1}: failJSON without a sample line after it`)
    }
    samples.push({ lineNo: i + 2, line, ...(JSON.parse(m[1]) as Omit<Sample, 'lineNo' | 'line'>) })
  }
  return samples
}

interface RegexRow {
  time: number
  ip: string
  jail: string
  reporter: string
  banId: string
  line: string
}

// One fail2ban-regex run over the whole fixture; each failure comes out as one
// tab-separated row ending with the matched line itself, which maps it back.
async function runFail2banRegex(tz: string): Promise<RegexRow[]> {
  const format = ['<time>', '<ip>', '<F-ORIGIN_JAIL>', '<F-REPORTER>', '<F-BAN_ID>', '<msg>'].join('\t')
  const out = await execText('fail2ban-regex', ['-e', 'utf-8', '-o', format, FIXTURE, FILTER], { ...process.env, TZ: tz })
  return out
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => {
      const [time = '', ip = '', jail = '', reporter = '', banId = '', ...rest] = l.split('\t')
      return { time: Number(time), ip, jail, reporter, banId, line: rest.join('\t') }
    })
}

describe('filter.d/f2b-central.conf with fail2ban-regex', () => {
  let samples: Sample[]
  beforeAll(async () => {
    samples = await readSamples()
  })

  it('has a fixture with both kinds of samples, kept byte for byte', () => {
    expect(samples.filter((s) => s.match).length).toBeGreaterThanOrEqual(8)
    expect(samples.filter((s) => !s.match).length).toBeGreaterThanOrEqual(60)
    // an editor that strips trailing blanks would silently weaken the fixture
    expect(samples.some((s) => !s.match && s.line.endsWith(' '))).toBe(true)
    const matching = samples.filter((s) => s.match).map((s) => s.line)
    expect(new Set(matching).size).toBe(matching.length)
  })

  // The +0000 has to be honoured whatever the zone fail2ban runs in: the
  // server's zone must never shift a fleet ban's time.
  it.each(['UTC', 'America/New_York', 'Asia/Kolkata'])('matches exactly the expected lines (TZ=%s)', async (tz) => {
    const rows = await runFail2banRegex(tz)
    const byLine = new Map(rows.map((r) => [r.line, r]))
    expect(byLine.size).toBe(rows.length)

    const expected = samples.filter((s) => s.match)
    expect(rows.map((r) => r.line).sort()).toEqual(expected.map((s) => s.line).sort())
    for (const s of expected) {
      const row = byLine.get(s.line)!
      const where = `fixture line ${s.lineNo}: ${s.line}`
      expect(row.ip, where).toBe(s.host)
      expect(row.jail, where).toBe(s.jail)
      expect(row.reporter, where).toBe(s.reporter)
      expect(row.banId, where).toBe(s.ban_id)
      if (s.time != null) expect(row.time, where).toBe(Date.parse(s.time) / 1000)
    }
  })
})

// ---------------------------------------------------------------------------
// The shared jail from jail.d/f2b-central.conf, in a running fail2ban

describe('jail.d/f2b-central.conf: the shared jail in a running fail2ban', () => {
  let server: Fail2banServer | undefined
  const oldLine = { ip: '198.51.100.1', when: secondsAgo(2 * 3600) }
  const recentLine = { ip: '198.51.100.2', when: secondsAgo(5 * 60) }
  const sharedLog = () => server!.path('shared.log')

  beforeAll(async () => {
    server = await Fail2banServer.start({
      name: 'shared',
      shippedFiles: true,
      // Not UTC on purpose: a time read as local would be hours off.
      env: { TZ: 'America/New_York' },
      jails: '',
      // Enabled through a .local as an admin would; the shipped banaction is
      // %(banaction_allports)s, which the harness makes the no-op action.
      files: {
        'jail.d/f2b-central.local': (dir) => `[${SHARED_JAIL}]\nenabled = true\nlogpath = ${dir}/shared.log\n`,
      },
      // Lines already in the log when fail2ban starts, as after a restart.
      beforeStart: (s) => fs.writeFile(s.path('shared.log'), `${banLine(oldLine.ip, oldLine.when, 1)}\n${banLine(recentLine.ip, recentLine.when, 2)}\n`),
    })
  })

  afterAll(async () => {
    await server?.stop()
  })

  it('runs with the shipped settings and only the local ban action', async () => {
    const s = server!
    expect(await s.client('get', SHARED_JAIL, 'maxretry')).toBe('1')
    expect(await s.client('get', SHARED_JAIL, 'findtime')).toBe('600')
    expect(await s.client('get', SHARED_JAIL, 'bantime')).toBe('86400')
    // never the f2b-central action: that would report fleet bans back
    const actions = (await s.client('get', SHARED_JAIL, 'actions'))
      .split('\n')
      .slice(1)
      .map((a) => a.trim())
    expect(actions).toEqual(['dummy-noop'])
  })

  it('at start bans a line within findtime, at the line time read as UTC, and skips one older than findtime', async () => {
    const s = server!
    await s.waitForBan(SHARED_JAIL, recentLine.ip)
    // the old line comes first in the log, so it has been read by now
    expect(await s.bannedIps(SHARED_JAIL)).not.toContain(oldLine.ip)
    const row = await waitUntil(`${recentLine.ip} in fail2ban's database`, async () => (await s.dbBans(SHARED_JAIL)).find((r) => r.ip === recentLine.ip), 5_000)
    expect(row.timeofban).toBe(recentLine.when.getTime() / 1000)
    expect(row.bantime).toBe(86400)
  })

  it('bans an address from a line appended with the current UTC time, IPv4 and IPv6', async () => {
    const s = server!
    const now = secondsAgo(0)
    await fs.appendFile(sharedLog(), `${banLine('203.0.113.7', now, 3)}\n${banLine('2001:db8::7', now, 4)}\n`)
    await s.waitForBan(SHARED_JAIL, '203.0.113.7')
    await s.waitForBan(SHARED_JAIL, '2001:db8::7')
  })

  // Not a property of the shipped files but of fail2ban 1.0.2, pinned here
  // because readdb relies on knowing it: once fail2ban has read the log to its
  // end, it takes a line whose time is more than a minute off for a clock
  // problem and acts on it as if it happened now.  findtime does not protect
  // a running fail2ban from stale lines; readdb must not write them.
  it('in operation acts on an appended line older than findtime as if it were new', async () => {
    const s = server!
    await fs.appendFile(sharedLog(), `${banLine('203.0.113.99', secondsAgo(2 * 3600), 5)}\n`)
    await s.waitForBan(SHARED_JAIL, '203.0.113.99')
    await s.waitForLog(/Detected a log entry 2h before the current time in operation mode/)
  })
})

// ---------------------------------------------------------------------------
// action.d/f2b-central.conf in an ordinary jail

describe('action.d/f2b-central.conf in an ordinary jail', () => {
  let server: Fail2banServer | undefined
  const callsDir = () => server!.path('add2db-calls')

  // The recording script stands in for add2db only to check how the action
  // wires its arguments; the real add2db is exercised by the fleet tests.
  // One file per call, renamed into place when complete, so a reader never
  // sees half a call and two jails' calls cannot interleave.
  const recorder = (dir: string) => `#!/bin/sh
f=$(mktemp "${dir}/add2db-calls/tmp.XXXXXX") || exit 1
printf '%s\\0' "$@" > "$f" && mv "$f" "$f.call"
`

  async function calls(): Promise<string[][]> {
    const names = (await fs.readdir(callsDir())).filter((n) => n.endsWith('.call'))
    const all = await Promise.all(names.map((n) => fs.readFile(path.join(callsDir(), n), 'utf8')))
    return all.map((c) => c.split('\0').slice(0, -1))
  }

  async function waitForCalls(n: number): Promise<string[][]> {
    const got = await waitUntil(
      `${n} add2db calls`,
      async () => {
        const c = await calls()
        return c.length >= n ? c : undefined
      },
      10_000,
    )
    return got.sort((a, b) => a.join(' ').localeCompare(b.join(' ')))
  }

  // Failures are written with epoch times: the test filter's dates then need
  // no time zone at all.
  async function fail(log: string, ip: string, times = 2): Promise<void> {
    const epoch = Math.floor(Date.now() / 1000)
    await fs.appendFile(server!.path(log), `${epoch} auth failure from ${ip}\n`.repeat(times))
  }

  const expectedCall = (jail: string, ip: string, port: string, bantime: number) => ['--jail', jail, '--ip', ip, '--protocol', 'tcp', '--port', port, '--bantime', String(bantime)]

  beforeAll(async () => {
    server = await Fail2banServer.start({
      name: 'action',
      shippedFiles: true,
      filters: {
        'test-auth': '[Definition]\nfailregex = ^ auth failure from <ADDR>$\ndatepattern = {^LN-BEG}EPOCH\n',
      },
      // test-auth passes its port and protocol as documented; test-plain does
      // not, and so shows the action's fallbacks.
      jails: (dir) => `
[test-auth]
enabled = true
filter = test-auth
logpath = ${dir}/auth.log
port = 2222
maxretry = 2
bantime = 1h
action = dummy-noop
         f2b-central[add2db="${dir}/record-add2db", port="%(port)s", protocol="%(protocol)s"]

[test-plain]
enabled = true
filter = test-auth
logpath = ${dir}/plain.log
maxretry = 2
action = dummy-noop
         f2b-central[add2db="${dir}/record-add2db"]
`,
      beforeStart: async (s) => {
        await fs.mkdir(s.path('add2db-calls'))
        await fs.writeFile(s.path('record-add2db'), recorder(s.dir), { mode: 0o755 })
        await fs.writeFile(s.path('auth.log'), '')
        await fs.writeFile(s.path('plain.log'), '')
      },
    })
  })

  afterAll(async () => {
    await server?.stop()
  })

  it('runs add2db with the jail, address, protocol, port and ban time', async () => {
    await fail('auth.log', '192.0.2.10')
    await server!.waitForBan('test-auth', '192.0.2.10')
    expect(await waitForCalls(1)).toEqual([expectedCall('test-auth', '192.0.2.10', '2222', 3600)])
  })

  it('falls back to tcp and all ports when the jail passes neither (IPv6)', async () => {
    await fail('plain.log', '2001:db8::10')
    await server!.waitForBan('test-plain', '2001:db8::10')
    const got = await waitForCalls(2)
    expect(got).toContainEqual(expectedCall('test-plain', '2001:db8::10', '0:65535', 600))
    expect(got).toHaveLength(2)
  })

  it('does not report bans that fail2ban restores at a restart (norestored)', async () => {
    const s = server!
    await s.restart()
    await s.waitForLog(/\[test-auth\] Restore Ban 192\.0\.2\.10/)
    await s.waitForLog(/\[test-plain\] Restore Ban 2001:db8::10/)
    // A jail runs its actions one after another, restored bans first: once a
    // new ban in each jail has been reported, a report of a restored ban
    // would already be there.
    await fail('auth.log', '192.0.2.11')
    await fail('plain.log', '2001:db8::11')
    const got = await waitForCalls(4)
    expect(got).toEqual(
      [
        expectedCall('test-auth', '192.0.2.10', '2222', 3600),
        expectedCall('test-auth', '192.0.2.11', '2222', 3600),
        expectedCall('test-plain', '2001:db8::10', '0:65535', 600),
        expectedCall('test-plain', '2001:db8::11', '0:65535', 600),
      ].sort((a, b) => a.join(' ').localeCompare(b.join(' '))),
    )
    expect(await s.bannedIps('test-auth')).toEqual(expect.arrayContaining(['192.0.2.10', '192.0.2.11']))
  })
})
