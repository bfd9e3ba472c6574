// f2b-central serve (issue 14), as built, against a seeded database on every dialect: on
// MariaDB it reads with exactly the account sql/serve-grants.sql makes (SELECT only). A
// plain HTTP client on loopback checks the lists (the same text as `export`), ETags and 304,
// the metrics, the health check, the status page's escaping, every kind of bad request,
// tokens (added, refused, removed while it runs) and the stop on SIGTERM; as root, the
// served nft and ipset scripts loaded by the real tools in a network namespace of its own.
import { spawn } from 'node:child_process'
import { connect } from 'node:net'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { CentralDb } from '@f2b-central/core/db/db-adapter'
import { registerHost } from '@f2b-central/core/db/queries/hosts'
import { BanStatus } from '@f2b-central/core/schema/ban-status'
import { requirePrograms } from '../scripts/test-machine.mjs'
import { createTestDatabase, dialects, type TestDatabase } from './setup/dialects.js'
import { at, DAY, HOUR, runCli, seedBan, seedHosts, seedStatus } from './setup/operator.js'
import { addToken, createServeAccount, http, startServeProcess, writeServeConfig, type ServeProcess } from './setup/serve.js'

// Each family in the order of the stored text, as the list is read.
const V4 = ['192.0.2.9', '198.51.100.200', '203.0.113.7']
const V6 = ['2001:db8::1:0:0:1', '2001:db8::7']
const NGINX = '198.51.100.77'
const HOSTILE = ['203.0.113.50\n$(reboot)', '10.0.0.0/24', '2001:DB8::99']
const HOSTILE_HOST = 'evil<img src=x onerror=alert(1)>'
const HOSTILE_ERROR = '<script>alert("x")</script> & more'

// A program with `input` on its stdin.
function execIn(argv: readonly string[], input = ''): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0]!, argv.slice(1), { stdio: [input === '' ? 'ignore' : 'pipe', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()))
    child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()))
    child.on('error', reject)
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }))
    // A program that exits before reading all of it (a script it refuses) says so in its exit code.
    child.stdin?.on('error', () => {})
    child.stdin?.end(input)
  })
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

describe.each(dialects())('%s: f2b-central serve', (dialect) => {
  let tdb: TestDatabase
  let central: CentralDb
  let serve: ServeProcess
  let config: string
  let tokensFile: string
  let token: string
  let reporter = 0
  let dropAccount = async () => {}
  const get = (path: string, options: Parameters<typeof http>[1] = {}) => http(`${serve.url}${path}`, { token, ...options })
  const lines = (body: string) => body.split('\n').filter(Boolean)

  beforeAll(async () => {
    tdb = await createTestDatabase(dialect)
    central = await tdb.openMigrated()
    const ids = await seedHosts(central, [{ name: 'web-1' }, { name: 'web-2', seen: -2 * HOUR }, { name: HOSTILE_HOST }, { name: 'bad\nhost' }])
    reporter = ids['web-1']!
    for (const ip of [...V6].reverse()) await seedBan(central, { ip, reporterId: reporter, created: -HOUR, expires: HOUR })
    for (const ip of [...V4].reverse()) await seedBan(central, { ip, reporterId: reporter, created: -HOUR, expires: DAY })
    await seedBan(central, { ip: '203.0.113.7', reporterId: reporter, created: -HOUR, expires: null })
    await seedBan(central, { ip: NGINX, jail: 'nginx', reporterId: ids['web-2']!, created: -2 * HOUR })
    await seedBan(central, { ip: '192.0.2.200', reporterId: reporter, created: -2 * DAY, expires: -DAY })
    await seedBan(central, { ip: '192.0.2.201', reporterId: reporter, created: -HOUR, revoked: -60 })
    await seedBan(central, { ip: '198.51.100.1', reporterId: reporter, created: -HOUR })
    const held = await seedBan(central, { ip: '192.0.2.202', reporterId: reporter, created: -60 })
    await central.db
      .updateTable('bans')
      .set({ held_at: at(-60) })
      .where('id', '=', held)
      .execute()
    await central.db.insertInto('allowlist').values({ network: '198.51.100.0/28', added_by: 'test', reason: 'office' }).execute()
    for (const ip of HOSTILE) await seedBan(central, { ip, reporterId: reporter, created: -HOUR })
    const failed = await seedBan(central, { ip: '192.0.2.9', jail: 'postfix', reporterId: reporter, created: -600 })
    await seedStatus(central, failed, ids['web-2']!, BanStatus.Error, { error: HOSTILE_ERROR })
    await seedStatus(central, failed, ids['web-1']!, BanStatus.Added)
    // web-1 feeds nftables sets (readdb's firewall mode): two resyncs recorded as readdb records
    // them (MariaDB: the f2b_record_resync routine), the last 10 minutes ago.
    const web1 = await registerHost(central.db, central.adapter, 'web-1', null)
    await central.adapter.hostWrites.recordResync(central.db, web1, { backend: 'nftables', entries: 9, drift: 4 })
    await central.adapter.hostWrites.recordResync(central.db, web1, { backend: 'nftables', entries: 11, drift: 2 })
    await central.db
      .updateTable('hosts')
      .set({ resynced_at: at(-600) })
      .where('id', '=', web1.id)
      .execute()

    // MariaDB: the shipped SELECT-only grant, nothing more.
    let dbUrl = tdb.url
    let passwordFile: string | undefined
    if (dialect === 'mysql') {
      const account = await createServeAccount(tdb.url, tdb.dir)
      dbUrl = account.url
      passwordFile = account.passwordFile
      dropAccount = account.drop
    }
    config = writeServeConfig({ dir: tdb.dir, dbUrl, passwordFile, serve: { open: ['/healthz'] } })
    tokensFile = join(tdb.dir, 'serve-tokens')
    token = await addToken(tokensFile, 'router-1')
    serve = await startServeProcess(config)
  })
  afterAll(async () => {
    await serve?.stop('SIGKILL')
    await central?.close()
    await dropAccount()
    await tdb?.drop()
  })

  it('/v1/bans.txt: active, unheld, allowlist-free, validated addresses, IPv4 then IPv6; /fail2ban the same', async () => {
    const r = await get('/v1/bans.txt')
    expect(r.status).toBe(200)
    expect(r.headers['content-type']).toBe('text/plain; charset=utf-8')
    expect(r.body).toBe([...V4.slice(0, 2), NGINX, V4[2]!, ...V6].map((ip) => `${ip}\n`).join(''))
    // rendered to a file once per version and sent with its length: a cut-off list cannot pass for a whole one
    expect(r.headers['content-length']).toBe(String(Buffer.byteLength(r.body)))
    expect((await get('/fail2ban')).body).toBe(r.body)
    expect((await get('/v1/bans.txt?family=6')).body).toBe(V6.map((ip) => `${ip}\n`).join(''))
    expect((await get('/v1/bans.txt?jail=nginx')).body).toBe(`${NGINX}\n`)
    expect((await get('/v1/bans.txt?jail=nginx&family=6')).body).toBe('')
    // the hostile rows are left out (the JSON list counts them)
    expect(r.body).not.toMatch(/reboot|\/24|DB8/)
  })

  // The firewall scripts are readdb's firewall mode's load script (issue 13), from the code that
  // `export --format ipset|nft` prints (firewall/firewall-load.ts), with the same config. Each
  // entry's timeout is its remaining time when it was rendered, so only those numbers may differ.
  const untimed = (script: string) => script.replace(/ timeout \d+(s?)/g, ' timeout N$1')
  it('/v1/bans.ipset and /v1/bans.nft are the text `export --format ipset|nft` prints, with ?set= and ?table=', async () => {
    for (const [format, path, args] of [
      ['ipset', '/v1/bans.ipset', []],
      ['nft', '/v1/bans.nft', []],
      ['ipset', '/v1/bans.ipset?set=fleet', ['--set', 'fleet']],
      ['nft', '/v1/bans.nft?set=fleet&table=edge', ['--set', 'fleet', '--table', 'edge']],
    ] as const) {
      const exported = await runCli(['export', '--format', format, ...args, '--config', config])
      expect(exported.code, exported.stderr).toBe(0)
      const served = await get(path)
      expect(served.status).toBe(200)
      expect(served.headers['content-length']).toBe(String(Buffer.byteLength(served.body)))
      expect(untimed(served.body)).toBe(untimed(exported.stdout))
      // a stored network the firewall mode takes (up to /16), where bans.txt takes single addresses only
      expect(served.body).toContain(' 10.0.0.0/24')
      expect(served.body).not.toMatch(/reboot|DB8|192\.0\.2\.202|198\.51\.100\.1 /)
    }
    // weak: the timeouts in a rendering differ, what they mean (when each entry ends) does not
    const { etag } = (await get('/v1/bans.nft')).headers
    expect(etag).toMatch(/^W\/"[A-Za-z0-9_-]{27}"$/)
    expect(await get('/v1/bans.nft', { headers: { 'If-None-Match': String(etag) } })).toMatchObject({ status: 304, body: '' })
    expect((await get('/v1/bans.nft?set=fleet&table=edge')).body).toMatch(/^add table inet edge\nadd set inet edge fleet-v4 \{/)
    // the whole load (both families, every set flushed): no jail or family to pick
    expect(await get('/v1/bans.nft?family=4')).toMatchObject({ status: 400, body: 'unknown parameter "family": expected set, table\n' })
    expect(await get('/v1/bans.ipset?jail=sshd')).toMatchObject({ status: 400, body: 'unknown parameter "jail": expected set\n' })
  })

  describe.runIf(process.getuid?.() === 0)('the served scripts loaded by the real nft and ipset in a network namespace', () => {
    const ns = `f2bserve-${process.pid}-${dialect}`
    const inNs = (argv: readonly string[], input = '') => execIn(['ip', 'netns', 'exec', ns, ...argv], input)
    // The active bans the firewall mode loads: sshd's and nginx's addresses, the stored /24, not
    // the allowlisted, held, expired, revoked or hostile ones; 203.0.113.7 once, permanent.
    const ADDRESSES_V4 = [...V4, NGINX].sort()
    beforeAll(async () => {
      requirePrograms('ip', 'ipset', 'nft')
      const r = await execIn(['ip', 'netns', 'add', ns])
      if (r.code !== 0) throw new Error(`ip netns add ${ns}: ${r.stderr}`)
    })
    afterAll(async () => {
      await execIn(['ip', 'netns', 'del', ns])
    })

    it('nft -f - loads /v1/bans.nft (twice: it flushes and refills); the sets hold the active bans with their timeouts', async () => {
      const script = (await get('/v1/bans.nft')).body
      for (let i = 0; i < 2; i++) expect(await inNs(['nft', '-f', '-'], script)).toMatchObject({ code: 0, stderr: '' })
      const elements = async (set: string) => {
        const out = JSON.parse((await inNs(['nft', '-j', 'list', 'set', 'inet', 'f2b_central', set])).stdout) as { nftables: { set?: { elem?: unknown[] } }[] }
        return (out.nftables.find((o) => o.set)?.set?.elem ?? []).map((v) => {
          const e = v as { elem?: { val: unknown; timeout?: number }; prefix?: { addr: string; len: number } }
          const val = (e.elem?.val ?? v) as string | { prefix: { addr: string; len: number } }
          return [typeof val === 'string' ? val : `${val.prefix.addr}/${val.prefix.len}`, e.elem?.timeout ?? null] as const
        })
      }
      const v4 = new Map(await elements('bans_v4_addr'))
      expect([...v4.keys()].sort()).toEqual(ADDRESSES_V4)
      expect((await elements('bans_v4')).map(([ip]) => ip)).toEqual(['10.0.0.0/24'])
      const v6 = new Map(await elements('bans_v6_addr'))
      expect([...v6.keys()].sort()).toEqual([...V6].sort())
      expect(await elements('bans_v6')).toEqual([])
      expect(v4.get('203.0.113.7')).toBeNull()
      expect(v4.get('192.0.2.9')).toBeGreaterThan(DAY - HOUR)
      expect(v4.get('192.0.2.9')).toBeLessThanOrEqual(DAY)
      for (const t of v6.values()) expect(t).toBeLessThanOrEqual(HOUR)
      expect((await inNs(['nft', 'list', 'chain', 'inet', 'f2b_central', 'input'])).stdout).toContain('ip saddr @bans_v4_addr drop')
    })

    it('ipset restore loads /v1/bans.ipset (twice); the sets hold the active bans with their timeouts', async () => {
      const script = (await get('/v1/bans.ipset')).body
      for (let i = 0; i < 2; i++) expect(await inNs(['ipset', 'restore', '-exist'], script)).toMatchObject({ code: 0, stderr: '' })
      const saved = (await inNs(['ipset', 'save'])).stdout
      const members = (set: string) =>
        new Map(
          saved
            .split('\n')
            .filter((l) => l.startsWith(`add ${set} `))
            .map((l) => [l.split(' ')[2]!, Number(l.split(' ')[4])] as const),
        )
      const v4 = members('f2b-central-v4')
      expect([...v4.keys()].sort()).toEqual([...ADDRESSES_V4, '10.0.0.0/24'].sort())
      expect([...members('f2b-central-v6').keys()].sort()).toEqual([...V6].sort())
      expect(v4.get('203.0.113.7')).toBe(0)
      expect(v4.get('192.0.2.9')).toBeGreaterThan(DAY - HOUR)
    })
  })

  it('/v1/bans.json: every active ban with jail, reporter, reported and expiry times, then the counts', async () => {
    const r = await get('/v1/bans.json')
    expect(r.headers['content-type']).toBe('application/json')
    const doc = JSON.parse(r.body) as { asOf: string; bans: Record<string, unknown>[]; count: number; allowlisted: number; rejected: number }
    expect(doc).toMatchObject({ count: 8, allowlisted: 1, rejected: 3 })
    // IPv4 in id order, then IPv6: 203.0.113.7 twice (timed and permanent), 192.0.2.9 twice (sshd and postfix)
    expect(doc.bans.map((b) => b.ip)).toEqual([V4[2], V4[1], V4[0], V4[2], NGINX, V4[0], V6[1], V6[0]])
    const nginx = doc.bans.find((b) => b.jail === 'nginx')!
    expect(nginx).toMatchObject({ ip: NGINX, version: 4, reporter: 'web-2', protocol: 'tcp', port: 'ssh' })
    expect(Date.parse(String(nginx.reportedAt))).toBeLessThan(Date.now() - HOUR * 1000 + 60_000)
    expect(doc.bans.filter((b) => b.ip === '203.0.113.7').map((b) => b.expiresAt === null)).toEqual([false, true])
    expect(Math.abs(Date.parse(doc.asOf) - Date.now())).toBeLessThan(60_000)
  })

  it('an ETag: If-None-Match answers 304 with nothing; HEAD sends the headers alone', async () => {
    const first = await get('/v1/bans.txt')
    const etag = String(first.headers.etag)
    expect(etag).toMatch(/^"[A-Za-z0-9_-]{27}"$/)
    expect(first.headers['cache-control']).toBe('no-cache')
    expect((await get('/v1/bans.txt')).headers.etag).toBe(etag)
    const cached = await get('/v1/bans.txt', { headers: { 'If-None-Match': etag } })
    expect(cached).toMatchObject({ status: 304, body: '' })
    expect(cached.headers.etag).toBe(etag)
    expect((await get('/v1/bans.txt', { headers: { 'If-None-Match': `"other", W/${etag}` } })).status).toBe(304)
    // each list and each filter has its own
    expect((await get('/v1/bans.txt?family=4')).headers.etag).not.toBe(etag)
    expect((await get('/v1/bans.ipset')).headers.etag).not.toBe(etag)
    const head = await get('/v1/bans.txt', { method: 'HEAD' })
    expect(head).toMatchObject({ status: 200, body: '' })
    expect(head.headers.etag).toBe(etag)
  })

  it('/healthz: open by serve.open (no token needed), 200 while the database is reachable and migrated', async () => {
    expect(await http(`${serve.url}/healthz`)).toMatchObject({ status: 200, body: 'ok\n' })
  })

  it("/metrics: the fleet from the database, and the server's own requests", async () => {
    const r = await get('/metrics')
    expect(r.status).toBe(200)
    expect(r.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/)
    const value = (name: string, labels: string) => {
      const line = r.body.split('\n').find((l) => l.startsWith(`${name}{${labels}}`) || (labels === '' && l.startsWith(`${name} `)))
      return line === undefined ? undefined : Number(line.split(' ').pop())
    }
    expect(value('f2b_central_database_up', '')).toBe(1)
    expect(value('f2b_central_fleet_read_seconds', '')).toBeGreaterThan(0)
    // sshd: 3 + 1 permanent + 2 IPv6 + 1 allowlisted + 3 hostile = 10 active unheld; nginx 1; postfix 1
    expect(value('f2b_central_active_bans', 'jail="sshd"')).toBe(10)
    expect(value('f2b_central_active_bans', 'jail="nginx"')).toBe(1)
    expect(value('f2b_central_bans_reported_24h', 'host="web-2",jail="nginx"')).toBe(1)
    expect(value('f2b_central_host_stale', 'host="web-2"')).toBe(1)
    expect(value('f2b_central_host_stale', 'host="web-1"')).toBe(0)
    expect(value('f2b_central_host_errors_24h', 'host="web-2"')).toBe(1)
    expect(value('f2b_central_host_last_seen_seconds', 'host="web-2"')).toBeGreaterThan(2 * HOUR - 60)
    expect(value('f2b_central_held_bans', 'reporter="web-1"')).toBe(1)
    expect(value('f2b_central_host_pending_bans', 'host="web-2"')).toBeGreaterThan(0)
    // the firewall mode's last resync: what it changed, what the sets hold, how long ago; none for a host without sets
    expect(value('f2b_central_host_firewall_drift', 'host="web-1"')).toBe(2)
    expect(value('f2b_central_host_firewall_entries', 'host="web-1"')).toBe(11)
    expect(value('f2b_central_host_last_resync_seconds', 'host="web-1"')).toBeGreaterThan(590)
    expect(value('f2b_central_host_last_resync_seconds', 'host="web-1"')).toBeLessThan(HOUR)
    expect(value('f2b_central_host_firewall_drift', 'host="web-2"')).toBeUndefined()
    // a hostile host name is a quoted, escaped label value, never a line of its own
    expect(r.body).toContain(`f2b_central_host_stale{host="${HOSTILE_HOST}"} 0`)
    expect(r.body).toContain('f2b_central_host_stale{host="\\"bad\\\\nhost\\""} 0')
    expect(r.body.split('\n').every((l) => l === '' || l.startsWith('#') || /^[a-z_][a-z0-9_]*(\{.*\})? [-0-9.e+Na]+$/.test(l))).toBe(true)
    expect(r.body).toMatch(/^f2b_central_http_requests_total\{endpoint="\/v1\/bans\.txt",code="200"\} \d+$/m)
    expect(r.body).toMatch(/^f2b_central_http_request_duration_seconds_count\{endpoint="\/v1\/bans\.txt"\} \d+$/m)
    expect(r.body).toMatch(/^process_resident_memory_bytes \d+/m)
  })

  it('the status page: every stored value escaped, no script, nothing loaded from elsewhere', async () => {
    const r = await get('/')
    expect(r.status).toBe(200)
    expect(r.headers['content-type']).toBe('text/html; charset=utf-8')
    expect(r.headers['content-security-policy']).toMatch(/default-src 'none'/)
    expect(r.body).not.toContain('<img')
    expect(r.body).not.toContain('<script')
    expect(r.body).toContain('evil&lt;img src=x onerror=alert(1)&gt;')
    expect(r.body).toContain('&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; more')
    expect(r.body).not.toMatch(/(src|href)="?https?:/)
    expect(r.body).toMatch(/<tr class="host stale errors" data-host="web-2">/)
    expect(r.body).toContain('data-host="bad\nhost"')
  })

  it('refuses what it does not serve: 401 with no detail, 404, 405, 413, 414, 431, and 400 naming the parameter', async () => {
    const unauthorized = { status: 401, body: 'unauthorized\n' }
    expect(await get('/v1/bans.txt', { token: '' })).toMatchObject(unauthorized)
    expect((await get('/v1/bans.txt', { token: '' })).headers['www-authenticate']).toBe('Bearer realm="f2b-central"')
    expect(await get('/v1/bans.txt', { token: `${token.slice(0, -1)}x` })).toMatchObject(unauthorized)
    expect(await get('/v1/bans.txt', { token: 'x'.repeat(2000) })).toMatchObject(unauthorized)
    expect(await get('/metrics', { token: '' })).toMatchObject(unauthorized)
    // the page asks a browser to log in; a Basic login with the token as password is let in
    expect((await get('/', { token: '' })).headers['www-authenticate']).toMatch(/^Basic realm="f2b-central"/)
    const basic = `Basic ${Buffer.from(`anyone:${token}`).toString('base64')}`
    expect((await get('/', { token: '', headers: { Authorization: basic } })).status).toBe(200)
    // an unknown path is 404 with or without a token, before any check
    expect(await get('/v1/bans.xml')).toMatchObject({ status: 404, body: 'not found\n' })
    expect((await get('/v1/bans.txt/', { token: '' })).status).toBe(404)
    expect((await get('//v1/bans.txt')).status).toBe(404)
    const post = await get('/v1/bans.txt', { method: 'POST', body: 'x' })
    expect(post.status).toBe(405)
    expect(post.headers.allow).toBe('GET, HEAD')
    expect((await get('/v1/bans.txt', { method: 'GET', body: 'ban=everything' })).status).toBe(413)
    expect((await get('/v1/bans.txt', { headers: { 'Transfer-Encoding': 'chunked' }, body: 'x' })).status).toBe(413)
    expect((await get(`/v1/bans.txt?jail=${'a'.repeat(3000)}`)).status).toBe(414)
    expect((await get('/v1/bans.txt', { headers: { 'X-Filler': 'a'.repeat(9000) } })).status).toBe(431)
    for (const [query, message] of [
      ['family=5', 'invalid family "5": expected 4 or 6'],
      ['jail=a%20b', 'invalid jail "a b": expected 1-64 characters of A-Z a-z 0-9 _ . - starting with a letter or digit'],
      ['jail=sshd&jail=nginx', 'parameter jail given twice'],
      ['token=abc', 'unknown parameter "token": expected jail, family'],
    ] as const) {
      expect(await get(`/v1/bans.txt?${query}`)).toMatchObject({ status: 400, body: `${message}\n` })
    }
    expect(await get('/v1/bans.nft?table=1x')).toMatchObject({ status: 400, body: expect.stringMatching(/^invalid table "1x"/) })
    expect(await get('/v1/bans.ipset?set=a%0Ab')).toMatchObject({ status: 400, body: expect.stringMatching(/^invalid set "a\\nb"/) })
    expect(await get('/metrics?x=1')).toMatchObject({ status: 400, body: 'unknown parameter "x": this endpoint takes none\n' })
  })

  it("never logs a token; each request line names the token's owner", async () => {
    await get('/v1/bans.txt?family=4')
    await sleep(100)
    expect(serve.output()).not.toContain(token)
    expect(serve.output()).not.toContain(token.slice(5, 20))
    const line = serve.lines().find((l) => l.msg === 'request' && l.path === '/v1/bans.txt' && l.status === 200)
    expect(line).toMatchObject({ method: 'GET', consumer: 'router-1', remote: '127.0.0.1' })
    expect(serve.lines().find((l) => l.status === 401)).toMatchObject({ consumer: '-' })
  })

  // From here on the data changes.

  it('the ETag changes when a ban is added, revoked, or runs out by time, and when the allowlist changes', async () => {
    const etag = async () => String((await get('/v1/bans.txt')).headers.etag)
    const before = await etag()
    await seedBan(central, { ip: '192.0.2.77', reporterId: reporter, created: -10, expires: 3 })
    const withSoon = await etag()
    expect(withSoon).not.toBe(before)
    expect(lines((await get('/v1/bans.txt')).body)).toContain('192.0.2.77')
    // a poller stamps it: the list is the same, the ETag may move (never staying put for a different list)
    // it runs out: nothing in the database changes, the list and the ETag do
    await sleep(3500)
    const afterExpiry = await get('/v1/bans.txt')
    expect(lines(afterExpiry.body)).not.toContain('192.0.2.77')
    expect(afterExpiry.headers.etag).not.toBe(withSoon)
    expect((await get('/v1/bans.txt', { headers: { 'If-None-Match': withSoon } })).status).toBe(200)
    // an unban
    const stable = await etag()
    await central.db
      .updateTable('bans')
      .set({ revoked_at: at(0), revoked_by: 'test', seq: null })
      .where('ip', '=', V4[1]!)
      .execute()
    const revoked = await get('/v1/bans.txt', { headers: { 'If-None-Match': stable } })
    expect(revoked.status).toBe(200)
    expect(lines(revoked.body)).not.toContain(V4[1])
    // the allowlist
    const beforeAllow = await etag()
    await central.db.insertInto('allowlist').values({ network: '192.0.2.9/32', added_by: 'test', reason: null }).execute()
    await central.db.updateTable('allowlist_version').set({ version: 99 }).where('id', '=', 1).execute()
    const allowed = await get('/v1/bans.txt', { headers: { 'If-None-Match': beforeAllow } })
    expect(allowed.status).toBe(200)
    expect(lines(allowed.body)).not.toContain('192.0.2.9')
  })

  it('tokens: a new one works and a removed one is refused within a second or two, without a restart', async () => {
    const second = await addToken(tokensFile, 'prometheus')
    await sleep(1100)
    expect((await get('/metrics', { token: second })).status).toBe(200)
    const removed = await runCli(['tokens', 'remove', 'prometheus', '--file', tokensFile])
    expect(removed.code, removed.stderr).toBe(0)
    await sleep(1100)
    expect((await get('/metrics', { token: second })).status).toBe(401)
    expect((await get('/metrics')).status).toBe(200)
    const listed = await runCli(['tokens', 'list', '--json', '--file', tokensFile])
    expect(JSON.parse(listed.stdout)).toEqual([{ name: 'router-1', created: expect.stringMatching(/^\d{4}-/) }])
  })

  it('stops on SIGTERM: an idle keep-alive connection does not hold it up; exit 0', async () => {
    const socket = connect(Number(new URL(serve.url).port), '127.0.0.1')
    await new Promise<void>((resolve) => socket.on('connect', () => resolve()))
    socket.write(`GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n`)
    await new Promise<void>((resolve) => socket.once('data', () => resolve()))
    const started = Date.now()
    expect(await serve.stop('SIGTERM')).toBe(0)
    expect(Date.now() - started).toBeLessThan(5000)
    expect(serve.lines().map((l) => l.msg)).toEqual(expect.arrayContaining(['stopping: finishing requests in flight', 'stopped']))
    socket.destroy()
  })
})
