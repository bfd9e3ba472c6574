import { chmodSync, chownSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs'
import { hostname, tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { ConfigError } from '../errors.js'
import { ownAddresses } from '../own-addresses.js'
import { loadConfig } from './load-config.js'

const dir = mkdtempSync(join(tmpdir(), 'f2b-config-'))
function file(name: string, text: string): string {
  const p = join(dir, name)
  writeFileSync(p, text, { mode: 0o600 })
  return p
}

describe('loadConfig', () => {
  it('fills defaults and parses a MySQL URL with the password from passwordFile', () => {
    const pw = file('pw', 's3cret\n')
    const cfg = loadConfig({ path: file('a.yml', `database:\n  url: mysql://f2b@db.example:3307/fleet\n  passwordFile: ${pw}\n`), env: {} })
    expect(cfg.database.target).toEqual({ kind: 'mysql', servers: [{ host: 'db.example', port: 3307 }], user: 'f2b', database: 'fleet', password: 's3cret' })
    expect(cfg.host.name).toBe(hostname())
    expect(cfg.fail2ban).toMatchObject({ client: ['fail2ban-client'], sharedJail: 'f2b-central-shared', recentBanFraction: 0.4, allPortsJails: ['recidive'] })
    expect(cfg.readdb.schedule).toBe('*/5 * * * * *')
    expect(cfg.bans.defaultBantime).toBe(86400)
  })

  it('takes the path from F2B_CENTRAL_CONFIG and overrides from F2B_CENTRAL_DB_URL and F2B_CENTRAL_HOST', () => {
    const p = file('b.yml', 'database:\n  url: sqlite:/nowhere.sqlite\nhost:\n  name: from-file\n')
    const cfg = loadConfig({ env: { F2B_CENTRAL_CONFIG: p, F2B_CENTRAL_DB_URL: 'sqlite:/tmp/x.sqlite', F2B_CENTRAL_HOST: 'from-env' } })
    expect(cfg.database.target).toEqual({ kind: 'sqlite', path: '/tmp/x.sqlite' })
    expect(cfg.host.name).toBe('from-env')
  })

  it.each([
    ['database:\n  url: sqlite:/x\nfail2ban:\n  sharedlog: /x\n', /fail2ban: Unrecognized key: "sharedlog"/],
    ['database:\n  url: sqlite:/x\nfail2ban:\n  recentBanFraction: 2\n', /fail2ban\.recentBanFraction: Too big/],
    ['database: {}\n', /database\.url: Invalid input/],
    ['database:\n  url: postgres://x@y/z\n', /database\.url: unsupported scheme "postgres:"/],
    ['database:\n  url: mysql://db.example/fleet\n', /database\.url: expected mysql:\/\/user@host/],
    ['database:\n  url: sqlite:/x\nhost:\n  name: "bad host"\n', /invalid host\.name "bad host"/],
    ['database:\n  url: sqlite:/x\nfail2ban:\n  client: []\n', /fail2ban\.client: Too small/],
    ['database:\n  url: [unclosed\n', /not valid YAML/],
    ['database:\n  url: sqlite:/x\nfail2ban:\n  allPortsJails: [recidive, "two words"]\n', /invalid jail "two words"/],
  ])('names the key and the problem: %j', (text, message) => {
    const p = file(`bad-${Math.random()}.yml`, text)
    expect(() => loadConfig({ path: p, env: {} })).toThrow(ConfigError)
    expect(() => loadConfig({ path: p, env: {} })).toThrow(message)
  })

  it('refuses a config file other users can read and a password file anyone but its owner can read, like ssh', () => {
    const open = file('open.yml', 'database:\n  url: sqlite:/x\n')
    chmodSync(open, 0o644)
    expect(() => loadConfig({ path: open, env: {} })).toThrow(/the config file .*open\.yml is accessible to other users \(mode 644\); refusing to use it/)
    const pw = file('loose-pw', 'secret\n')
    chmodSync(pw, 0o640)
    const cfg = file('pw.yml', `database:\n  url: mysql://f2b@db/fleet\n  passwordFile: ${pw}\n`)
    expect(() => loadConfig({ path: cfg, env: {} })).toThrow(ConfigError)
    expect(() => loadConfig({ path: cfg, env: {} })).toThrow(/database\.passwordFile .*loose-pw is accessible to other users \(mode 640\)/)
    try {
      loadConfig({ path: cfg, env: {} })
    } catch (err) {
      expect((err as ConfigError).hint).toBe(`chmod 600 ${pw}`)
    }
  })

  // Issue 10: fail2ban.client in the config runs as root, so whoever may write the config owns the machine.
  it.runIf(process.getuid?.() === 0)('refuses a config owned by another user, even one only it and its group may touch (0660)', () => {
    const p = file('theirs.yml', 'database:\n  url: sqlite:/x\nfail2ban:\n  client: [/tmp/evil]\n')
    chownSync(p, 65534, 65534)
    chmodSync(p, 0o660)
    expect(() => loadConfig({ path: p, env: {} })).toThrow(ConfigError)
    expect(() => loadConfig({ path: p, env: {} })).toThrow(`the config file ${p} is owned by uid 65534 (not root) and is writable by its group (mode 660); refusing to use it`)
    try {
      loadConfig({ path: p, env: {} })
    } catch (err) {
      expect((err as ConfigError).hint).toBe(`chown root ${p} && chmod 640 ${p}`)
    }
  })

  it('refuses a config its group may write; one its group may only read is fine', () => {
    const p = file('group-writable.yml', 'database:\n  url: sqlite:/x\n')
    chmodSync(p, 0o620)
    expect(() => loadConfig({ path: p, env: {} })).toThrow(`the config file ${p} is writable by its group (mode 620); refusing to use it`)
    chmodSync(p, 0o640)
    expect(loadConfig({ path: p, env: {} }).database.target).toEqual({ kind: 'sqlite', path: '/x' })
  })

  it('follows a config that is a symbolic link, and judges the file it reaches', () => {
    const real = file('real.yml', 'database:\n  url: sqlite:/x\n')
    const link = join(dir, 'link.yml')
    symlinkSync(real, link)
    expect(loadConfig({ path: link, env: {} }).database.target).toEqual({ kind: 'sqlite', path: '/x' })
    chmodSync(real, 0o664)
    expect(() => loadConfig({ path: link, env: {} })).toThrow(`the config file ${link} is accessible to other users (mode 664); refusing to use it`)
  })

  // Needs a machine with a non-loopback address (every CI machine here has one on eth0).
  it.runIf(ownAddresses().length > 0)("allowlists this machine's own addresses unless host.allowOwnAddresses is false", () => {
    const mine = ownAddresses()[0]!.address
    const on = loadConfig({ path: file('own-on.yml', 'database:\n  url: sqlite:/x\n'), env: {} })
    expect(on.allowlist.has(mine)).toBe(true)
    expect(on.allowlist.has('203.0.113.1')).toBe(false)
    const off = loadConfig({ path: file('own-off.yml', 'database:\n  url: sqlite:/x\nhost:\n  allowOwnAddresses: false\n'), env: {} })
    expect(off.allowlist.has(mine)).toBe(false)
  })

  it('a missing file says which file and how to choose another', () => {
    expect(() => loadConfig({ path: join(dir, 'missing.yml'), env: {} })).toThrow(/cannot read config file .*missing\.yml: ENOENT/)
  })
})
