// The edge hosts' pull script (deploy/pull/f2b-central-pull), for real: `f2b-central serve`
// runs in one network namespace ("central", on an SQLite file), the script in another
// ("edge") loads the list into real nftables and ipset sets there, and a third ("att", a
// banned address) finds itself dropped by edge's firewall while central is not. Then every
// way a pull can fail (serve down, a wrong token, a list with a line that is not an
// address, a body cut short, too many addresses) must leave the sets exactly as they were
// and exit 1. No interface, route or firewall of the root namespace is touched.
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { CentralDb } from '@f2b-central/core/db/db-adapter'
import { migrateToLatest } from '@f2b-central/core/db/migrate'
import { openSqlite } from '@f2b-central/core/db/sqlite/sqlite-database'
import { requirePrograms } from '../scripts/test-machine.mjs'
import { DAY, HOUR, seedBan, seedHosts } from './setup/operator.js'
import { Lan, NETNS_TOOL, removeStaleNamespaces, waitForOutput, type ExecResult } from './setup/netns.js'
import { BIN, ROOT } from './setup/programs.js'
import { addToken, attachServe, writeServeConfig, type ServeProcess } from './setup/serve.js'

const PULL = join(ROOT, 'deploy/pull/f2b-central-pull')
const AS_ROOT = process.getuid?.() === 0
const CENTRAL = '10.214.0.1'
const EDGE = '10.214.0.2'
const ATTACKER = '10.214.0.66'
// Not adjacent to each other, so nft's auto-merge keeps each one an element of its own.
const V4 = ['192.0.2.10', '192.0.2.20', '198.51.100.7', ATTACKER]
const V6 = ['2001:db8::10', '2001:db8::20']

// A server that answers the ways a list can be wrong (run inside the central namespace).
const FAKE_SERVER = `
const http = require('node:http')
http.createServer((req, res) => {
  const path = req.url.split('?')[0]
  if (path === '/option') return res.end('192.0.2.1\\n192.0.2.2 -exist\\n')
  if (path === '/shell') return res.end('192.0.2.1\\n$(touch /tmp/f2b-pwned)\\n')
  if (path === '/cut') { res.writeHead(200); res.write('192.0.2.1\\n192.0.2.'); return setTimeout(() => res.socket.destroy(), 50) }
  if (path === '/no-newline') return res.end('192.0.2.1\\n192.0.2.3')
  if (path === '/many') return res.end(Array.from({ length: 50 }, (_, i) => '198.18.0.' + (i * 2 + 1) + '\\n').join(''))
  res.writeHead(500)
  res.end('oops\\n')
}).listen(8701, '${CENTRAL}', () => console.log('ready'))
`

describe.runIf(AS_ROOT)('f2b-central-pull: serve in one namespace, real nft and ipset sets in another', () => {
  let dir: string
  let lan: Lan
  let central: CentralDb
  let serve: ServeProcess
  let tokenFile: string
  let reporter = 0
  const pull = (conf: string, ...args: string[]) => lan.exec('edge', ['sh', PULL, '--config', conf, ...args])
  const edge = (...argv: string[]) => lan.exec('edge', argv)

  function pullConfig(name: string, settings: Record<string, string>): string {
    const path = join(dir, `${name}.conf`)
    const lines = Object.entries({ URL: `http://${CENTRAL}:8700/v1/bans.txt`, TOKEN_FILE: tokenFile, STATE_DIR: join(dir, `state-${name}`), ...settings })
    writeFileSync(path, `# test pull config\n${lines.map(([k, v]) => `${k}=${v}`).join('\n')}\n`, { mode: 0o600 })
    return path
  }

  async function nftSet(set: 'v4' | 'v6'): Promise<string[]> {
    const r = await edge('nft', '-j', 'list', 'set', 'inet', 'f2b-pull', set)
    if (r.code !== 0) return []
    const doc = JSON.parse(r.stdout) as { nftables: { set?: { elem?: unknown[] } }[] }
    return (doc.nftables.find((o) => o.set)?.set?.elem ?? []).map((e) => (typeof e === 'string' ? e : JSON.stringify(e))).sort()
  }

  async function ipsetMembers(set: string): Promise<string[]> {
    const r = await edge('ipset', 'save', set)
    return r.stdout
      .split('\n')
      .filter((l) => l.startsWith(`add ${set} `))
      .map((l) => l.split(' ')[2]!)
      .sort()
  }

  const expectFailure = (r: ExecResult, message: RegExp) => {
    expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(1)
    expect(r.stderr).toMatch(message)
    expect(r.stderr).toMatch(/the current sets are untouched|is untouched/)
  }

  beforeAll(async () => {
    requirePrograms('ip', 'nft', 'ipset', 'curl', 'setpriv')
    await removeStaleNamespaces()
    dir = mkdtempSync(join(tmpdir(), 'f2b-pull-'))
    chmodSync(dir, 0o755)
    central = openSqlite(join(dir, 'central.sqlite'), { timeoutMs: 5000 })
    await migrateToLatest(central)
    const ids = await seedHosts(central, [{ name: 'web-1' }])
    reporter = ids['web-1']!
    for (const ip of [...V4, ...V6]) await seedBan(central, { ip, reporterId: reporter, created: -HOUR, expires: DAY })
    const config = writeServeConfig({ dir, dbUrl: `sqlite:${join(dir, 'central.sqlite')}`, serve: { listen: `${CENTRAL}:8700` } })
    tokenFile = join(dir, 'pull-token')
    writeFileSync(tokenFile, `${await addToken(join(dir, 'serve-tokens'), 'edge')}\n`, { mode: 0o600 })

    lan = await Lan.create({ bridgeAddresses: ['10.214.0.254/24'], members: { central: [`${CENTRAL}/24`], edge: [`${EDGE}/24`], att: [`${ATTACKER}/24`] } })
    serve = await attachServe(lan.spawn('central', [process.execPath, BIN.cli, 'serve', '--config', config]))
    const fake = lan.spawn('central', [process.execPath, '-e', FAKE_SERVER])
    await waitForOutput(fake, 'ready')
    const web = lan.spawn('edge', [process.execPath, NETNS_TOOL, 'serve', JSON.stringify({ name: 'edge', web: [`${EDGE}:8080`] })])
    await waitForOutput(web, 'ready')
  })
  afterAll(async () => {
    await serve?.stop('SIGKILL')
    await lan?.destroy()
    await central?.close()
    if (dir) rmSync(dir, { recursive: true, force: true })
  })

  it('nft: loads the list into table inet f2b-pull in one transaction, with drop rules; the banned address is dropped', async () => {
    const conf = pullConfig('nft', { BACKEND: 'nft' })
    const r = await pull(conf)
    expect(r, r.stderr).toMatchObject({ code: 0, stderr: '' })
    expect(r.stdout).toBe('f2b-central-pull: loaded 6 addresses (4 IPv4, 2 IPv6) into nft table inet f2b-pull (sets v4, v6)\n')
    expect(await nftSet('v4')).toEqual([...V4].sort())
    expect(await nftSet('v6')).toEqual([...V6].sort())
    const chain = await edge('nft', 'list', 'chain', 'inet', 'f2b-pull', 'input')
    expect(chain.stdout).toMatch(/ip saddr @v4 drop/)
    expect(chain.stdout).toMatch(/ip6 saddr @v6 drop/)
    const connect = async (member: string, src: string) =>
      JSON.parse((await lan.exec(member, [process.execPath, NETNS_TOOL, 'connect', src, '1500', `${EDGE}:8080`])).stdout)[0].result
    expect(await connect('att', ATTACKER)).toBe('timeout')
    expect(await connect('central', CENTRAL)).toBe('connected')
  })

  it('nft: an unchanged list is a 304 and loads nothing; a flushed set is loaded again from the last good list', async () => {
    const conf = pullConfig('nft', { BACKEND: 'nft' })
    expect(await pull(conf)).toMatchObject({ code: 0, stdout: '', stderr: '' })
    expect(serve.lines().filter((l) => l.msg === 'request' && l.status === 304)).toHaveLength(1)
    expect((await edge('nft', 'flush', 'set', 'inet', 'f2b-pull', 'v4')).code).toBe(0)
    const again = await pull(conf)
    expect(again.code, again.stderr).toBe(0)
    expect(again.stdout).toMatch(/not what the last list held .*\n.*reloaded 6 addresses/)
    expect(await nftSet('v4')).toEqual([...V4].sort())
  })

  it('nft: a new ban and an unban reach the set at the next pull, run with CAP_NET_ADMIN alone (as the unit runs it)', async () => {
    await seedBan(central, { ip: '203.0.113.99', reporterId: reporter, created: -5 })
    await central.db.updateTable('bans').set({ revoked_at: '2026-01-01 00:00:00.000', revoked_by: 'test' }).where('ip', '=', '192.0.2.20').execute()
    const conf = pullConfig('nft', { BACKEND: 'nft' })
    // f2b-central-pull.service: CapabilityBoundingSet=CAP_NET_ADMIN, NoNewPrivileges=yes
    const r = await edge('setpriv', '--no-new-privs', '--bounding-set=-all,+net_admin', '--inh-caps=-all', '--', 'sh', PULL, '--config', conf)
    expect(r.code, r.stderr).toBe(0)
    expect(await nftSet('v4')).toEqual(['192.0.2.10', '198.51.100.7', '203.0.113.99', ATTACKER].sort())
  })

  it('nft: every failure leaves the sets as they were and exits 1', async () => {
    const before = [await nftSet('v4'), await nftSet('v6')]
    const badToken = join(dir, 'bad-token')
    writeFileSync(badToken, 'f2bc_not-the-token\n', { mode: 0o600 })
    const fake = (path: string, extra: Record<string, string> = {}) =>
      pullConfig(`fake${path.replace('/', '-')}`, { BACKEND: 'nft', URL: `http://${CENTRAL}:8701${path}`, ...extra })
    expectFailure(await pull(pullConfig('nft-badtoken', { BACKEND: 'nft', TOKEN_FILE: badToken })), /answered HTTP 401 \(unauthorized\)/)
    expectFailure(await pull(fake('/option')), /line 2 is not an address or network: "192\.0\.2\.2 -exist"/)
    expectFailure(await pull(fake('/shell')), /line 2 is not an address or network: "\$\(touch \/tmp\/f2b-pwned\)"/)
    expectFailure(await pull(fake('/cut')), /curl exit 18/)
    expectFailure(await pull(fake('/no-newline')), /does not end with a line break/)
    expectFailure(await pull(fake('/many', { MAX_ENTRIES: '10' })), /has 50 addresses, more than MAX_ENTRIES=10/)
    expectFailure(await pull(fake('/other')), /answered HTTP 500 \(oops\)/)
    expect([await nftSet('v4'), await nftSet('v6')]).toEqual(before)
    expect((await edge('test', '-e', '/tmp/f2b-pwned')).code).toBe(1)
    // serve itself down: connection refused
    await serve.stop('SIGTERM')
    expectFailure(await pull(pullConfig('nft-down', { BACKEND: 'nft' })), /curl exit 7/)
    expect([await nftSet('v4'), await nftSet('v6')]).toEqual(before)
  })

  it('refuses a token file others may read, and a config it does not understand, with exit 2', async () => {
    const loose = join(dir, 'loose-token')
    writeFileSync(loose, 'f2bc_x\n', { mode: 0o644 })
    const r = await pull(pullConfig('loose', { TOKEN_FILE: loose }))
    expect(r.code).toBe(2)
    expect(r.stderr).toMatch(/accessible to other users; refusing to use it/)
    const typo = await pull(pullConfig('typo', { BAKEND: 'nft' }))
    expect(typo).toMatchObject({ code: 2, stderr: expect.stringMatching(/line \d+: unknown key BAKEND/) })
    const url = await pull(pullConfig('url', { URL: 'http://x/"; rm -rf /' }))
    expect(url).toMatchObject({ code: 2, stderr: expect.stringMatching(/URL holds characters a URL does not/) })
  })

  describe('ipset', () => {
    let conf: string
    beforeAll(async () => {
      // serve again (the nft test stopped it), on the same database
      await serve.stop('SIGKILL')
      const config = join(dir, 'serve.yml')
      serve = await attachServe(lan.spawn('central', [process.execPath, BIN.cli, 'serve', '--config', config]))
      conf = pullConfig('ipset', { BACKEND: 'ipset', SET: 'f2b-pull' })
    })

    it('loads new sets with ipset restore and swaps them in; none left over', async () => {
      const r = await pull(conf)
      expect(r, r.stderr).toMatchObject({ code: 0, stderr: '' })
      expect(r.stdout).toMatch(/^f2b-central-pull: loaded 6 addresses \(4 IPv4, 2 IPv6\) into ipset f2b-pull-v4, f2b-pull-v6\n$/)
      expect(await ipsetMembers('f2b-pull-v4')).toEqual(['192.0.2.10', '198.51.100.7', '203.0.113.99', ATTACKER].sort())
      expect(await ipsetMembers('f2b-pull-v6')).toEqual([...V6].sort())
      expect((await edge('ipset', 'list', '-n')).stdout.split('\n').filter(Boolean).sort()).toEqual(['f2b-pull-v4', 'f2b-pull-v6'])
      expect((await edge('ipset', 'list', '-t', 'f2b-pull-v4')).stdout).toMatch(/Type: hash:net/)
    })

    it('a flushed set is loaded again; a failing pull leaves the sets and no -new set', async () => {
      expect((await edge('ipset', 'flush', 'f2b-pull-v6')).code).toBe(0)
      const again = await pull(conf)
      expect(again.stdout).toMatch(/reloaded 6 addresses/)
      expect(await ipsetMembers('f2b-pull-v6')).toEqual([...V6].sort())
      const before = await ipsetMembers('f2b-pull-v4')
      expectFailure(await pull(pullConfig('ipset-bad', { BACKEND: 'ipset', URL: `http://${CENTRAL}:8701/option` })), /not an address or network/)
      expectFailure(await pull(pullConfig('ipset-cut', { BACKEND: 'ipset', URL: `http://${CENTRAL}:8701/cut` })), /curl exit 18/)
      expect(await ipsetMembers('f2b-pull-v4')).toEqual(before)
      expect((await edge('ipset', 'list', '-n')).stdout.split('\n').filter(Boolean).sort()).toEqual(['f2b-pull-v4', 'f2b-pull-v6'])
    })
  })
})
