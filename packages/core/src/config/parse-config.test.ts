// parseConfig returns what it found instead of throwing (issue 9): every problem with its key.
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { hostname, tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { ConfigError } from '../errors.js'
import type { ConfigIssue } from './config-schema.js'
import { isCronExpression } from './cron-expression.js'
import { loadConfig } from './load-config.js'
import { configError, parseConfig, type ConfigResult } from './parse-config.js'

const dir = mkdtempSync(join(tmpdir(), 'f2b-parse-config-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))
function file(name: string, text: string, mode = 0o600): string {
  const p = join(dir, name)
  writeFileSync(p, text, { mode })
  chmodSync(p, mode)
  return p
}
const parse = (text: string, env: NodeJS.ProcessEnv = {}) => parseConfig(text, { path: '/etc/f2b-central/config.yml', env })
const sqlite = 'database:\n  url: sqlite:/x.sqlite\n'
const errorsOf = (r: ConfigResult) => r.errors.map((e) => ({ path: e.path, message: e.message }))

describe('parseConfig: the firewall section (issue 13)', () => {
  it('without it, fail2ban is on (its defaults); with it and no fail2ban section, only the sets are fed; with both, both', () => {
    expect(parse(sqlite).config).toMatchObject({ fail2banEnabled: true, firewall: undefined })
    const alone = parse(`${sqlite}firewall:\n  backend: nftables\n`).config
    expect(alone).toMatchObject({
      fail2banEnabled: false,
      firewall: { backend: 'nftables', table: 'f2b_central', setV4: 'bans_v4', setV6: 'bans_v6', forward: false, resyncMinutes: 10, killConnections: false, timeoutMs: 30_000 },
    })
    expect(parse(`${sqlite}firewall:\n  backend: ipset\n  forward: true\nfail2ban:\n  sharedJail: shared\n`).config).toMatchObject({
      fail2banEnabled: true,
      firewall: { backend: 'ipset', setV4: 'f2b-central-v4', setV6: 'f2b-central-v6', forward: true },
    })
  })

  it('a bad backend or name is an error naming the key', () => {
    expect(errorsOf(parse(`${sqlite}firewall:\n  backend: pf\n`))[0]?.path).toBe('firewall.backend')
    expect(errorsOf(parse(`${sqlite}firewall:\n  backend: nftables\n  setV4: "x }; flush ruleset"\n`))).toEqual([
      { path: 'firewall', message: 'invalid firewall.setV4 "x }; flush ruleset": expected 1-31 characters of A-Z a-z 0-9 _ - starting with a letter' },
    ])
    expect(errorsOf(parse(`${sqlite}firewall:\n  backend: nftables\n  resyncMinutes: 0\n`))[0]?.path).toBe('firewall.resyncMinutes')
  })
})

describe('parseConfig', () => {
  it('a valid file gives a config with its defaults, no errors and no warnings', () => {
    const r = parse(`${sqlite}host:\n  allowOwnAddresses: false\n`)
    expect(r.errors).toEqual([])
    expect(r.warnings).toEqual([])
    expect(r.config).toMatchObject({
      path: '/etc/f2b-central/config.yml',
      database: { target: { kind: 'sqlite', path: '/x.sqlite' }, timeoutMs: 5000 },
      host: { name: hostname(), allowOwnAddresses: false, allowFleetAddresses: true },
      fail2ban: { client: ['fail2ban-client'], database: undefined, sharedJail: 'f2b-central-shared', timeoutMs: 10_000, recentBanFraction: 0.4 },
      bans: { defaultBantime: 86400 },
      spool: { dir: '/var/spool/f2b-central', maxEntries: 10000 },
      readdb: { schedule: '*/5 * * * * *', batchSize: 1000, lockFile: '/run/f2b-central/readdb.lock', maxBackoffSeconds: 60 },
    })
    expect(r.config?.fail2ban).not.toHaveProperty('timeoutSeconds')
    expect(r.config?.allowlist.size).toBe(0)
  })

  it.each<[string, string, ConfigIssue[]]>([
    ['an unknown key', `${sqlite}fail2ban:\n  sharedlog: /x\n`, [{ path: 'fail2ban', message: 'fail2ban: Unrecognized key: "sharedlog"' }]],
    ['a missing key', 'database: {}\n', [{ path: 'database.url', message: 'database.url: Invalid input: expected a URL or a list of URLs, received undefined' }]],
    ['a file that is not a mapping', '42\n', [{ path: '', message: '(top level): Invalid input: expected object, received number' }]],
    [
      'a URL of another scheme',
      'database:\n  url: postgres://x@y/z\n',
      [{ path: 'database.url', message: 'database.url: unsupported scheme "postgres:"; expected mysql: or sqlite:' }],
    ],
    [
      'a malformed %-escape in the URL',
      'database:\n  url: "mysql://%zz@h/d"\n',
      [{ path: 'database.url', message: 'database.url: the user has a malformed %-escape; write a literal % as %25' }],
    ],
    ['TLS for SQLite', `${sqlite}  tls: {}\n`, [{ path: 'database.tls', message: 'database.tls: TLS settings are only for mysql URLs (database.url is a SQLite file)' }]],
    [
      'a bad host name',
      `${sqlite}host:\n  name: "bad host"\n`,
      [{ path: 'host.name', message: 'invalid host.name "bad host": expected dot-separated labels of A-Z a-z 0-9 _ - (at most 253 characters)' }],
    ],
    [
      'a bad shared jail',
      `${sqlite}fail2ban:\n  sharedJail: "a b"\n`,
      [{ path: 'fail2ban.sharedJail', message: 'invalid jail "a b": expected 1-64 characters of A-Z a-z 0-9 _ . - starting with a letter or digit' }],
    ],
  ])('an error has its key in dot form and reads as loadConfig has always said it: %s', (_what, text, errors) => {
    const r = parse(text)
    expect(r.config).toBeUndefined()
    expect(errorsOf(r)).toEqual(errors)
  })

  it('lists every problem of a step, not only the first, each entry of a list by its index', () => {
    const r = parse('database:\n  url: mysql://db/fleet\nhost:\n  name: "a b"\nallowlist: [10.0.0.1, nope, 10.0.0.0/8, 10.0.0.1/8]\n')
    expect(r.errors.map((e) => e.path)).toEqual(['database.url', 'host.name', 'allowlist.1', 'allowlist.3'])
    expect(r.errors[2]!.message).toMatch(/^invalid allowlist\[1\] "nope"/)
    expect(r.errors[3]!.message).toBe('invalid allowlist[3] "10.0.0.1/8": host bits set; did you mean 10.0.0.0/8?')
  })

  it('schema errors come alone: the rules judge only a file the schema accepted', () => {
    const r = parse('database:\n  url: postgres://x@y/z\nbans:\n  defaultBantime: 0\n')
    expect(r.errors.map((e) => e.path)).toEqual(['bans.defaultBantime'])
  })

  it("bans.maxPerMinute is no longer read: a warning says the limit is the fleet's, in the database", () => {
    const r = parse('database:\n  url: sqlite:/x.sqlite\nbans:\n  maxPerMinute: 120\n')
    expect(r.errors).toEqual([])
    expect(r.warnings).toEqual([expect.objectContaining({ path: 'bans.maxPerMinute', hint: expect.stringMatching(/f2b-central bans limit N/) })])
  })

  it("keeps a problem's hint: a secret other users can read, with the chmod that fixes it", () => {
    const pw = file('loose-pw', 'secret\n', 0o640)
    const r = parse(`database:\n  url: mysql://f2b@db/fleet\n  passwordFile: ${pw}\n`)
    expect(r.errors).toEqual([
      { path: 'database.passwordFile', message: `database.passwordFile ${pw} is accessible to other users (mode 640); refusing to use it`, hint: `chmod 600 ${pw}` },
    ])
  })

  it('reports a refused password file and a refused TLS key together', () => {
    const pw = file('loose-pw-2', 'secret\n', 0o604)
    const key = file('loose.key', 'key', 0o640)
    const cert = file('c.pem', 'x')
    const r = parse(`database:\n  url: mysql://f2b@db/fleet\n  passwordFile: ${pw}\n  tls:\n    cert: ${cert}\n    key: ${key}\n`)
    expect(r.errors.map((e) => [e.path, e.hint])).toEqual([
      ['database.passwordFile', `chmod 600 ${pw}`],
      ['database.tls.cert', undefined],
      ['database.tls.key', `chmod 600 ${key}`],
    ])
  })

  it('warns, and still gives the config, for a password in database.url and for an unverified TLS server', () => {
    const plain = parse('database:\n  url: mysql://f2b:s3cret@db/fleet\n')
    expect(plain.config?.database.target).toMatchObject({ password: 's3cret' })
    expect(plain.warnings).toEqual([
      { path: 'database.url', message: 'database.url: holds the database password', hint: 'move it to database.passwordFile, a file only its owner can read' },
    ])
    const pw = file('pw', 'from-file\n')
    const both = parse(`database:\n  url: mysql://f2b:s3cret@db/fleet\n  passwordFile: ${pw}\n  tls:\n    rejectUnauthorized: false\n`)
    expect(both.config?.database.target).toMatchObject({ password: 'from-file', tls: { rejectUnauthorized: false } })
    expect(both.warnings.map((w) => w.message)).toEqual([
      'database.url: holds a password, which database.passwordFile overrides',
      'database.tls.rejectUnauthorized: false accepts any server certificate: encrypted, but open to a man in the middle',
    ])
  })

  it('takes a list of servers of one cluster (issue 15), each problem naming its entry', () => {
    const list = (...urls: string[]) => parse(`database:\n  url:\n${urls.map((u) => `    - ${u}\n`).join('')}`)
    expect(list('mysql://f2b@db1/fleet', 'mysql://f2b@db2:3307/fleet', 'mariadb://f2b@[2001:db8::3]/fleet').config?.database.target).toEqual({
      kind: 'mysql',
      servers: [
        { host: 'db1', port: 3306 },
        { host: 'db2', port: 3307 },
        { host: '2001:db8::3', port: 3306 },
      ],
      user: 'f2b',
      database: 'fleet',
      password: undefined,
    })
    expect(errorsOf(list('mysql://f2b@db1/fleet', 'mysql://other@db2/fleet'))).toEqual([
      { path: 'database.url', message: 'database.url.1: names another user than database.url.0; every server of the list holds the same database with the same account' },
    ])
    expect(errorsOf(list('mysql://f2b@db1/fleet', 'mysql://f2b@db2/other'))[0]?.message).toMatch(/^database\.url\.1: names another database/)
    expect(errorsOf(list('mysql://f2b@db1/fleet', 'mysql://f2b@db1:3306/fleet'))[0]?.message).toBe('database.url.1: db1:3306 is already in the list')
    expect(errorsOf(list('mysql://f2b@db1/fleet', 'sqlite:/x.sqlite'))[0]?.message).toBe('database.url.1: a SQLite file cannot be one of several servers; give it alone')
    expect(errorsOf(list('mysql://f2b@db1/fleet', 'http://db2/fleet'))[0]?.message).toBe('database.url.1: unsupported scheme "http:"; expected mysql: or sqlite:')
    expect(errorsOf(parse('database:\n  url: []\n')).map((e) => e.path)).toEqual(['database.url'])
    // The environment's list: URLs separated by spaces.
    const env = parse(sqlite, { F2B_CENTRAL_DB_URL: 'mysql://f2b@db1/fleet  mysql://f2b@db2/fleet' })
    expect(env.config?.database.target).toMatchObject({ servers: [{ host: 'db1' }, { host: 'db2' }] })
  })

  it('takes the environment only as given', () => {
    expect(parse(sqlite).config?.database.target).toEqual({ kind: 'sqlite', path: '/x.sqlite' })
    const r = parse(sqlite, { F2B_CENTRAL_DB_URL: 'sqlite:/y.sqlite', F2B_CENTRAL_HOST: 'from-env' })
    expect(r.config).toMatchObject({ database: { target: { path: '/y.sqlite' } }, host: { name: 'from-env' } })
  })

  it('checks readdb.schedule with the grammar it is given, and leaves it to the caller without one', () => {
    const text = `${sqlite}readdb:\n  schedule: every minute\n`
    expect(parse(text).errors).toEqual([])
    const r = parseConfig(text, { path: '/c.yml', isCronExpression: (s) => s === '* * * * *' })
    expect(r.errors).toEqual([
      { path: 'readdb.schedule', message: 'readdb.schedule: "every minute" is not a valid cron expression', hint: 'e.g. "*/5 * * * * *" for every 5 seconds' },
    ])
    expect(parseConfig(`${sqlite}readdb:\n  schedule: "* * * * *"\n`, { path: '/c.yml', isCronExpression: (s) => s === '* * * * *' }).errors).toEqual([])
  })

  it.each([
    ['*/5 * * * * *', true],
    ['* * * * *', true],
    ['0 */2 * * * *', true],
    ['@hourly', true],
    ['0 0 9 * * mon-fri', true],
    ['61 * * * * *', false],
    ['* * *', false],
    ['every minute', false],
    ['* * * * * * *', false],
  ])("readdb.schedule %j with node-cron's grammar (isCronExpression): valid %s", (schedule, valid) => {
    const r = parseConfig(`${sqlite}readdb:\n  schedule: ${JSON.stringify(schedule)}\n`, { path: '/c.yml', isCronExpression })
    expect(r.errors.map((e) => e.path)).toEqual(valid ? [] : ['readdb.schedule'])
  })

  it('never throws, whatever the text or the files it names', () => {
    const noAccess = join(dir, 'a-dir')
    mkdirSync(noAccess, { mode: 0o700 })
    const texts = [
      '',
      'null',
      '42',
      '"text"',
      '[]',
      '- a\n- b\n',
      '[unclosed',
      '{{{',
      ': :',
      '\0\x01\x02',
      'a: &x [*x, *x]\n',
      '---\na: 1\n---\nb: 2\n',
      'database: 5\n',
      'database:\n  url: 5\n',
      'database:\n  url: "mysql://%zz@h/d"\n',
      'database:\n  url: mysql://u@[::1/d\n',
      `database:\n  url: mysql://u@h/d\n  passwordFile: ${noAccess}\n`,
      `database:\n  url: mysql://u@h/d\n  tls:\n    ca: ${noAccess}\n`,
      `database:\n  url: mysql://u@h/d\n  passwordFile: ${join(dir, 'missing')}\n`,
      `${sqlite}allowlist: [[1], {a: 1}, null]\n`,
      `${sqlite}host: []\n`,
    ]
    for (const text of texts) {
      const r = parse(text)
      expect(r.config === undefined, text).toBe(r.errors.length > 0)
    }
    expect(parse(`database:\n  url: mysql://u@h/d\n  passwordFile: ${noAccess}\n`).errors[0]!.message).toBe(
      `database.passwordFile ${noAccess} is not a regular file; refusing to use it`,
    )
    expect(parse(`database:\n  url: mysql://u@h/d\n  passwordFile: ${join(dir, 'missing')}\n`).errors[0]!.message).toBe(
      `database.passwordFile: cannot read ${join(dir, 'missing')}: ENOENT`,
    )
  })
})

describe("configError (loadConfig's one ConfigError)", () => {
  it("joins the messages behind the file's path and keeps the hints, or says where the keys are described", () => {
    const err = configError('/c.yml', [
      { path: 'a', message: 'a: bad' },
      { path: 'b', message: 'b: worse', hint: 'chmod 600 /b' },
      { path: 'c', message: 'c: too', hint: 'chmod 600 /b' },
    ])
    expect(err).toBeInstanceOf(ConfigError)
    expect(err.message).toBe('/c.yml: a: bad; b: worse; c: too')
    expect(err.hint).toBe('chmod 600 /b')
    expect(configError('/c.yml', [{ path: 'a', message: 'a: bad' }]).hint).toBe('fix the file; every key is described in README "Configuration"')
  })

  it('is what loadConfig throws, and loadConfig tells onWarning each warning', () => {
    const p = file('two.yml', 'database:\n  url: mysql://db/fleet\nhost:\n  name: "a b"\n')
    expect(() => loadConfig({ path: p, env: {} })).toThrow(
      `${p}: database.url: expected mysql://user@host:3306/database (user, host and database are required); invalid host.name "a b"`,
    )
    const warnings: ConfigIssue[] = []
    const cfg = loadConfig({ path: file('warn.yml', 'database:\n  url: mysql://f2b:pw@db/fleet\n'), env: {}, onWarning: (w) => warnings.push(w) })
    expect(cfg.database.target).toMatchObject({ password: 'pw' })
    expect(warnings.map((w) => w.path)).toEqual(['database.url'])
  })
})
