// The HTTP service in-process on an SQLite file, for what needs limits lower than serve's own
// (a slow client cut off in a second, not ten) or a database in a given state; the built
// program against both dialects is test/serve.test.ts.
import { mkdtempSync, rmSync } from 'node:fs'
import { request } from 'node:http'
import { connect } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { parseListenAddress } from '../config/listen-address.js'
import type { CentralDb } from '../db/db-adapter.js'
import { migrateToLatest } from '../db/migrate.js'
import { openSqlite } from '../db/sqlite/sqlite-database.js'
import { startServe, type RunningServe, type ServeLog } from './serve-http.js'
import { addToken, TokenStore } from './tokens.js'

const dir = mkdtempSync(join(tmpdir(), 'f2b-serve-http-'))
const quiet: ServeLog = { info: () => {}, warn: () => {}, error: () => {} }

function get(url: string, token?: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { agent: false, headers: token ? { Authorization: `Bearer ${token}` } : {} }, (res) => {
      let body = ''
      res.on('data', (d: Buffer) => (body += d.toString()))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }))
    })
    req.on('error', reject)
    req.end()
  })
}

async function serveOn(central: CentralDb, name: string, limits = {}): Promise<{ server: RunningServe; token: string }> {
  const tokensFile = join(dir, `${name}-tokens`)
  const token = addToken(tokensFile, 'test')
  const tokens = new TokenStore(tokensFile, () => {})
  tokens.load()
  const server = await startServe({ central, listen: parseListenAddress('127.0.0.1:0'), tokens, open: [], staleAfterSeconds: 300, log: quiet, limits })
  return { server, token }
}

describe('serve over HTTP, in-process', () => {
  let migrated: CentralDb
  let empty: CentralDb
  beforeAll(async () => {
    migrated = openSqlite(join(dir, 'migrated.sqlite'), { timeoutMs: 2000 })
    await migrateToLatest(migrated)
    empty = openSqlite(join(dir, 'empty.sqlite'), { timeoutMs: 2000 })
  })
  afterAll(async () => {
    await migrated.close()
    await empty.close()
    rmSync(dir, { recursive: true, force: true })
  })

  it('cuts off a client whose headers never end (headersTimeout), and one that stops sending (idle)', async () => {
    const { server } = await serveOn(migrated, 'slow', { headersTimeoutMs: 500, requestTimeoutMs: 800, idleTimeoutMs: 1500 })
    const port = Number(new URL(server.url).port)
    const closedAfter = (first: string) =>
      new Promise<{ ms: number; reply: string }>((resolve) => {
        const started = Date.now()
        let reply = ''
        const socket = connect(port, '127.0.0.1', () => socket.write(first))
        socket.on('data', (d) => (reply += d.toString()))
        socket.on('error', () => {})
        socket.on('close', () => resolve({ ms: Date.now() - started, reply }))
      })
    const slowHeaders = await closedAfter('GET /v1/bans.txt HTTP/1.1\r\nHost: x\r\n')
    expect(slowHeaders.reply).toMatch(/^HTTP\/1\.1 408 /)
    expect(slowHeaders.ms).toBeLessThan(2500)
    const nothing = await closedAfter('')
    expect(nothing.ms).toBeLessThan(2500)
    await server.stop(1000)
  })

  it('/healthz is 503 on a database without the schema, and says so; the lists are 503, never a partial 200', async () => {
    const { server, token } = await serveOn(empty, 'empty')
    expect(await get(`${server.url}/healthz`, token)).toEqual({ status: 503, body: 'unhealthy: the database has no f2b-central schema\n' })
    expect(await get(`${server.url}/v1/bans.txt`, token)).toEqual({ status: 503, body: 'the database cannot be read\n' })
    // metrics still answer, saying the database is not readable
    const metrics = await get(`${server.url}/metrics`, token)
    expect(metrics.status).toBe(200)
    expect(metrics.body).toMatch(/^f2b_central_database_up 0$/m)
    await server.stop(1000)
  })

  it('stop lets a request in flight finish, then refuses new connections', async () => {
    const { server, token } = await serveOn(migrated, 'stop')
    const inFlight = get(`${server.url}/`, token)
    await new Promise((r) => setTimeout(r, 5))
    const stopped = server.stop(5000)
    expect((await inFlight).status).toBe(200)
    await stopped
    await expect(get(`${server.url}/healthz`, token)).rejects.toThrow(/ECONNREFUSED/)
  })
})
