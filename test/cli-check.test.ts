// f2b-central check, as built, against private fail2ban servers (test/setup/fail2ban-server.ts):
// a good setup passes every check (on every dialect); a broken one fails each check with
// what to do; an unreachable fail2ban and an invalid config fail early and skip the rest.
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createTestDatabase, dialects, type TestDatabase } from './setup/dialects.js'
import { Fail2banServer, SHIPPED_FAIL2BAN_DIR } from './setup/fail2ban-server.js'
import { runCli } from './setup/operator.js'
import { BIN, writeHostConfig } from './setup/programs.js'

const SHARED = 'f2b-central-shared'
const AUTH_FILTER = '[Definition]\nfailregex = ^ auth failure from <ADDR>$\ndatepattern = {^LN-BEG}EPOCH\n'

interface Check {
  name: string
  status: 'ok' | 'fail' | 'skip'
  detail: string
  hint?: string
}

let good: Fail2banServer | undefined
let broken: Fail2banServer | undefined

beforeAll(async () => {
  const touch =
    (...names: string[]) =>
    (s: Fail2banServer) => {
      for (const n of names) writeFileSync(s.path(n), '')
    }
  ;[good, broken] = await Promise.all([
    // As README "fail2ban files" sets a host up: the shipped files, the shared jail enabled in
    // a .local, and an ordinary jail reporting through the shipped action.
    Fail2banServer.start({
      name: 'check-good',
      shippedFiles: true,
      filters: { 'test-auth': AUTH_FILTER },
      files: { 'jail.d/f2b-central.local': (dir) => `[${SHARED}]\nenabled = true\nlogpath = ${dir}/shared.log\n` },
      jails: (dir) => `
[auth]
enabled = true
filter = test-auth
logpath = ${dir}/auth.log
action = dummy-noop
         f2b-central[add2db="${BIN.add2db} --config ${dir}/host.yml", port="%(port)s", protocol="%(protocol)s"]
`,
      beforeStart: touch('shared.log', 'auth.log'),
    }),
    // Everything wrong at once: the shared jail follows another file, needs 3 lines, uses the
    // wrong filter and reports back to the fleet itself.
    Fail2banServer.start({
      name: 'check-broken',
      shippedFiles: true,
      filters: { 'test-auth': AUTH_FILTER },
      files: {
        'jail.d/f2b-central.local': (dir) =>
          `[${SHARED}]\nenabled = true\nlogpath = ${dir}/other.log\nmaxretry = 3\nfilter = test-auth\naction = dummy-noop\n         f2b-central[add2db="/nonexistent/add2db"]\n`,
      },
      jails: '',
      beforeStart: touch('shared.log', 'other.log'),
    }),
  ])
})
afterAll(async () => {
  await Promise.all([good?.stop(), broken?.stop()])
})

function parse(stdout: string): Check[] {
  return (JSON.parse(stdout) as { checks: Check[] }).checks
}

describe.each(dialects())('%s: f2b-central check on a good setup', (dialect) => {
  let tdb: TestDatabase
  let config: string

  beforeAll(async () => {
    tdb = await createTestDatabase(dialect)
    await (await tdb.openMigrated()).close()
    config = writeHostConfig({ dir: tdb.dir, name: 'web-1', dbUrl: tdb.url, sharedLog: good!.path('shared.log'), fail2ban: { client: good!.clientArgv() } })
  })
  afterAll(async () => tdb?.drop())

  it('passes every check, one OK line each, and exits 0 (--json: the same checks)', async () => {
    const [r, json] = await Promise.all([runCli(['check', '--config', config]), runCli(['check', '--json', '--config', config])])
    expect(r.stderr).toBe('')
    expect(r.code, r.stdout).toBe(0)
    expect(r.stdout.trim().split('\n')).toEqual([
      expect.stringMatching(new RegExp(`^OK {4}config: ${config} \\(host web-1, database (sqlite|mysql):.*\\)$`)),
      // A MySQL host logs in with its own account (test/setup/database-logins.ts), bound to it.
      expect.stringMatching(
        dialect === 'mysql' ? /^OK {4}database: .* reachable, schema up to date, account \w+ speaks for this host$/ : /^OK {4}database: .* reachable, schema up to date$/,
      ),
      expect.stringMatching(/^OK {4}fail2ban: fail2ban-client -c .* answers$/),
      `OK    shared jail: ${SHARED} is running`,
      `OK    shared log: ${SHARED} follows ${good!.path('shared.log')}`,
      `OK    filter: the filter of ${SHARED} matches readdb's lines (IPv4 and IPv6)`,
      'OK    reporting action: auth reports through add2db',
      'all checks passed',
    ])
    expect(json.code).toBe(0)
    expect(parse(json.stdout).map((c) => [c.name, c.status])).toEqual([
      ['config', 'ok'],
      ['database', 'ok'],
      ['fail2ban', 'ok'],
      ['shared jail', 'ok'],
      ['shared log', 'ok'],
      ['filter', 'ok'],
      ['reporting action', 'ok'],
    ])
  })
})

describe.concurrent('f2b-central check on a broken setup', () => {
  let dir: string
  let tdb: TestDatabase
  beforeAll(async () => {
    tdb = await createTestDatabase('sqlite')
    dir = tdb.dir
  })
  afterAll(async () => tdb?.drop())

  it('fails each broken part with what to do, and exits 1', async () => {
    // An unmigrated database, and a shared log the jail does not follow.
    const config = writeHostConfig({ dir, name: 'web-2', dbUrl: tdb.url, sharedLog: broken!.path('shared.log'), fail2ban: { client: broken!.clientArgv() } })
    const [r, text] = await Promise.all([runCli(['check', '--json', '--config', config]), runCli(['check', '--config', config])])
    expect(r.code).toBe(1)
    const by = Object.fromEntries(parse(r.stdout).map((c) => [c.name, c]))
    expect(by.config!.status).toBe('ok')
    expect(by.database).toMatchObject({ status: 'fail', detail: 'the database has no f2b-central schema', hint: 'run `f2b-central migrate` first' })
    expect(by.fail2ban!.status).toBe('ok')
    expect(by['shared jail']).toMatchObject({
      status: 'fail',
      detail: `${SHARED} bans after 3 lines, not at the first`,
      hint: `set maxretry = 1 for [${SHARED}] (the shipped jail.d file does)`,
    })
    expect(by['shared log']).toMatchObject({ status: 'fail', detail: `${SHARED} follows ${broken!.path('other.log')}, not ${broken!.path('shared.log')} (fail2ban.sharedLog)` })
    expect(by.filter).toMatchObject({ status: 'fail', detail: `the filter of ${SHARED} does not match readdb's line for 192.0.2.123 and 2001:db8::123` })
    expect(by['reporting action']).toMatchObject({ status: 'fail', detail: `the shared jail ${SHARED} runs f2b-central: it would report every fleet ban back` })

    expect(text.code).toBe(1)
    expect(text.stdout).toMatch(/^FAIL {2}database: the database has no f2b-central schema \(run `f2b-central migrate` first\)$/m)
    expect(text.stdout).toMatch(/\n5 checks failed\n$/)
  })

  it('--filter tests a filter file instead: the shipped one passes, a missing one fails', async () => {
    const config = writeHostConfig({ dir, name: 'web-3', dbUrl: tdb.url, sharedLog: broken!.path('other.log'), fail2ban: { client: broken!.clientArgv() } })
    const shipped = join(SHIPPED_FAIL2BAN_DIR, 'filter.d', 'f2b-central.conf')
    const [withShipped, withMissing] = await Promise.all([
      runCli(['check', '--json', '--filter', shipped, '--config', config]),
      runCli(['check', '--json', '--filter', join(dir, 'nope.conf'), '--config', config]),
    ])
    expect(parse(withShipped.stdout).find((c) => c.name === 'filter')).toMatchObject({ status: 'ok', detail: `${shipped} matches readdb's lines (IPv4 and IPv6)` })
    expect(parse(withShipped.stdout).find((c) => c.name === 'shared log')!.status).toBe('ok')
    expect(parse(withMissing.stdout).find((c) => c.name === 'filter')).toMatchObject({ status: 'fail', detail: `filter file ${join(dir, 'nope.conf')} does not exist` })
  })

  it('an unreachable fail2ban fails once and skips what needs it; an invalid config skips everything', async () => {
    const unreachable = writeHostConfig({ dir, name: 'web-4', dbUrl: tdb.url, fail2ban: { client: ['fail2ban-client', '-s', join(dir, 'no.sock')] } })
    const invalid = join(dir, 'invalid.yml')
    writeFileSync(invalid, 'database:\n  url: sqlite:/x\nfail2ban:\n  sharedlog: /x\n', { mode: 0o600 })
    const [down, bad] = await Promise.all([runCli(['check', '--config', unreachable]), runCli(['check', '--json', '--config', invalid])])
    expect(down.code).toBe(1)
    const lines = down.stdout.trim().split('\n')
    expect(lines[2]).toMatch(/^FAIL {2}fail2ban: fail2ban-client ping failed: .* \(start fail2ban, or set fail2ban\.client/)
    expect(lines.slice(3, 7)).toEqual(['shared jail', 'shared log', 'filter', 'reporting action'].map((n) => `SKIP  ${n}: not checked: fail2ban does not answer`))
    expect(bad.code).toBe(1)
    const checks = parse(bad.stdout)
    expect(checks[0]).toMatchObject({ name: 'config', status: 'fail', detail: expect.stringMatching(/fail2ban: Unrecognized key: "sharedlog"/) })
    expect(checks.slice(1).every((c) => c.status === 'skip')).toBe(true)
  })
})

describe.concurrent('f2b-central check arguments', () => {
  it.each([
    [['--frobnicate'], /^f2b-central: check: Unknown option '--frobnicate'/],
    [['all'], /^f2b-central: check: Unexpected argument 'all'/],
    [['--filter'], /^f2b-central: check: Option '--filter <value>' argument missing/],
  ])('%j: exit 2 with one line', async (args, message) => {
    const r = await runCli(['check', ...args])
    expect(r.code, r.stderr).toBe(2)
    expect(r.stderr).toMatch(message)
    expect(r.stderr.trim().split('\n')).toHaveLength(1)
  })
})
