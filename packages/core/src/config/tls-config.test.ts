// `database.tls` (issue 4): validation and resolution at load time. The connection itself is
// tested against a real MariaDB server in test/tls.test.ts.
import { execFileSync } from 'node:child_process'
import { generateKeyPairSync } from 'node:crypto'
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ConfigError } from '../errors.js'
import { loadConfig } from './load-config.js'

const dir = mkdtempSync(join(tmpdir(), 'f2b-tls-config-'))
function file(name: string, text: string, mode = 0o600): string {
  const p = join(dir, name)
  writeFileSync(p, text, { mode })
  chmodSync(p, mode)
  return p
}
let n = 0
function load(yaml: string, env: NodeJS.ProcessEnv = {}) {
  return loadConfig({ path: file(`c${n++}.yml`, yaml), env })
}
function expectConfigError(yaml: string, message: RegExp, env: NodeJS.ProcessEnv = {}): ConfigError {
  try {
    load(yaml, env)
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError)
    expect((err as Error).message).toMatch(message)
    return err as ConfigError
  }
  throw new Error('expected a ConfigError')
}
const mysql = 'database:\n  url: mysql://f2b@db.example.org:3306/fleet\n'

let hasOpenssl = true
try {
  execFileSync('openssl', ['version'], { stdio: 'pipe' })
} catch {
  hasOpenssl = false
}

/** A self-signed certificate and its key (serving as CA bundle and as client certificate). */
let cert = ''
let key = ''
beforeAll(() => {
  if (!hasOpenssl) throw new Error('openssl not found: install with `apt-get install -y --no-install-recommends openssl` (npm test does it when run as root)')
  execFileSync(
    'openssl',
    ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'cert.key', '-out', 'cert.pem', '-days', '1', '-subj', '/CN=tls-config test'],
    { cwd: dir, stdio: 'pipe' },
  )
  chmodSync(join(dir, 'cert.key'), 0o600)
  cert = join(dir, 'cert.pem')
  key = join(dir, 'cert.key')
})
afterAll(() => rmSync(dir, { recursive: true, force: true }))

describe('database.tls', () => {
  it('is absent unless configured: the target has no tls', () => {
    const cfg = load(mysql)
    expect(cfg.database.target).not.toHaveProperty('tls')
  })

  it('reads the PEM files at load time, with rejectUnauthorized defaulting to true', () => {
    const cfg = load(`${mysql}  tls:\n    ca: ${cert}\n    cert: ${cert}\n    key: ${key}\n    serverName: db.internal.example\n`)
    expect(cfg.database.target).toMatchObject({
      kind: 'mysql',
      servers: [{ host: 'db.example.org', port: 3306 }],
      tls: { ca: readFileSync(cert, 'utf8'), cert: readFileSync(cert, 'utf8'), key: readFileSync(key, 'utf8'), rejectUnauthorized: true, serverName: 'db.internal.example' },
    })
  })

  it('takes rejectUnauthorized: false, and needs neither cert nor key', () => {
    const cfg = load(`${mysql}  tls:\n    ca: ${cert}\n    rejectUnauthorized: false\n`)
    expect(cfg.database.target).toMatchObject({ tls: { ca: readFileSync(cert, 'utf8'), cert: undefined, key: undefined, rejectUnauthorized: false, serverName: undefined } })
  })

  it("an empty tls section means TLS with Node's bundled CAs", () => {
    const cfg = load(`${mysql}  tls: {}\n`)
    expect(cfg.database.target).toMatchObject({ tls: { ca: undefined, rejectUnauthorized: true } })
  })

  it.each([
    ['an unknown key', '  tls:\n    sslCa: /x\n', /database\.tls: Unrecognized key: "sslCa"/],
    ['cert without key', '  tls:\n    cert: /x.pem\n', /database\.tls: cert and key go together: give both or neither/],
    ['key without cert', '  tls:\n    key: /x.key\n', /database\.tls: cert and key go together/],
    ['an empty ca path', '  tls:\n    ca: ""\n', /database\.tls\.ca: Too small/],
    ['a non-boolean rejectUnauthorized', '  tls:\n    rejectUnauthorized: "no"\n', /database\.tls\.rejectUnauthorized: Invalid input/],
    ['an address as serverName', '  tls:\n    serverName: 10.0.0.5\n', /database\.tls\.serverName: must be a DNS name/],
    ['a malformed serverName', '  tls:\n    serverName: "db example"\n', /database\.tls\.serverName: must be a DNS name/],
  ])('rejects %s, naming the key', (_what, tls, message) => {
    expectConfigError(`${mysql}${tls}`, message)
  })

  it('a missing file is a config error naming the key and the file', () => {
    expectConfigError(`${mysql}  tls:\n    ca: ${join(dir, 'nowhere.pem')}\n`, /: database\.tls\.ca: cannot read .*nowhere\.pem: ENOENT$/)
    const c = file('some.pem', 'x')
    expectConfigError(`${mysql}  tls:\n    ca: ${c}\n    cert: ${c}\n    key: ${join(dir, 'no.key')}\n`, /database\.tls\.key: cannot read .*no\.key: ENOENT$/)
  })

  it('refuses a key other users can read, like passwordFile, with the chmod that fixes it', () => {
    const loose = file('loose.key', 'not even read', 0o640)
    const c = file('c.pem', 'x')
    const err = expectConfigError(
      `${mysql}  tls:\n    cert: ${c}\n    key: ${loose}\n`,
      /database\.tls\.key .*loose\.key is accessible to other users \(mode 640\); refusing to use it/,
    )
    expect(err.hint).toBe(`chmod 600 ${loose}`)
  })

  it('the ca and cert need not be private', () => {
    expect(() => load(`${mysql}  tls:\n    ca: ${file('public-ca.pem', 'x', 0o644)}\n`)).toThrow(/database\.tls\.ca: .*public-ca\.pem is not a PEM certificate/)
  })

  // Issue 10: whoever may change the CA file chooses which server the host trusts.
  it('refuses a ca or cert its group or other users may write, with the chmod that fixes it', () => {
    const ca = file('writable-ca.pem', readFileSync(cert, 'utf8'), 0o666)
    const err = expectConfigError(
      `${mysql}  tls:\n    ca: ${ca}\n`,
      /database\.tls\.ca .*writable-ca\.pem is writable by its group and other users \(mode 666\); refusing to use it$/,
    )
    expect(err.hint).toBe(`chmod 644 ${ca}`)
    const c = file('writable-cert.pem', readFileSync(cert, 'utf8'), 0o620)
    expectConfigError(`${mysql}  tls:\n    cert: ${c}\n    key: ${key}\n`, /database\.tls\.cert .*writable-cert\.pem is writable by its group \(mode 620\)/)
  })

  it("rejects a file that is not PEM, and a key that is not the certificate's", () => {
    const garbage = file('garbage.pem', 'hello\n')
    expectConfigError(`${mysql}  tls:\n    ca: ${garbage}\n`, /database\.tls\.ca: .*garbage\.pem is not a PEM certificate/)
    expectConfigError(`${mysql}  tls:\n    cert: ${garbage}\n    key: ${key}\n`, /database\.tls\.cert: .*garbage\.pem is not a PEM certificate/)
    expectConfigError(`${mysql}  tls:\n    cert: ${cert}\n    key: ${file('garbage.key', 'hello\n')}\n`, /database\.tls\.key: .*garbage\.key is not an unencrypted PEM private key/)
    const other = file('other.key', generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' }) as string)
    expectConfigError(`${mysql}  tls:\n    cert: ${cert}\n    key: ${other}\n`, /database\.tls\.key: .*other\.key is not the key of the certificate in database\.tls\.cert/)
  })

  it('is only for mysql URLs, also when F2B_CENTRAL_DB_URL switches to SQLite', () => {
    expectConfigError('database:\n  url: sqlite:/x.sqlite\n  tls:\n    ca: /x.pem\n', /database\.tls: TLS settings are only for mysql URLs/)
    expectConfigError(`${mysql}  tls:\n    ca: /x.pem\n`, /database\.tls: TLS settings are only for mysql URLs/, { F2B_CENTRAL_DB_URL: 'sqlite:/y.sqlite' })
  })
})
