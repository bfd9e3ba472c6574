// Issue 4, TLS to MySQL with certificate verification: a private MariaDB server (never the
// shared one on 3306) with a test CA's certificate, and the BUILT programs connecting to it
// through `database.tls`. The account REQUIREs SSL, so a program that works used TLS.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process'
import { accessSync, chmodSync, constants, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { createServer, type Socket } from 'node:net'
import { TLSSocket } from 'node:tls'
import { tmpdir, userInfo } from 'node:os'
import { delimiter, join } from 'node:path'
import { createConnection, type ConnectionOptions } from 'mysql2/promise'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createFail2banStateDb } from '../scripts/fail2ban-state-db.mjs'
import { installCommand, mysqlRequired } from '../scripts/test-machine.mjs'
import { BIN, runProgram, writeHostConfig } from './setup/programs.js'

/** mariadbd lives in sbin, often not on a user's PATH. */
function findProgram(name: string): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(delimiter), '/usr/sbin', '/usr/local/sbin', '/usr/bin']
  for (const dir of dirs) {
    const p = join(dir, name)
    try {
      accessSync(p, constants.X_OK)
      return p
    } catch {
      // not here
    }
  }
  return undefined
}

const programs = { installDb: findProgram('mariadb-install-db'), mariadbd: findProgram('mariadbd'), openssl: findProgram('openssl') }
const missing = ['mariadb-install-db', 'mariadbd', 'openssl'].filter((p) => !findProgram(p))
if (missing.length > 0) {
  const msg = `${missing.join(', ')} not found (install with \`${installCommand(missing)}\`)`
  if (mysqlRequired()) throw new Error(`test/tls.test.ts: ${msg}; F2B_REQUIRE_MYSQL=0 skips this file`)
  console.warn(`\n*** test/tls.test.ts SKIPPED: ${msg} ***\n`)
}

const PASSWORD = 'tls-test-password'
const X509_PASSWORD = 'x509-test-password'

describe.runIf(missing.length === 0)('mysql over TLS (private MariaDB server)', () => {
  let tmp = ''
  let server: ChildProcess | undefined
  let serverExited: Promise<void> | undefined
  let port = 0
  let passwordFile = ''
  let f2bDb = ''
  const pem = (name: string) => join(tmp, `${name}`)

  beforeAll(async () => {
    tmp = mkdtempSync(join(tmpdir(), 'f2b-tls-'))
    makeCertificates(tmp)
    passwordFile = join(tmp, 'db-password')
    writeFileSync(passwordFile, `${PASSWORD}\n`, { mode: 0o600 })
    f2bDb = join(tmp, 'fail2ban.sqlite3')
    createFail2banStateDb(f2bDb)

    const datadir = join(tmp, 'data')
    const user = userInfo().username
    execFileSync(
      programs.installDb!,
      ['--no-defaults', `--datadir=${datadir}`, `--user=${user}`, '--auth-root-authentication-method=normal', '--skip-test-db', '--skip-name-resolve', '--innodb-log-file-size=8M'],
      { stdio: 'pipe', timeout: 30_000 },
    )
    port = await freePort()
    const errorLog = join(tmp, 'mariadbd.err')
    // Two loopback addresses: the certificate names 127.0.0.1 (and localhost), not 127.0.0.2,
    // so the address check can be seen to fail.
    server = spawn(
      programs.mariadbd!,
      [
        '--no-defaults',
        `--datadir=${datadir}`,
        `--socket=${join(tmp, 'sock')}`,
        `--port=${port}`,
        '--bind-address=127.0.0.1,127.0.0.2',
        `--pid-file=${join(tmp, 'pid')}`,
        `--user=${user}`,
        '--skip-name-resolve',
        `--log-error=${errorLog}`,
        '--innodb-log-file-size=8M',
        '--innodb-buffer-pool-size=32M',
        `--ssl-ca=${pem('ca.pem')}`,
        `--ssl-cert=${pem('server.pem')}`,
        `--ssl-key=${pem('server.key')}`,
      ],
      { stdio: 'ignore' },
    )
    serverExited = new Promise((resolve) => server!.once('exit', () => resolve()))
    const root = await waitForServer(errorLog)
    try {
      // 'f2b' must use TLS; 'f2b_x509' must also show a client certificate from the test CA.
      for (const stmt of [
        'CREATE DATABASE f2b_central CHARACTER SET utf8mb4 COLLATE utf8mb4_bin',
        `CREATE USER 'f2b'@'%' IDENTIFIED BY '${PASSWORD}' REQUIRE SSL`,
        "GRANT ALL ON f2b_central.* TO 'f2b'@'%'",
        `CREATE USER 'f2b_x509'@'%' IDENTIFIED BY '${X509_PASSWORD}' REQUIRE X509`,
        "GRANT SELECT ON f2b_central.* TO 'f2b_x509'@'%'",
      ])
        await root.query(stmt)
    } finally {
      await root.end()
    }
  })

  afterAll(async () => {
    // The data is thrown away: no clean shutdown needed.
    if (server && server.exitCode === null && server.signalCode === null) {
      server.kill('SIGKILL')
      await serverExited
    }
    if (tmp) rmSync(tmp, { recursive: true, force: true })
  })

  function config(name: string, tls: Record<string, unknown> | undefined, o: { host?: string; user?: string; spool?: string } = {}): string {
    const url = `mysql://${o.user ?? 'f2b'}@${o.host ?? '127.0.0.1'}:${port}/f2b_central`
    const database = { url, passwordFile, timeoutSeconds: 3, ...(tls ? { tls } : {}) }
    return writeHostConfig({ dir: tmp, name, dbUrl: url, fail2ban: { database: f2bDb }, extra: { database, ...(o.spool ? { spool: { dir: o.spool } } : {}) } })
  }
  const caTls = () => ({ ca: pem('ca.pem') })
  const wrongCaTls = () => ({ ca: pem('other-ca.pem') })
  const sslOptions = (ca: string): ConnectionOptions => ({
    host: '127.0.0.1',
    port,
    user: 'f2b',
    password: PASSWORD,
    database: 'f2b_central',
    connectTimeout: 3000,
    ssl: { ca: readFileSync(ca), rejectUnauthorized: true },
  })

  it('with the test CA: migrate, add2db and readdb work', async () => {
    const migrated = await runProgram(BIN.cli, ['migrate', '--config', config('tls-op', caTls())])
    expect(migrated.stderr).toBe('')
    expect(migrated.code).toBe(0)
    expect(migrated.stdout).toMatch(/applied 0001-initial-schema/)
    const reader = config('tls-b', caTls())
    expect(await runProgram(BIN.readdb, ['--config', reader])).toMatchObject({ code: 0, stderr: '' })
    expect(await runProgram(BIN.add2db, ['--config', config('tls-a', caTls()), '--jail', 'sshd', '--ip', '203.0.113.10'])).toMatchObject({ code: 0, stderr: '' })
    const polled = await runProgram(BIN.readdb, ['--config', reader])
    expect(polled).toMatchObject({ code: 0, stderr: '' })
    expect(JSON.parse(polled.stdout)).toMatchObject({ msg: 'poll', host: 'tls-b', added: 1 })
    expect(readFileSync(join(tmp, 'tls-b-shared.log'), 'utf8')).toMatch(/ f2b-central: ban 203\.0\.113\.10 jail=sshd reporter=tls-a /)
  })

  it('the session is encrypted, and the account refuses a connection without TLS', async () => {
    const c = await createConnection(sslOptions(pem('ca.pem')))
    try {
      const [rows] = await c.query("SHOW STATUS LIKE 'Ssl_cipher'")
      expect((rows as Array<{ Value: string }>)[0]?.Value).toMatch(/^TLS_|^ECDHE-/)
    } finally {
      await c.end()
    }
    const { ssl: _ssl, ...plain } = sslOptions(pem('ca.pem'))
    await expect(createConnection(plain)).rejects.toMatchObject({ code: 'ER_ACCESS_DENIED_ERROR' })
  })

  it('with an unrelated CA: add2db spools the ban and says why, migrate exits 1 with one line', async () => {
    const spool = join(tmp, 'wrong-ca-spool')
    const r = await runProgram(BIN.add2db, ['--config', config('tls-wrong', wrongCaTls(), { spool }), '--jail', 'sshd', '--ip', '203.0.113.11'])
    expect(r.code).toBe(0)
    expect(r.stderr).toMatch(
      /^add2db: warning: ban kept in the local spool \(.*\): database mysql:\/\/f2b@127\.0\.0\.1:\d+\/f2b_central: TLS handshake failed: (self-signed certificate in certificate chain|unable to verify the first certificate)/,
    )
    expect(r.stderr).toMatch(/database\.tls\.ca must be the CA that signed the server's certificate/)
    expect(r.stderr.split('\n')).toHaveLength(2)
    expect(readdirSync(spool)).toHaveLength(1)

    const m = await runProgram(BIN.cli, ['migrate', '--config', config('tls-wrong-op', wrongCaTls())])
    expect(m.code).toBe(1)
    expect(m.stdout).toBe('')
    expect(m.stderr).toMatch(/^f2b-central: .*TLS handshake failed: (self-signed certificate in certificate chain|unable to verify the first certificate)/)
    expect(m.stderr.split('\n')).toHaveLength(2)

    // Nothing is lost: once the CA is right, the next readdb ships the spooled ban.
    const fixed = await runProgram(BIN.readdb, ['--config', config('tls-wrong-fixed', caTls(), { spool })])
    expect(fixed.code).toBe(0)
    expect(fixed.stdout).toMatch(/"shipped":1/)
    expect(readdirSync(spool)).toHaveLength(0)
  })

  it('rejectUnauthorized: false connects despite an unrelated CA (for testing only)', async () => {
    const r = await runProgram(BIN.cli, ['migrate', '--config', config('tls-noverify', { ...wrongCaTls(), rejectUnauthorized: false })])
    expect(r).toMatchObject({ code: 0, stderr: '' })
    expect(r.stdout).toMatch(/schema is up to date/)
  })

  it('checks the name: the address in the URL against the IP subjectAltNames, or serverName', async () => {
    // 127.0.0.2 reaches the same server, but its certificate names only 127.0.0.1 and localhost.
    const byOtherAddress = await runProgram(BIN.cli, ['migrate', '--status', '--config', config('tls-ip2', caTls(), { host: '127.0.0.2' })])
    expect(byOtherAddress.code).toBe(1)
    expect(byOtherAddress.stderr).toMatch(/^f2b-central: .*TLS handshake failed: Hostname\/IP does not match certificate's altnames: IP: 127\.0\.0\.2 is not in the cert's list/)
    const named = await runProgram(BIN.cli, ['migrate', '--status', '--config', config('tls-ip2-named', { ...caTls(), serverName: 'localhost' }, { host: '127.0.0.2' })])
    expect(named).toMatchObject({ code: 0, stderr: '' })
    const wrongName = await runProgram(BIN.cli, ['migrate', '--status', '--config', config('tls-wrong-name', { ...caTls(), serverName: 'db.example.org' })])
    expect(wrongName.code).toBe(1)
    expect(wrongName.stderr).toMatch(/TLS handshake failed: Hostname\/IP does not match certificate's altnames: Host: db\.example\.org\. is not in the cert's altnames/)
  })

  // Issue 10: f2b-central starts TLS itself (mysql2 takes no checkServerIdentity of ours), so
  // it is f2b-central that must keep mysql2's handshake response, the credentials, back until
  // the certificate names the host meant; and must never fall back to the clear.
  it('sends no credentials to a server whose certificate names another host, nor to one that offers no TLS', async () => {
    for (const tls of [true, false]) {
      const fake = await impostor({ tls, cert: readFileSync(pem('server.pem'), 'utf8'), key: readFileSync(pem('server.key'), 'utf8') })
      try {
        const url = `mysql://f2b@127.0.0.1:${fake.port}/f2b_central`
        const path = writeHostConfig({
          dir: tmp,
          name: `impostor-${tls}`,
          dbUrl: url,
          extra: { database: { url, passwordFile, timeoutSeconds: 3, tls: { ...caTls(), serverName: 'db.example.org' } } },
        })
        const r = await runProgram(BIN.cli, ['migrate', '--status', '--config', path])
        expect(r.code).toBe(1)
        expect(r.stderr).toMatch(
          tls
            ? /TLS handshake failed: Hostname\/IP does not match certificate's altnames: Host: db\.example\.org\. is not in the cert's altnames/
            : /database\.tls is set but the server does not offer TLS/,
        )
        // With TLS offered: the SSLRequest (32 bytes, CLIENT_SSL set) and a TLS handshake, then nothing.
        expect(fake.received()).toEqual(tls ? { sslRequests: 1, afterHandshake: 0, plain: 0 } : { sslRequests: 0, afterHandshake: 0, plain: 0 })
      } finally {
        await fake.close()
      }
    }
  })

  it('a client certificate (cert and key) satisfies an account that REQUIREs X509', async () => {
    const x509PasswordFile = join(tmp, 'x509-password')
    writeFileSync(x509PasswordFile, X509_PASSWORD, { mode: 0o600 })
    const withCert = (name: string, tls: Record<string, unknown>) => {
      const url = `mysql://f2b_x509@127.0.0.1:${port}/f2b_central`
      return writeHostConfig({ dir: tmp, name, dbUrl: url, extra: { database: { url, passwordFile: x509PasswordFile, timeoutSeconds: 3, tls } } })
    }
    const ok = await runProgram(BIN.cli, ['migrate', '--status', '--config', withCert('x509-ok', { ...caTls(), cert: pem('client.pem'), key: pem('client.key') })])
    expect(ok).toMatchObject({ code: 0, stderr: '' })
    expect(ok.stdout).toMatch(/^applied {2}0001-initial-schema/)
    const without = await runProgram(BIN.cli, ['migrate', '--status', '--config', withCert('x509-none', caTls())])
    expect(without.code).toBe(1)
    expect(without.stderr).toMatch(/Access denied for user 'f2b_x509'/)
  })

  it.each([
    ['a missing ca file', () => ({ tls: { ca: join(tmp, 'nowhere.pem') } }), /database\.tls\.ca: cannot read .*nowhere\.pem: ENOENT/],
    [
      'a key other users can read',
      () => ({ tls: { ca: pem('ca.pem'), cert: pem('client.pem'), key: pem('loose.key') } }),
      /database\.tls\.key .*loose\.key is accessible to other users \(mode 644\); refusing to use it \(chmod 600 /,
    ],
    ['tls with a sqlite URL', () => ({ url: `sqlite:${join(tmp, 'x.sqlite')}`, tls: { ca: pem('ca.pem') } }), /database\.tls: TLS settings are only for mysql URLs/],
  ])('config error, exit 1 naming the key: %s', async (_what, database, message) => {
    const d = database() as { url?: string; tls: Record<string, unknown> }
    const url = d.url ?? `mysql://f2b@127.0.0.1:${port}/f2b_central`
    const path = writeHostConfig({ dir: tmp, name: `bad-${Math.random().toString(36).slice(2)}`, dbUrl: url, extra: { database: { url, passwordFile, tls: d.tls } } })
    const r = await runProgram(BIN.cli, ['migrate', '--config', path])
    expect(r.code).toBe(1)
    expect(r.stderr).toMatch(message)
    expect(r.stderr.split('\n')).toHaveLength(2)
  })

  async function waitForServer(errorLog: string) {
    const until = Date.now() + 20_000
    for (;;) {
      if (server?.exitCode !== null || server?.signalCode !== null) throw new Error(`mariadbd exited early:\n${tail(errorLog)}`)
      try {
        return await createConnection({ socketPath: join(tmp, 'sock'), user: 'root', connectTimeout: 1000 })
      } catch (err) {
        if (Date.now() > until) throw new Error(`mariadbd did not accept connections within 20 s (${(err as Error).message}):\n${tail(errorLog)}`)
        await new Promise((r) => setTimeout(r, 100))
      }
    }
  }
})

function tail(file: string): string {
  return existsSync(file) ? readFileSync(file, 'utf8').split('\n').slice(-15).join('\n') : '(no error log)'
}

/**
 * A server that speaks just enough MySQL to be taken for one: a greeting (offering TLS or
 * not), then, after an SSLRequest, a TLS handshake with `cert`. It counts what the client
 * sends: SSLRequests, bytes inside TLS once the handshake is done, and any other bytes.
 */
async function impostor(o: { tls: boolean; cert: string; key: string }) {
  const counts = { sslRequests: 0, afterHandshake: 0, plain: 0 }
  const sockets = new Set<Socket>()
  const server = createServer((socket) => {
    sockets.add(socket)
    socket.on('error', () => undefined)
    socket.write(greeting(o.tls))
    let buf = Buffer.alloc(0)
    const onData = (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk])
      // The SSLRequest: a 32-byte payload, sequence 1, CLIENT_SSL (0x800) set.
      if (o.tls && buf.length >= 36 && buf.readUIntLE(0, 3) === 32 && buf[3] === 1 && (buf.readUInt32LE(4) & 0x800) !== 0) {
        counts.sslRequests++
        socket.off('data', onData)
        const secure = new TLSSocket(socket, { isServer: true, cert: o.cert, key: o.key })
        secure.on('error', () => undefined)
        secure.on('data', (d: Buffer) => (counts.afterHandshake += d.length))
        return
      }
      if (!o.tls || buf.length >= 36) counts.plain += chunk.length
    }
    socket.on('data', onData)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    port: (server.address() as { port: number }).port,
    received: () => ({ ...counts }),
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy()
        server.close(() => resolve())
      }),
  }
}

/** Protocol::HandshakeV10 as a MariaDB 10.11 server sends it, with or without CLIENT_SSL. */
function greeting(tls: boolean): Buffer {
  const caps = 0x0001 | 0x0200 | 0x8000 | 0x80000 | (tls ? 0x0800 : 0) // long password, protocol 41, secure connection, plugin auth
  const version = Buffer.from('5.5.5-10.11.0-MariaDB-impostor\0')
  const fixed = Buffer.alloc(4 + 8 + 1 + 2 + 1 + 2 + 2 + 1 + 10)
  let at = 0
  at = fixed.writeUInt32LE(7, at) // connection id
  at += fixed.write('abcdefgh', at) // auth data, part 1
  at = fixed.writeUInt8(0, at)
  at = fixed.writeUInt16LE(caps & 0xffff, at)
  at = fixed.writeUInt8(45, at) // utf8mb4
  at = fixed.writeUInt16LE(2, at) // autocommit
  at = fixed.writeUInt16LE(caps >>> 16, at)
  fixed.writeUInt8(21, at) // auth data length
  const payload = Buffer.concat([Buffer.from([10]), version, fixed, Buffer.from('ijklmnopqrst\0'), Buffer.from('mysql_native_password\0')])
  const header = Buffer.alloc(4)
  header.writeUIntLE(payload.length, 0, 3)
  return Buffer.concat([header, payload])
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer()
    s.once('error', reject)
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number }
      s.close(() => resolve(port))
    })
  })
}

/** A test CA, a server certificate it signs (127.0.0.1 and localhost), a client certificate, and an unrelated CA. */
function makeCertificates(dir: string): void {
  const openssl = (...args: string[]) => execFileSync(programs.openssl!, args, { cwd: dir, stdio: 'pipe' })
  const newKey = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes']
  const ca = (name: string, cn: string) => openssl('req', '-x509', ...newKey, '-keyout', `${name}.key`, '-out', `${name}.pem`, '-days', '2', '-subj', `/CN=${cn}`)
  const signed = (name: string, cn: string, ext: string) => {
    openssl('req', ...newKey, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${cn}`)
    writeFileSync(join(dir, `${name}.ext`), ext)
    openssl('x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', `${name}.pem`, '-days', '2', '-extfile', `${name}.ext`)
  }
  mkdirSync(dir, { recursive: true })
  ca('ca', 'f2b-central test CA')
  ca('other-ca', 'unrelated test CA')
  signed('server', 'f2b-central test server', 'subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n')
  signed('client', 'f2b-host-test', 'basicConstraints=CA:FALSE\nextendedKeyUsage=clientAuth\n')
  for (const key of ['ca.key', 'other-ca.key', 'server.key', 'client.key']) chmodSync(join(dir, key), 0o600)
  writeFileSync(join(dir, 'loose.key'), readFileSync(join(dir, 'client.key')))
  chmodSync(join(dir, 'loose.key'), 0o644)
}
