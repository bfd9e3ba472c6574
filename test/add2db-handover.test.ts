// add2db's fast path (issue 12 section 3): with `readdb --daemon` on the host, add2db hands its
// report over the daemon's unix socket and exits once the daemon has stored it. These run the
// built programs against a real database, a real daemon and real processes stopped and killed
// with signals; a private socket directory per file (F2B_CENTRAL_SOCKET_DIR, for tests only).
import { type ChildProcess, execFile } from 'node:child_process'
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { connect, type Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import type { CentralDb } from '@f2b-central/core/db/db-adapter'
import { configIdentity, handoverSocketPath } from '@f2b-central/core/report/handover/protocol'
import { createFail2banStateDb } from '../scripts/fail2ban-state-db.mjs'
import { storedFromAdd2db } from './setup/daemon-log.js'
import { createTestDatabase, dialects, type DialectName, type TestDatabase } from './setup/dialects.js'
import { adminConnection } from './setup/mariadb.js'
import { socketsOf } from './setup/proc-sockets.js'
import { BIN, ROOT, type RunningDaemon, runProgram, startDaemon, writeHostConfig } from './setup/programs.js'
import { startProxiedHost } from './setup/proxied-host.js'

async function waitFor(check: () => boolean | Promise<boolean>, timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs
  while (!(await check())) {
    if (Date.now() > until) throw new Error(`condition not met within ${timeoutMs} ms`)
    await new Promise((r) => setTimeout(r, 50))
  }
}

interface Host {
  tdb: TestDatabase
  central: CentralDb
  config: string
  socketDir: string
  env: NodeJS.ProcessEnv
  daemon?: RunningDaemon
}

async function setUpHost(dialect: DialectName, extra: Record<string, unknown> = {}): Promise<Host> {
  const tdb = await createTestDatabase(dialect)
  const central = await tdb.openMigrated()
  const f2bDb = join(tdb.dir, 'fail2ban.sqlite3')
  createFail2banStateDb(f2bDb)
  // A long schedule: only the hand-over stores bans here, never a poll in between.
  const config = writeHostConfig({ dir: tdb.dir, name: 'web-1', dbUrl: tdb.url, fail2ban: { database: f2bDb }, extra: { readdb: { schedule: '0 0 * * * *' }, ...extra } })
  const socketDir = join(tdb.dir, 'run')
  return { tdb, central, config, socketDir, env: { F2B_CENTRAL_SOCKET_DIR: socketDir } }
}

async function startHostDaemon(h: Host): Promise<RunningDaemon> {
  const daemon = startDaemon(h.config, h.env)
  h.daemon = daemon
  await waitFor(() => daemon.output().includes('"msg":"started"'), 15_000)
  expect(daemon.output()).toContain('"handover":"')
  return daemon
}

async function stopHostDaemon(h: Host): Promise<void> {
  const d = h.daemon
  h.daemon = undefined
  if (d === undefined || d.child.exitCode !== null || d.child.signalCode !== null) return
  d.child.kill('SIGCONT')
  d.child.kill('SIGTERM')
  const code = await Promise.race([d.exited, new Promise<'hung'>((r) => setTimeout(() => r('hung'), 20_000))])
  if (code === 'hung') d.child.kill('SIGKILL')
}

const add2db = (h: Host, ip: string, more: string[] = [], bin = BIN.add2db, onSpawn?: (child: ChildProcess) => void) =>
  runProgram(bin, ['--config', h.config, '--jail', 'sshd', '--ip', ip, '--port', 'ssh', ...more], { env: h.env, ...(onSpawn ? { onSpawn } : {}) })

async function bansOf(h: Host, ip: string): Promise<{ id: number; report_key: string | null; bantime: number }[]> {
  return (await h.central.db.selectFrom('bans').select(['id', 'report_key', 'bantime']).where('ip', '=', ip).execute()) as {
    id: number
    report_key: string | null
    bantime: number
  }[]
}

const storedByDaemon = (h: Host, ip: string): boolean => storedFromAdd2db(h.daemon, ip)

/**
 * add2db through the daemon, for the tests that need that path taken. add2db gives the daemon
 * 50 ms to accept; on a CPU-starved test machine a run can miss that and store the ban itself
 * (correct, but not what is tested), so up to four runs are made, each with its own address
 * (`ipFor(attempt)`), until the daemon stored one. A broken hand-over fails all four.
 */
async function viaDaemon(h: Host, ipFor: (attempt: number) => string, bin = BIN.add2db): Promise<{ ip: string; r: Awaited<ReturnType<typeof runProgram>> }> {
  let last: { ip: string; r: Awaited<ReturnType<typeof runProgram>> } | undefined
  for (let attempt = 0; attempt < 4; attempt++) {
    const ip = ipFor(attempt)
    last = { ip, r: await add2db(h, ip, [], bin) }
    if (last.r.code === 0 && storedByDaemon(h, ip)) return last
  }
  return last as { ip: string; r: Awaited<ReturnType<typeof runProgram>> }
}

/** A raw client on the socket: what it sends, every line it was sent back, and how it ended. */
function rawClient(path: string, send: (s: Socket) => void): Promise<{ lines: string[]; error?: string }> {
  return new Promise((resolve) => {
    let text = ''
    const s = connect(path)
    s.setEncoding('utf8')
    s.on('connect', () => send(s))
    s.on('data', (d: string) => (text += d))
    s.on('error', (err: NodeJS.ErrnoException) => resolve({ lines: text.split('\n').filter(Boolean), error: err.code }))
    s.on('close', () => resolve({ lines: text.split('\n').filter(Boolean) }))
  })
}

function requestFor(h: Host, ban: Record<string, unknown>, over: Record<string, unknown> = {}): string {
  const id = configIdentity(h.config, {})
  return `${JSON.stringify({ v: 1, config: id.path, file: id.file, env: id.env, key: crypto.randomUUID(), reportedAt: new Date().toISOString(), ban, ...over })}\n`
}

describe.each(dialects())('%s: add2db hands its report to the local daemon', (dialect) => {
  let h: Host
  beforeAll(async () => {
    h = await setUpHost(dialect, { allowlist: ['198.51.100.0/24'], bans: { defaultBantime: 777 } })
    await startHostDaemon(h)
  })
  afterAll(async () => {
    await stopHostDaemon(h)
    await h?.central.close()
    await h?.tdb.drop()
  })
  afterEach(async () => {
    // A test that stopped or killed the daemon leaves the next one a fresh one.
    if (h.daemon === undefined || h.daemon.child.exitCode !== null || h.daemon.child.signalCode !== null) await startHostDaemon(h)
  })

  it('the daemon stores it (same key, same validation and defaults) and add2db exits 0 without a word', async () => {
    const { ip, r } = await viaDaemon(h, (n) => `192.0.2.${100 + n}`)
    expect(r).toMatchObject({ code: 0, stdout: '', stderr: '' })
    expect(storedByDaemon(h, ip)).toBe(true)
    const bans = await bansOf(h, ip)
    expect(bans).toHaveLength(1)
    expect(bans[0]?.report_key).toMatch(/^[0-9a-f-]{36}$/)
    // bans.defaultBantime, as the daemon's config says (add2db read no config).
    expect(bans[0]?.bantime).toBe(777)
    const dir = statSync(h.socketDir)
    expect(dir.mode & 0o777).toBe(0o700)
    const sock = statSync(handoverSocketPath(h.socketDir, configIdentity(h.config, {})))
    expect(sock.isSocket() && (sock.mode & 0o777) === 0o600).toBe(true)
  })

  it('loads nothing of the full path: a copy of add2db without its full bundle still stores through the daemon, and fails without it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'f2b-fast-only-'))
    try {
      // The launcher and the fast bundle alone: no add2db.cjs, and not the code cache's packages/core/launch either.
      mkdirSync(join(dir, 'add2db', 'bin'), { recursive: true })
      mkdirSync(join(dir, 'add2db', 'dist'))
      copyFileSync(BIN.add2db, join(dir, 'add2db', 'bin', 'add2db.cjs'))
      copyFileSync(join(ROOT, 'packages/add2db/dist/add2db-fast.cjs'), join(dir, 'add2db', 'dist', 'add2db-fast.cjs'))
      const launcher = join(dir, 'add2db', 'bin', 'add2db.cjs')
      const { ip, r } = await viaDaemon(h, (n) => `192.0.2.${110 + n}`, launcher)
      expect(r).toMatchObject({ code: 0, stderr: '' })
      expect(await bansOf(h, ip)).toHaveLength(1)
      // The same copy with no daemon to hand it to needs the full bundle, which is not there.
      const alone = await runProgram(launcher, ['--config', h.config, '--jail', 'sshd', '--ip', '192.0.2.12'], { env: { F2B_CENTRAL_SOCKET_DIR: join(dir, 'no-daemon') } })
      expect(alone.code).not.toBe(0)
      expect(alone.stderr).toMatch(/code-cache\.cjs/)
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })

  it('says what the full path says: an allowlisted address, invalid input (exit 2), --help', async () => {
    const allowed = await add2db(h, '198.51.100.7')
    expect(allowed).toMatchObject({ code: 0, stderr: 'add2db: 198.51.100.7 is allowlisted (config); not reported\n' })
    expect(storedByDaemon(h, '198.51.100.7')).toBe(false)
    expect(await bansOf(h, '198.51.100.7')).toHaveLength(0)
    const alone = await runProgram(BIN.add2db, ['--config', h.config, '--jail', 'sshd', '--ip', '198.51.100.7', '--port', 'ssh'], {
      env: { F2B_CENTRAL_SOCKET_DIR: join(h.tdb.dir, 'none') },
    })
    expect(alone.stderr).toBe(allowed.stderr)
    expect(await add2db(h, '192.0.2.300')).toMatchObject({ code: 2, stderr: 'add2db: invalid ip "192.0.2.300": not an IPv4 or IPv6 address\n' })
    expect((await runProgram(BIN.add2db, ['--help'], { env: h.env })).stdout).toMatch(/^usage: add2db/)
  })

  it('a config edited since the daemon started: the daemon refuses the report and add2db stores it itself, by the new config', async () => {
    const before = readFileSync(h.config, 'utf8')
    expect(before).toMatch(/defaultBantime: 777\n/)
    writeFileSync(h.config, before.replace('defaultBantime: 777', 'defaultBantime: 1234'), { mode: 0o600 })
    try {
      expect(await add2db(h, '192.0.2.13')).toMatchObject({ code: 0, stderr: '' })
      expect(storedByDaemon(h, '192.0.2.13')).toBe(false)
      const bans = await bansOf(h, '192.0.2.13')
      expect(bans.map((b) => b.bantime)).toEqual([1234])
      await waitFor(() => h.daemon?.output().includes('made with another config') ?? false, 5000)
    } finally {
      writeFileSync(h.config, before, { mode: 0o600 })
      // The daemon's identity is the old file's: restart it on the restored one.
      await stopHostDaemon(h)
    }
  })

  it('a daemon stopped (SIGSTOP) before it accepts: add2db stores the ban itself; killed then, the ban is there once', async () => {
    const d = h.daemon as RunningDaemon
    d.child.kill('SIGSTOP')
    const r = await add2db(h, '192.0.2.14')
    d.child.kill('SIGKILL')
    await d.exited
    expect(r.code).toBe(0)
    // Stopped in the middle of a poll's SQLite write, the daemon holds the file's lock: add2db
    // then keeps the ban in the spool (and says so), which the next readdb ships.
    if (r.stderr !== '') {
      expect(r.stderr).toMatch(/^add2db: warning: ban kept in the local spool /)
      expect((await runProgram(BIN.readdb, ['--config', h.config], { env: h.env })).code).toBe(0)
    }
    expect(await bansOf(h, '192.0.2.14')).toHaveLength(1)
  })

  it('a daemon that goes on after add2db gave up on it stores the same report once, not twice (the key)', async () => {
    const d = h.daemon as RunningDaemon
    // add2db stores it itself; the daemon, resumed, then reads the same request from its
    // socket and stores it under the same key. On a starved machine the request may not reach
    // the stopped daemon at all (nothing to show then): another address, up to three.
    let ip: string | undefined
    for (let attempt = 0; attempt < 3 && ip === undefined; attempt++) {
      const candidate = `192.0.2.${150 + attempt}`
      d.child.kill('SIGSTOP')
      const r = await add2db(h, candidate).finally(() => d.child.kill('SIGCONT'))
      expect(r.code, r.stderr).toBe(0)
      if (
        await waitFor(() => storedByDaemon(h, candidate), 10_000).then(
          () => true,
          () => false,
        )
      )
        ip = candidate
      expect(await bansOf(h, candidate)).toHaveLength(1)
    }
    expect(ip, `the resumed daemon never stored a report add2db had given up on:\n${d.output()}`).toBeDefined()
    expect(await bansOf(h, ip as string)).toHaveLength(1)
  })

  // The daemon is killed only once add2db has given up on it: what this shows is a daemon that
  // hangs between its commit and its answer. Killed while add2db waits: the next test.
  it.runIf(dialect === 'mysql')(
    'a daemon that hangs (SIGSTOP) after accepting, its insert committed on the server: add2db gives up waiting and stores it itself, once',
    async () => {
      const d = h.daemon as RunningDaemon
      const admin = await adminConnection()
      const dbName = new URL(h.tdb.url).pathname.slice(1)
      try {
        await admin.query(`LOCK TABLES \`${dbName}\`.bans WRITE`)
        const running = add2db(h, '192.0.2.16')
        // The daemon has accepted the report when its store waits on the lock.
        await waitFor(async () => {
          const [rows] = await admin.query(`SELECT COUNT(*) AS n FROM information_schema.PROCESSLIST WHERE DB = ? AND STATE LIKE 'Waiting for table%'`, [dbName])
          return Number((rows as { n: number }[])[0]?.n) > 0
        }, 10_000)
        d.child.kill('SIGSTOP')
        await admin.query('UNLOCK TABLES')
        // The statement finishes on the server; the daemon never tells add2db, which stores it under the same key.
        const r = await running
        d.child.kill('SIGKILL')
        await d.exited
        expect(r.code).toBe(0)
        const bans = await bansOf(h, '192.0.2.16')
        expect(bans).toHaveLength(1)
      } finally {
        await admin.query('UNLOCK TABLES').catch(() => undefined)
        await admin.end()
      }
    },
  )

  it.runIf(dialect === 'mysql')('the daemon killed (SIGKILL) while add2db waits for its answer, its insert held on the server: add2db stores the ban itself, once', async () => {
    const d = h.daemon as RunningDaemon
    const admin = await adminConnection()
    const dbName = new URL(h.tdb.url).pathname.slice(1)
    // The client ports of the statements waiting on the lock (PROCESSLIST's HOST is addr:port).
    const waitingPorts = async () => {
      const [rows] = await admin.query(`SELECT HOST AS host FROM information_schema.PROCESSLIST WHERE DB = ? AND STATE LIKE 'Waiting for table%'`, [dbName])
      return (rows as { host: string }[]).map((r) => Number(r.host.slice(r.host.lastIndexOf(':') + 1)))
    }
    const waitsOnTheLock = async (pid: number) => {
      const ports = await waitingPorts()
      return socketsOf(pid).tcpPorts.some((p) => ports.includes(p))
    }
    try {
      // add2db gives the daemon 50 ms to accept; one that missed it on a starved machine stores
      // the ban itself before anything is killed (correct, but not this case): then a fresh try.
      let killed: string | undefined
      for (let attempt = 0; attempt < 3 && killed === undefined; attempt++) {
        const ip = `192.0.2.${170 + attempt}`
        let pid = 0
        await admin.query(`LOCK TABLES \`${dbName}\`.bans WRITE`)
        let ended = false
        const running = add2db(h, ip, [], BIN.add2db, (c) => (pid = c.pid ?? 0)).finally(() => (ended = true))
        await waitFor(async () => pid > 0 && ((await waitsOnTheLock(d.child.pid as number)) || ended || socketsOf(pid).tcpPorts.length > 0), 10_000)
        // The daemon accepted it and its store waits on the lock; add2db still waits for the
        // answer when its socket to the daemon is open and it has no database connection.
        if (!ended && JSON.stringify(socketsOf(pid)) === JSON.stringify({ unix: 1, tcpPorts: [] })) {
          d.child.kill('SIGKILL')
          await d.exited
          killed = ip
          // Told by the closed socket, add2db stores the ban itself: its insert waits on the lock too.
          await waitFor(() => {
            if (ended) throw new Error('add2db ended without storing the ban itself')
            return waitsOnTheLock(pid)
          }, 10_000)
        }
        await admin.query('UNLOCK TABLES')
        const r = await running
        expect(r.code).toBe(0)
        // On a starved machine its insert may pass its deadline (3 s) on the lock: then the ban is in the spool.
        if (r.stderr !== '') {
          expect(r.stderr).toMatch(/^add2db: warning: ban kept in the local spool /)
          expect((await runProgram(BIN.readdb, ['--config', h.config], { env: h.env })).code).toBe(0)
        }
        // Whether the dead daemon's statement committed or not: once, by the key.
        expect(await bansOf(h, ip)).toHaveLength(1)
      }
      expect(killed, 'add2db never waited on the daemon in three tries').toBeDefined()
    } finally {
      await admin.query('UNLOCK TABLES').catch(() => undefined)
      await admin.end()
    }
  })
})

describe.runIf(dialects().includes('mysql'))('mysql: add2db through the daemon while the database is down', () => {
  it("the daemon keeps the ban in the spool (fsync'd) and add2db says so, exit 0; the next hand-over after the outage ships it, each ban once", async () => {
    const host = await startProxiedHost('web-1', { readdb: { schedule: '0 0 * * * *' } })
    const h: Host = { tdb: host.tdb, central: host.central, config: host.config, socketDir: join(host.tdb.dir, 'run'), env: { F2B_CENTRAL_SOCKET_DIR: join(host.tdb.dir, 'run') } }
    try {
      const d = await startHostDaemon(h)
      host.proxy.cut()
      const r = await add2db(h, '192.0.2.40')
      expect(r.code).toBe(0)
      expect(r.stderr).toMatch(/^add2db: warning: ban kept in the local spool \(.+\.ban\.json\): .+; the next add2db or readdb that reaches the database ships it\n$/)
      expect(d.output()).toMatch(/"ip":"192\.0\.2\.40".*"msg":"kept a ban from add2db in the spool"/)
      host.proxy.restore()
      // The daemon's next store that reaches the database ships the spool first (reportBan, as
      // add2db would). Its pool may hand out a connection the cut killed: a try that spools
      // again is a ban in the spool too, shipped by the one that gets through.
      const tried: string[] = []
      await waitFor(async () => {
        const ip = `192.0.2.${41 + tried.length}`
        tried.push(ip)
        const again = await add2db(h, ip)
        return again.code === 0 && again.stderr === '' && storedByDaemon(h, ip)
      }, 20_000)
      for (const ip of ['192.0.2.40', ...tried]) expect(await bansOf(h, ip), ip).toHaveLength(1)
    } finally {
      await stopHostDaemon(h)
      await host.close()
    }
  })
})

describe("the daemon's socket against hostile local clients", () => {
  let h: Host
  let socket: string
  beforeAll(async () => {
    h = await setUpHost('sqlite')
    await startHostDaemon(h)
    socket = handoverSocketPath(h.socketDir, configIdentity(h.config, {}))
  })
  afterAll(async () => {
    await stopHostDaemon(h)
    await h?.central.close()
    await h?.tdb.drop()
  })

  const stillServes = async (ip: string): Promise<void> => {
    const base = ip.split('.').slice(0, 3).join('.')
    const last = Number(ip.split('.')[3])
    const done = await viaDaemon(h, (n) => (n === 0 ? ip : `${base}.${last + 100 + n}`))
    expect(done.r).toMatchObject({ code: 0, stderr: '' })
    expect(storedByDaemon(h, done.ip)).toBe(true)
    expect(h.daemon?.child.exitCode).toBe(null)
  }

  it('garbage, a wrong protocol, a bad key: refused, nothing stored, the daemon goes on', async () => {
    for (const line of ['hello\n', '\x00\xff\xfe{{{\n', '[1,2,3]\n', '{"v":2}\n', requestFor(h, { ip: '192.0.2.20', jail: 'sshd' }, { key: 'not-a-key' })]) {
      const r = await rawClient(socket, (s) => s.write(line))
      expect(r.lines).toHaveLength(1)
      expect(JSON.parse(r.lines[0] ?? '')).toHaveProperty('refused')
    }
    expect(await bansOf(h, '192.0.2.20')).toHaveLength(0)
    await stillServes('192.0.2.21')
  })

  it('an invalid ban is re-validated by the daemon and refused, whatever add2db would have checked', async () => {
    for (const ban of [
      { ip: '999.1.1.1', jail: 'sshd' },
      { ip: '192.0.2.22', jail: 'ssh d;DROP' },
      { ip: '192.0.2.22', jail: 'sshd', bantime: '1e9x' },
      { ip: ['192.0.2.22'], jail: 'sshd' },
    ]) {
      const r = await rawClient(socket, (s) => s.write(requestFor(h, ban)))
      expect(JSON.parse(r.lines[0] ?? '{}')).toHaveProperty('refused')
    }
    expect(await bansOf(h, '192.0.2.22')).toHaveLength(0)
    // The same client with a valid ban is accepted: the refusals were the ban's, not the client's.
    const ok = await rawClient(socket, (s) => s.write(requestFor(h, { ip: '192.0.2.23', jail: 'sshd' })))
    expect(ok.lines.map((l) => Object.keys(JSON.parse(l))[0])).toEqual(['accepted', 'done'])
    expect(await bansOf(h, '192.0.2.23')).toHaveLength(1)
  })

  it('a huge payload is cut at the limit without being held in memory', async () => {
    const r = await rawClient(socket, (s) => {
      const mb = Buffer.alloc(1 << 20, 0x61)
      for (let i = 0; i < 16; i++) s.write(mb)
    })
    // Cut: the refusal, unless the reset it ends with reached the client first.
    expect(r.lines.map((l) => JSON.parse(l))).toEqual(r.lines.length === 0 ? [] : [{ refused: 'request longer than 4096 bytes' }])
    expect(r.lines.length > 0 || r.error !== undefined).toBe(true)
    await stillServes('192.0.2.24')
  })

  it('slow clients (a flood of connections that never finish a line) are cut, and add2db stores its ban meanwhile', async () => {
    const idle: Socket[] = []
    const closed: Promise<void>[] = []
    for (let i = 0; i < 80; i++) {
      const s = connect(socket)
      s.on('error', () => undefined)
      s.on('connect', () => s.write('{"v":1,'))
      closed.push(new Promise((r) => s.on('close', () => r())))
      idle.push(s)
    }
    try {
      // Whether the daemon takes it or it is past the daemon's connection limit, the ban is stored.
      expect(await add2db(h, '192.0.2.25')).toMatchObject({ code: 0, stderr: '' })
      expect(await bansOf(h, '192.0.2.25')).toHaveLength(1)
      // The daemon cuts every one of them (REQUEST_MS), and is free again.
      await Promise.all(closed)
      await stillServes('192.0.2.26')
    } finally {
      for (const s of idle) s.destroy()
    }
  })

  it('another user cannot reach the socket: connect() is refused by the directory (0700), and by the socket (0600) if the directory is opened', async () => {
    const tryAsNobody = () =>
      new Promise<string>((resolve) => {
        const code = `require('node:net').connect(${JSON.stringify(socket)}).on('connect',()=>{console.log('CONNECTED');process.exit(0)}).on('error',(e)=>{console.log(e.code);process.exit(0)})`
        execFile('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', '--', process.execPath, '-e', code], (err, stdout, stderr) =>
          resolve(err ? `failed: ${stderr}` : stdout.trim()),
        )
      })
    expect(await tryAsNobody()).toBe('EACCES')
    chmodSync(h.socketDir, 0o755)
    try {
      expect(await tryAsNobody()).toBe('EACCES')
    } finally {
      chmodSync(h.socketDir, 0o700)
    }
    await stillServes('192.0.2.27')
  })

  it('add2db does not hand a report to a socket in a directory others may write', async () => {
    chmodSync(h.socketDir, 0o777)
    try {
      expect(await add2db(h, '192.0.2.28')).toMatchObject({ code: 0, stderr: '' })
      expect(storedByDaemon(h, '192.0.2.28')).toBe(false)
      expect(await bansOf(h, '192.0.2.28')).toHaveLength(1)
    } finally {
      chmodSync(h.socketDir, 0o700)
    }
  })
})
