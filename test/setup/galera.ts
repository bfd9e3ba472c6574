// A private 3-node MariaDB Galera cluster on loopback, for one test file (test/galera.test.ts),
// following ../shared/GALERA-NOTES.md: each node its own --defaults-file (so neither mariadbd
// nor the state-transfer script reads /etc/mysql/my.cnf), its own ports, rsync state
// transfers. It never touches the system's MariaDB on 127.0.0.1:3306.
//
// A node that rejoins after `kill -9` (the test's killed node) starts from its recovered
// position and gets an incremental transfer (IST) when the others' gcache still holds the gap.
import { execFile, spawn } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir, userInfo } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { createConnection, type Connection } from 'mysql2/promise'
import { findProgram, installCommand } from '../../scripts/test-machine.mjs'

const run = promisify(execFile)
export const GALERA_PROVIDER = '/usr/lib/galera/libgalera_smm.so'

/** What the cluster needs; empty when everything is there. */
export function missingGaleraPrograms(): string[] {
  return ['mariadbd', 'mariadb-install-db', 'mariadb', 'rsync', 'ss', GALERA_PROVIDER].filter((p) => !findProgram(p))
}

export function galeraInstallHint(missing: readonly string[]): string {
  return `${missing.join(', ')} not found (install with \`${installCommand([...missing])}\`)`
}

export interface GaleraNode {
  /** 1, 2 or 3. */
  readonly index: number
  readonly name: string
  /** SQL port on 127.0.0.1. */
  readonly port: number
  readonly dir: string
  readonly errorLog: string
}

export interface GaleraCluster {
  readonly dir: string
  readonly nodes: readonly GaleraNode[]
  /** The account every node has (TCP from 127.0.0.1, all privileges). */
  readonly user: string
  readonly password: string
  /** database.url for one node. */
  url(index: number, database: string): string
  connect(index: number, database?: string): Promise<Connection>
  /** The node's wsrep status (wsrep_local_state_comment, wsrep_cluster_size, …), lower-case names. */
  status(index: number): Promise<Record<string, string>>
  /** `kill -9` the node's mariadbd. */
  kill(index: number): void
  /** Start a killed node again from its recovered position; resolves once it is Synced. */
  rejoin(index: number): Promise<{ ms: number; transfer: 'IST' | 'SST' }>
  /** Stop every node that runs (TERM, then KILL after a while) and delete the files. */
  stop(): Promise<void>
}

const CLUSTER_NAME = 'f2b_test_galera'

interface Ports {
  sql: number
  gcomm: number
  ist: number
  sst: number
}

/** Ports of node i (1-based) from a base: SQL base+i (3311…), gcomm 4567+10(i-1), IST +1, rsync 4444+10(i-1), all shifted by `shift`. */
function portsOf(i: number, shift: number): Ports {
  const o = (i - 1) * 10
  return { sql: 3310 + i + shift, gcomm: 4567 + o + shift, ist: 4568 + o + shift, sst: 4444 + o + shift }
}

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer()
    server.once('error', () => resolve(false))
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)))
  })
}

/** The recipe's ports, or the same layout shifted by 100s when something holds one of them. */
async function freeShift(): Promise<number> {
  for (let shift = 0; shift < 2000; shift += 100) {
    const all = [1, 2, 3].flatMap((i) => Object.values(portsOf(i, shift)))
    if ((await Promise.all(all.map(portFree))).every(Boolean)) return shift
  }
  throw new Error('no free block of ports for a Galera cluster on 127.0.0.1')
}

function defaultsFile(node: GaleraNode, ports: Ports, all: readonly Ports[], user: string): string {
  return `[mysqld]
user=${user}
datadir=${join(node.dir, 'data')}
socket=${join(node.dir, 'mysqld.sock')}
pid-file=${join(node.dir, 'mysqld.pid')}
log-error=${node.errorLog}
port=${ports.sql}
bind-address=127.0.0.1
skip-name-resolve
binlog_format=ROW
default_storage_engine=InnoDB
innodb_autoinc_lock_mode=2
innodb_buffer_pool_size=64M
innodb_log_file_size=8M
performance_schema=OFF
wsrep_on=ON
wsrep_provider=${GALERA_PROVIDER}
wsrep_cluster_name=${CLUSTER_NAME}
wsrep_cluster_address=gcomm://${all.map((p) => `127.0.0.1:${p.gcomm}`).join(',')}
wsrep_node_name=${node.name}
wsrep_node_address=127.0.0.1
wsrep_provider_options="gmcast.listen_addr=tcp://127.0.0.1:${ports.gcomm}; ist.recv_addr=127.0.0.1:${ports.ist}; gcache.size=32M; evs.keepalive_period=PT0.5S; evs.suspect_timeout=PT1.5S; evs.inactive_timeout=PT3S"
wsrep_sst_method=rsync
wsrep_sst_receive_address=127.0.0.1:${ports.sst}
[client]
socket=${join(node.dir, 'mysqld.sock')}
user=root
`
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** Start a 3-node cluster; throws (after cleaning up) when it is not Primary with 3 Synced nodes within `timeoutMs`. */
export async function startGaleraCluster(options: { timeoutMs?: number } = {}): Promise<GaleraCluster> {
  const timeoutMs = options.timeoutMs ?? 90_000
  const deadline = Date.now() + timeoutMs
  const mariadbd = findProgram('mariadbd')!
  const installDb = findProgram('mariadb-install-db')!
  const client = findProgram('mariadb')!
  const isRoot = process.getuid?.() === 0
  const osUser = isRoot ? 'mysql' : userInfo().username
  const dir = mkdtempSync(join(tmpdir(), 'f2b-galera-'))
  const shift = await freeShift()
  const ports = [1, 2, 3].map((i) => portsOf(i, shift))
  const nodes: GaleraNode[] = [1, 2, 3].map((i) => ({ index: i, name: `n${i}`, port: ports[i - 1]!.sql, dir: join(dir, `n${i}`), errorLog: join(dir, `n${i}`, 'error.log') }))
  for (const n of nodes) {
    mkdirSync(n.dir)
    writeFileSync(join(n.dir, 'my.cnf'), defaultsFile(n, ports[n.index - 1]!, ports, osUser))
  }
  const cnf = (i: number) => join(nodes[i - 1]!.dir, 'my.cnf')
  const pidFile = (i: number) => join(nodes[i - 1]!.dir, 'mysqld.pid')
  const user = 'f2b_galera'
  const password = 'galera-test-password'
  const chown = async () => {
    if (isRoot) await run('chown', ['-R', 'mysql:mysql', dir])
  }
  const start = (i: number, args: string[] = []) => {
    const child = spawn(mariadbd, [`--defaults-file=${cnf(i)}`, ...args], { detached: true, stdio: 'ignore' })
    child.unref()
  }
  const sql = async (i: number, statement: string): Promise<string> => (await run(client, [`--defaults-file=${cnf(i)}`, '-Nse', statement], { timeout: 10_000 })).stdout
  const status = async (i: number): Promise<Record<string, string>> => {
    const c = await connect(i)
    try {
      const [rows] = await c.query("SHOW GLOBAL STATUS LIKE 'wsrep%'")
      return Object.fromEntries((rows as { Variable_name: string; Value: string }[]).map((r) => [r.Variable_name.toLowerCase(), r.Value]))
    } finally {
      await c.end()
    }
  }
  const connect = (i: number, database?: string) =>
    createConnection({ host: '127.0.0.1', port: nodes[i - 1]!.port, user, password, database, connectTimeout: 3000, dateStrings: true, timezone: 'Z' })
  const synced = async (i: number, through: 'socket' | 'tcp'): Promise<boolean> => {
    try {
      if (through === 'socket') return (await sql(i, "SHOW STATUS LIKE 'wsrep_local_state_comment'")).includes('Synced')
      const s = await status(i)
      return s.wsrep_local_state_comment === 'Synced' && s.wsrep_cluster_status === 'Primary'
    } catch {
      return false
    }
  }
  const waitFor = async (what: string, check: () => Promise<boolean>, until = deadline) => {
    while (!(await check())) {
      if (Date.now() > until) throw new Error(`Galera cluster: ${what} timed out (logs in ${dir})`)
      await sleep(100)
    }
  }
  const running = (i: number): number | undefined => {
    try {
      const pid = Number(readFileSync(pidFile(i), 'utf8').trim())
      process.kill(pid, 0)
      return pid
    } catch {
      return undefined
    }
  }
  const stopNode = async (i: number) => {
    const pid = running(i)
    if (pid === undefined) return
    process.kill(pid, 'SIGTERM')
    const until = Date.now() + 20_000
    while (running(i) !== undefined && Date.now() < until) await sleep(100)
    if (running(i) !== undefined) process.kill(pid, 'SIGKILL')
    while (running(i) !== undefined) await sleep(50)
  }
  // Should the test process end without afterAll (killed, crashed), take the nodes with it.
  const killAll = () => {
    for (const i of [1, 2, 3]) {
      const pid = running(i)
      if (pid !== undefined) process.kill(pid, 'SIGKILL')
    }
    rmSync(dir, { recursive: true, force: true })
  }
  process.once('exit', killAll)
  const stop = async () => {
    process.removeListener('exit', killAll)
    for (const i of [3, 2, 1]) await stopNode(i).catch(() => undefined)
    rmSync(dir, { recursive: true, force: true })
  }

  try {
    // Node 1: a new datadir, bootstrapped alone; nodes 2 and 3 start empty and get node 1's
    // files by rsync state transfer, one after the other (node 1 is the only donor).
    await chown()
    await run(
      installDb,
      ['--no-defaults', `--datadir=${join(nodes[0]!.dir, 'data')}`, `--user=${osUser}`, '--skip-test-db', '--auth-root-authentication-method=normal', '--innodb-log-file-size=8M'],
      { timeout: 60_000 },
    )
    await chown()
    start(1, ['--wsrep-new-cluster'])
    await waitFor('node 1 bootstrap', () => synced(1, 'socket'))
    await sql(1, `CREATE USER '${user}'@'127.0.0.1' IDENTIFIED BY '${password}'; GRANT ALL ON *.* TO '${user}'@'127.0.0.1' WITH GRANT OPTION`)
    for (const i of [2, 3]) {
      mkdirSync(join(nodes[i - 1]!.dir, 'data'))
      await chown()
      start(i)
      await waitFor(`node ${i} join`, () => synced(i, 'tcp'))
    }
    await waitFor('a Primary component of 3', async () => (await status(1)).wsrep_cluster_size === '3')
  } catch (err) {
    const logs = nodes.map((n) => (existsSync(n.errorLog) ? `--- ${n.name}:\n${readFileSync(n.errorLog, 'utf8').split('\n').slice(-15).join('\n')}` : '')).join('\n')
    await stop()
    throw new Error(`${(err as Error).message}\n${logs}`, { cause: err })
  }

  return {
    dir,
    nodes,
    user,
    password,
    url: (i, database) => `mysql://${user}:${password}@127.0.0.1:${nodes[i - 1]!.port}/${database}`,
    connect,
    status,
    kill(i) {
      const pid = running(i)
      if (pid !== undefined) process.kill(pid, 'SIGKILL')
    },
    async rejoin(i) {
      const started = Date.now()
      while (running(i) !== undefined) await sleep(50)
      const log = nodes[i - 1]!.errorLog
      const before = existsSync(log) ? readFileSync(log, 'utf8').length : 0
      // The position its InnoDB holds, then a start from it: an incremental transfer when the others' gcache still has the gap.
      await run(mariadbd, [`--defaults-file=${cnf(i)}`, '--wsrep-recover'], { timeout: 60_000 })
      const recovered = readFileSync(log, 'utf8')
        .slice(before)
        .match(/Recovered position: *(\S+)/)
      if (!recovered) throw new Error(`node ${i}: --wsrep-recover logged no position (see ${log})`)
      start(i, [`--wsrep-start-position=${recovered[1]}`])
      await waitFor(`node ${i} rejoin`, () => synced(i, 'tcp'), Date.now() + 90_000)
      // The state-transfer script says which it did: "rsync IST completed on joiner" (or SST).
      const kind = /\b(IST|SST) completed on joiner/.exec(readFileSync(log, 'utf8').slice(before))?.[1]
      return { ms: Date.now() - started, transfer: kind === 'IST' ? 'IST' : 'SST' }
    },
    stop,
  }
}

/**
 * Make the other nodes lag: commit one large transaction on node `on` (an UPDATE of every row
 * of a table of `rows` rows, created on first use), which the other nodes then spend a while
 * applying; transactions certified after it are applied after it. Resolves once it is
 * committed on `on`.
 */
export async function commitLargeTransaction(cluster: GaleraCluster, on: number, rows = 200_000): Promise<void> {
  const c = await cluster.connect(on)
  try {
    await c.query('CREATE DATABASE IF NOT EXISTS galera_lag')
    await c.query('CREATE TABLE IF NOT EXISTS galera_lag.big (id INT PRIMARY KEY, v INT NOT NULL) ENGINE=InnoDB')
    const [[count]] = (await c.query('SELECT COUNT(*) AS n FROM galera_lag.big')) as unknown as [[{ n: number }]]
    if (Number(count.n) < rows) await c.query(`INSERT IGNORE INTO galera_lag.big SELECT seq, 0 FROM galera_lag.seq_1_to_${rows}`)
    await c.query('UPDATE galera_lag.big SET v = v + 1')
  } finally {
    await c.end()
  }
}
