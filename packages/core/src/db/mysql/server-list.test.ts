// The server list's choices, with stand-in pools (test/galera.test.ts runs it against a real
// cluster): the order of the list, passing over a failed server, Galera nodes that cannot
// serve or are not Synced, a query's server failure, and one error naming every server.
import type { Pool, PoolConnection } from 'mysql2'
import { describe, expect, it } from 'vitest'
import type { MysqlServer } from '../../config/database-url.js'
import { mysqlErrors } from './mysql-errors.js'
import { ServerList } from './server-list.js'

type Behaviour = { kind: 'down'; code?: string } | { kind: 'plain' } | { kind: 'galera'; ready: boolean; state: string }

interface Fake {
  behaviour: Behaviour
  connects: number
  destroyed: number
  released: number
  statements: string[]
  /** The next query on one of its connections fails with this. */
  failNext?: Error & { errno?: number; code?: string }
}

const servers: MysqlServer[] = [1, 2, 3].map((i) => ({ host: `db${i}`, port: 3306 }))

function fakePools(...behaviours: Behaviour[]): { fakes: Fake[]; open: (server: MysqlServer) => Pool } {
  const fakes: Fake[] = behaviours.map((behaviour) => ({ behaviour, connects: 0, destroyed: 0, released: 0, statements: [] }))
  const open = (server: MysqlServer): Pool => {
    const fake = fakes[servers.findIndex((s) => s.host === server.host)]!
    const conn = {
      query(sql: string, params: unknown, cb?: (err: unknown, rows?: unknown) => void) {
        const done = (typeof params === 'function' ? params : cb) as (err: unknown, rows?: unknown) => void
        fake.statements.push(sql)
        if (fake.failNext) {
          const err = fake.failNext
          fake.failNext = undefined
          return queueMicrotask(() => done(err))
        }
        if (sql.startsWith('SHOW GLOBAL STATUS')) {
          const b = fake.behaviour
          const rows =
            b.kind === 'galera'
              ? [
                  { Variable_name: 'wsrep_provider_name', Value: 'Galera' },
                  { Variable_name: 'wsrep_ready', Value: b.ready ? 'ON' : 'OFF' },
                  { Variable_name: 'wsrep_local_state_comment', Value: b.state },
                  { Variable_name: 'wsrep_cluster_size', Value: '3' },
                ]
              : []
          return queueMicrotask(() => done(null, rows))
        }
        queueMicrotask(() => done(null, []))
      },
      release: () => void fake.released++,
      destroy: () => void fake.destroyed++,
    }
    return {
      getConnection(cb: (err: unknown, conn: PoolConnection) => void) {
        fake.connects++
        const b = fake.behaviour
        if (b.kind === 'down') {
          const err = Object.assign(new Error(`connect ${b.code ?? 'ECONNREFUSED'} ${server.host}:3306`), { code: b.code ?? 'ECONNREFUSED' })
          return queueMicrotask(() => cb(err, undefined as never))
        }
        queueMicrotask(() => cb(null, conn as unknown as PoolConnection))
      },
      end: (cb: (err: unknown) => void) => cb(null),
    } as unknown as Pool
  }
  return { fakes, open }
}

const acquire = (list: ServerList) =>
  new Promise<{ query(sql: string, params: unknown[], cb: (err: unknown) => void): void; release(): void }>((resolve, reject) =>
    list.getConnection((err, conn) => (err ? reject(err) : resolve(conn as never))),
  )
const query = (conn: Awaited<ReturnType<typeof acquire>>, sql: string) => new Promise<unknown>((resolve) => conn.query(sql, [], (err) => resolve(err)))

describe('ServerList', () => {
  it('uses the first server that answers and names it, with the servers passed over before it', async () => {
    const { fakes, open } = fakePools({ kind: 'down' }, { kind: 'plain' }, { kind: 'plain' })
    const list = new ServerList(servers, open)
    ;(await acquire(list)).release()
    expect(list.inUse()).toEqual({ server: 'db2:3306', position: 2, of: 3, galera: undefined, skipped: [{ server: 'db1:3306', reason: 'connect ECONNREFUSED db1:3306' }] })
    // The failed server is passed over for a while: the next connection goes straight to db2.
    ;(await acquire(list)).release()
    expect(fakes.map((f) => f.connects)).toEqual([1, 2, 0])
    // No Galera: no causal-read setting.
    expect(fakes[1]!.statements.filter((s) => s.includes('wsrep_sync_wait'))).toEqual([])
  })

  it('tries a failed server first again once its pause is over', async () => {
    const { fakes, open } = fakePools({ kind: 'down' }, { kind: 'plain' })
    const list = new ServerList(servers.slice(0, 2), open, { skipMs: 0 })
    ;(await acquire(list)).release()
    fakes[0]!.behaviour = { kind: 'plain' }
    ;(await acquire(list)).release()
    expect(list.inUse()).toMatchObject({ server: 'db1:3306', position: 1, skipped: [] })
  })

  it('passes over a Galera node that cannot serve (it would answer 1047), and reads causally on one that can', async () => {
    const { fakes, open } = fakePools({ kind: 'galera', ready: false, state: 'Initialized' }, { kind: 'galera', ready: true, state: 'Synced' }, { kind: 'plain' })
    const list = new ServerList(servers, open)
    ;(await acquire(list)).release()
    expect(list.inUse()).toMatchObject({ server: 'db2:3306', galera: { state: 'Synced', clusterSize: 3 } })
    expect(list.inUse()?.skipped[0]?.reason).toMatch(/^Galera node not ready \(Initialized, wsrep_ready OFF\)/)
    expect(fakes[0]!.destroyed).toBe(1)
    expect(fakes[1]!.statements).toContain('SET SESSION wsrep_sync_wait = 1')
  })

  it('uses a Galera node that is not Synced (a donor) only when no Synced server answers', async () => {
    const { open } = fakePools({ kind: 'galera', ready: true, state: 'Donor/Desynced' }, { kind: 'galera', ready: true, state: 'Synced' }, { kind: 'down' })
    const list = new ServerList(servers, open)
    ;(await acquire(list)).release()
    expect(list.inUse()).toMatchObject({ server: 'db2:3306', skipped: [{ server: 'db1:3306', reason: 'Galera node Donor/Desynced, not Synced' }] })
    const { open: alone } = fakePools({ kind: 'galera', ready: true, state: 'Donor/Desynced' }, { kind: 'down' }, { kind: 'down' })
    const only = new ServerList(servers, alone)
    ;(await acquire(only)).release()
    expect(only.inUse()).toMatchObject({ server: 'db1:3306', galera: { state: 'Donor/Desynced' } })
  })

  it('a query that fails because its server failed moves the next connection on, and its connection is destroyed, not pooled', async () => {
    const { fakes, open } = fakePools({ kind: 'plain' }, { kind: 'plain' }, { kind: 'plain' })
    const list = new ServerList(servers, open)
    const conn = await acquire(list)
    fakes[0]!.failNext = Object.assign(new Error('WSREP has not yet prepared node for application use'), { errno: 1047, code: 'ER_UNKNOWN_COM_ERROR' })
    const err = await query(conn, 'SELECT 1')
    expect(mysqlErrors.isRetryable(err)).toBe(true)
    conn.release()
    expect([fakes[0]!.destroyed, fakes[0]!.released]).toEqual([1, 0])
    ;(await acquire(list)).release()
    expect(list.inUse()).toMatchObject({ server: 'db2:3306', skipped: [{ server: 'db1:3306' }] })
    // Any other error leaves the connection and the server as they are.
    const again = await acquire(list)
    fakes[1]!.failNext = Object.assign(new Error('Duplicate entry'), { errno: 1062, code: 'ER_DUP_ENTRY' })
    await query(again, 'INSERT …')
    again.release()
    expect([fakes[1]!.destroyed, list.inUse()?.server]).toEqual([0, 'db2:3306'])
  })

  it('when no server answers: one error naming each, which a retry does not run again; one server: its own error', async () => {
    const { open } = fakePools({ kind: 'down' }, { kind: 'down', code: 'ETIMEDOUT' }, { kind: 'galera', ready: false, state: 'Joining' })
    const err = (await acquire(new ServerList(servers, open)).catch((e: unknown) => e)) as Error & { code?: string }
    expect(err.message).toMatch(/^no server of 3 answered: db1:3306: connect ECONNREFUSED db1:3306; db2:3306: connect ETIMEDOUT db2:3306; db3:3306: Galera node not ready/)
    expect(mysqlErrors.isDriverError(err)).toBe(true)
    expect(mysqlErrors.isRetryable(err)).toBe(false)
    const { open: one } = fakePools({ kind: 'down' })
    const single = (await acquire(new ServerList(servers.slice(0, 1), one)).catch((e: unknown) => e)) as Error & { code?: string }
    expect([single.message, single.code, mysqlErrors.isRetryable(single)]).toEqual(['connect ECONNREFUSED db1:3306', 'ECONNREFUSED', false])
  })
})
