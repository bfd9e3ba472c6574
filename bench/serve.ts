// Figure 6: `f2b-central serve` (the built program) with 100,000 active bans: a changed list
// (read from the database, one pull at a time), then full downloads of the unchanged list
// (from its rendering on disk), the same answered 304 (If-None-Match), and /metrics, each by
// a fixed number of concurrent keep-alive clients for a fixed time, on loopback. Requests per second,
// latency, and serve's resident memory (sampled from /proc while each phase runs, and its
// high-water mark, VmHWM). The clients run in this process, on the same CPUs as serve and
// the database: what a small central box does.
import { spawn } from 'node:child_process'
import { readFileSync, writeFileSync } from 'node:fs'
import { Agent, request } from 'node:http'
import { join } from 'node:path'
import type { CentralDb } from '@f2b-central/core/db/db-adapter'
import { BIN } from '../test/setup/programs.js'
import { openTracked, type BenchDb } from './central.js'
import { checkInterrupted, defer, median, percentile, progress, round } from './util.js'

export interface ServeBenchOptions {
  bans: number
  hosts: number
  /** Clients pulling the list at once. */
  concurrency: number
  /** Clients scraping /metrics at once (Prometheus servers). */
  scrapers: number
  seconds: number
}

interface Phase {
  requests: number
  perSecond: number
  p50Ms: number
  p99Ms: number
  errors: number
  /** Response bytes per request (the last one). */
  bytes: number
  /** Highest resident set size of serve seen while the phase ran, MB. */
  peakRssMb: number
}

export async function serveBench(db: BenchDb, dir: string, o: ServeBenchOptions) {
  progress(`figure 6: loading ${o.bans.toLocaleString('en')} active bans from ${o.hosts} hosts`)
  const central = await openTracked(db)
  const loadStarted = performance.now()
  await load(central, o.bans, o.hosts)
  const loadMs = performance.now() - loadStarted
  await central.close()

  const tokens = join(dir, 'serve-bench-tokens')
  const add = spawn(process.execPath, [BIN.cli, 'tokens', 'add', 'bench', '--file', tokens], { stdio: ['ignore', 'pipe', 'ignore'] })
  let token = ''
  add.stdout.on('data', (d: Buffer) => (token += d.toString()))
  await new Promise((r) => add.on('close', r))
  token = token.trim()
  const config = join(dir, 'serve-bench.yml')
  writeFileSync(config, `database:\n  url: ${db.url}\nserve:\n  listen: 127.0.0.1:0\n  tokensFile: ${tokens}\n`, { mode: 0o600 })
  // Its request log goes nowhere: a journal would take it, a pipe read here would cost this process.
  const child = spawn(process.execPath, [BIN.cli, 'serve', '--config', config], { stdio: ['ignore', 'pipe', 'inherit'] })
  defer('stop serve', () => void child.kill('SIGKILL'))
  const url = await new Promise<string>((resolve, reject) => {
    let out = ''
    const onData = (d: Buffer) => {
      out += d.toString()
      const m = /"url":"([^"]+)","tls"/.exec(out)
      if (m) {
        child.stdout.off('data', onData)
        child.stdout.resume()
        resolve(m[1]!)
      }
    }
    child.stdout.on('data', onData)
    child.on('exit', (code) => reject(new Error(`serve exited (${code}): ${out}`)))
  })
  const pid = child.pid!
  const rssMb = (field: 'VmRSS' | 'VmHWM') => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? NaN) / 1024
  const idleRssMb = rssMb('VmRSS')

  const agent = new Agent({ keepAlive: true, maxSockets: o.concurrency })
  const auth = { Authorization: `Bearer ${token}` }
  const get = (path: string, headers: Record<string, string>, countLines = false) =>
    new Promise<{ status: number; bytes: number; lines: number; etag: string | undefined }>((resolve, reject) => {
      const req = request(`${url}${path}`, { agent, headers }, (res) => {
        let bytes = 0
        let lines = 0
        res.on('data', (d: Buffer) => {
          bytes += d.length
          if (countLines) for (let i = d.indexOf(10); i >= 0; i = d.indexOf(10, i + 1)) lines++
        })
        res.on('end', () => resolve({ status: res.statusCode ?? 0, bytes, lines, etag: res.headers.etag }))
        res.on('error', reject)
      })
      req.on('error', reject)
      req.end()
    })

  const first = await get('/v1/bans.txt', auth, true)
  const lines = first.lines
  if (first.status !== 200 || !first.etag) throw new Error(`GET /v1/bans.txt answered ${first.status}`)

  async function phase(name: string, path: string, headers: Record<string, string>, expected: number, clients: number): Promise<Phase> {
    progress(`figure 6: ${name}, ${clients} clients for ${o.seconds} s`)
    checkInterrupted()
    const latencies: number[] = []
    let errors = 0
    let bytes = 0
    let peak = 0
    const sampler = setInterval(() => (peak = Math.max(peak, rssMb('VmRSS'))), 50)
    const started = performance.now()
    const until = started + o.seconds * 1000
    await Promise.all(
      Array.from({ length: clients }, async () => {
        while (performance.now() < until) {
          const t = performance.now()
          try {
            const r = await get(path, headers)
            if (r.status !== expected) errors++
            bytes = r.bytes
          } catch {
            errors++
          }
          latencies.push(performance.now() - t)
        }
      }),
    )
    const seconds = (performance.now() - started) / 1000
    clearInterval(sampler)
    peak = Math.max(peak, rssMb('VmRSS'))
    return {
      requests: latencies.length,
      perSecond: round(latencies.length / seconds, 1),
      p50Ms: round(median(latencies), 1),
      p99Ms: round(percentile(latencies, 99), 1),
      errors,
      bytes,
      peakRssMb: round(peak, 1),
    }
  }

  // A changed list: one ban more before each pull, so each is rendered from the database.
  progress('figure 6: a changed list, 5 pulls one after the other')
  const writer = await openTracked(db)
  const cold: number[] = []
  for (let i = 0; i < 5; i++) {
    await writer.db
      .insertInto('bans')
      .values({ ip: `172.31.0.${i + 1}`, jail: 'sshd', protocol: 'tcp', port: 'ssh', reporter_id: 1, bantime: 3600, expires_at: writer.adapter.nowPlusSeconds(3600) })
      .execute()
    const t = performance.now()
    const r = await get('/v1/bans.txt', auth)
    if (r.status !== 200) throw new Error(`GET /v1/bans.txt answered ${r.status}`)
    cold.push(performance.now() - t)
  }
  await writer.close()
  const render = { p50Ms: round(median(cold), 0), maxMs: round(Math.max(...cold), 0), peakRssMb: round(rssMb('VmHWM'), 1) }
  const etag = (await get('/v1/bans.txt', auth)).etag!
  const list = await phase('unchanged /v1/bans.txt, full download', '/v1/bans.txt', auth, 200, o.concurrency)
  const notModified = await phase('/v1/bans.txt answered 304', '/v1/bans.txt', { ...auth, 'If-None-Match': etag }, 304, o.concurrency)
  const metrics = await phase('/metrics', '/metrics', auth, 200, o.scrapers)
  // What one read of the fleet costs the database (the scrapes within 10 s of it reuse it).
  const metricsText = await new Promise<string>((resolve, reject) => {
    request(`${url}/metrics`, { agent, headers: auth }, (res) => {
      let text = ''
      res.on('data', (d: Buffer) => (text += d.toString()))
      res.on('end', () => resolve(text))
    })
      .on('error', reject)
      .end()
  })
  const fleetReadMs = round(Number(/^f2b_central_fleet_read_seconds (\S+)$/m.exec(metricsText)?.[1] ?? NaN) * 1000, 0)
  const hwm = rssMb('VmHWM')
  agent.destroy()
  child.kill('SIGTERM')
  await new Promise((r) => child.on('close', r))
  return {
    bans: o.bans,
    hosts: o.hosts,
    listLines: lines,
    listBytes: list.bytes,
    concurrency: o.concurrency,
    scrapers: o.scrapers,
    seconds: o.seconds,
    render,
    fleetReadMs,
    loadMs: round(loadMs, 0),
    idleRssMb: round(idleRssMb, 1),
    peakRssMb: round(hwm, 1),
    list,
    notModified,
    metrics,
    addressesPerSecond: Math.round(list.perSecond * lines),
    renderAddressesPerSecond: Math.round((lines / render.p50Ms) * 1000),
  }
}

/** Active bans from `hosts` reporters over the last week (a 30-day ban time), all stamped, every host's cursor at the top; the hosts' addresses registered, one allowlisted network. */
async function load(central: CentralDb, n: number, hosts: number): Promise<void> {
  const { db, adapter } = central
  await db
    .insertInto('hosts')
    .values(Array.from({ length: hosts }, (_, i) => ({ name: `host-${String(i + 1).padStart(3, '0')}` })))
    .execute()
  const ids = (await db.selectFrom('hosts').select('id').orderBy('id').execute()).map((r) => Number(r.id))
  // Every host's own address (never exported, as readdb registers them) and an office network.
  await db
    .insertInto('host_addresses')
    .values(ids.map((id, i) => ({ host_id: id, address: `192.168.${i >> 8}.${(i & 255) + 1}` })))
    .execute()
  await db.insertInto('allowlist').values({ network: '198.51.100.0/24', added_by: 'bench', reason: 'office' }).execute()
  const jails = ['sshd', 'sshd', 'sshd', 'nginx-http-auth', 'postfix-sasl', 'recidive']
  const chunk = 5000
  for (let start = 0; start < n; start += chunk) {
    const rows = Array.from({ length: Math.min(chunk, n - start) }, (_, k) => {
      const i = start + k
      const ago = Math.floor((i / n) * 7 * 86400)
      return {
        ip: i % 10 === 9 ? `2001:db8:${(i >> 16).toString(16)}:${(i & 0xffff).toString(16)}::1` : `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`,
        jail: jails[i % jails.length]!,
        protocol: 'tcp',
        port: 'ssh',
        reporter_id: ids[i % ids.length]!,
        bantime: 30 * 86400,
        created_at: adapter.nowPlusSeconds(-ago),
        expires_at: adapter.nowPlusSeconds(30 * 86400 - ago),
      }
    })
    await db.insertInto('bans').values(rows).execute()
  }
  const top = Number(
    (
      await db
        .selectFrom('bans')
        .select((e) => e.fn.max('id').as('m'))
        .executeTakeFirstOrThrow()
    ).m,
  )
  await db
    .updateTable('bans')
    .set((eb) => ({ seq: eb.ref('id') }))
    .execute()
  await db.updateTable('ban_sequence').set({ value: top }).where('id', '=', 1).execute()
  await db.updateTable('hosts').set({ cursor_seq: top }).execute()
}
