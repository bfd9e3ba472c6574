// A private network for tests: network namespaces joined by veth pairs to a bridge in a
// "switch" namespace, so fail2ban servers can run real firewall ban actions (nftables) and
// the test can check with real TCP connections who is let in.
//
// - Nothing here touches the root namespace's interfaces, routes or firewall: the bridge and
//   both ends of every veth pair are created inside the test's namespaces (`ip -n SW link add
//   vX type veth peer name eth0 netns X`), and all traffic stays between them.
// - Names are `f2be2e-<pid>-<member>` (pid of the test process), so parallel runs do not
//   collide.  removeStaleNamespaces() deletes namespaces of that pattern whose owning process
//   is gone (a crashed or killed earlier run), and only those.
// - A unix socket is reached by its path in the filesystem, which is the same in every
//   network namespace: fail2ban-client outside talks to a fail2ban-server inside, and
//   processes inside reach a service outside through a socket file (see startUnixForwarder).
// - IPv6 addresses are added with `nodad`: duplicate address detection would keep them
//   unusable for a second or two.

import { execFile, execFileSync, spawn, type ChildProcess, type SpawnOptions } from 'node:child_process'
import { rmSync } from 'node:fs'
import { connect, createServer, type Server, type Socket } from 'node:net'
import { fileURLToPath } from 'node:url'

export const NETNS_PREFIX = 'f2be2e'
/** The in-namespace helper programs (serve, connect, relay). */
export const NETNS_TOOL = fileURLToPath(new URL('./netns-tool.mjs', import.meta.url))

const IP = 'ip'

export type NetnsSupport = { ok: true } | { ok: false; reason: string }

function firstLine(error: unknown): string {
  const e = error as { stderr?: Buffer | string; message?: string; code?: string }
  const text = (e.stderr?.toString() || e.message || String(error)).trim()
  return (e.code === 'ENOENT' ? `command not found (${text})` : text).split('\n')[0] ?? ''
}

/**
 * Can this machine give the test network namespaces with veth pairs, a bridge and nftables?
 * Synchronous (it decides, at collection time, which variant of a test file runs); tries
 * everything on a throw-away namespace, then removes it.
 */
export function netnsSupport(): NetnsSupport {
  const name = `${NETNS_PREFIX}-${process.pid}-probe`
  const step = (what: string, args: string[]): string | undefined => {
    try {
      execFileSync(args[0]!, args.slice(1), { stdio: ['ignore', 'ignore', 'pipe'], timeout: 10_000 })
      return undefined
    } catch (error) {
      return `${what} failed: ${firstLine(error)}`
    }
  }
  const added = step('`ip netns add`', [IP, 'netns', 'add', name])
  if (added) return { ok: false, reason: added }
  try {
    const failed =
      step('creating a veth pair in a namespace', [IP, '-n', name, 'link', 'add', 'p0', 'type', 'veth', 'peer', 'name', 'p1']) ??
      step('creating a bridge in a namespace', [IP, '-n', name, 'link', 'add', 'br0', 'type', 'bridge']) ??
      step('`nft` inside a namespace', [IP, 'netns', 'exec', name, 'nft', 'add', 'table', 'inet', 'probe'])
    return failed ? { ok: false, reason: failed } : { ok: true }
  } finally {
    step('`ip netns del`', [IP, 'netns', 'del', name])
  }
}

export interface ExecResult {
  code: number
  stdout: string
  stderr: string
}

/** Runs a command; never rejects (code -1 when it could not run or timed out). */
export function execCommand(argv: readonly string[], timeoutMs = 30_000): Promise<ExecResult> {
  return new Promise((resolve) => {
    execFile(argv[0]!, argv.slice(1), { timeout: timeoutMs, killSignal: 'SIGKILL', encoding: 'utf8', maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : -1) : 0
      resolve({ code, stdout, stderr: error && code === -1 ? `${stderr}${error.message}` : stderr })
    })
  })
}

async function ip(...args: string[]): Promise<void> {
  const r = await execCommand([IP, ...args])
  if (r.code !== 0) throw new Error(`ip ${args.join(' ')} failed (${r.code}): ${r.stderr.trim()}`)
}

async function listNamespaces(): Promise<string[]> {
  const r = await execCommand([IP, 'netns', 'list'])
  return r.stdout
    .split('\n')
    .map((l) => l.trim().split(/\s+/)[0] ?? '')
    .filter(Boolean)
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/** Kills every process in a namespace (SIGKILL) and deletes it. */
async function deleteNamespace(name: string): Promise<void> {
  const pids = await execCommand([IP, 'netns', 'pids', name])
  for (const pid of pids.stdout.split(/\s+/).filter(Boolean).map(Number)) {
    try {
      process.kill(pid, 'SIGKILL')
    } catch {
      // already gone
    }
  }
  const r = await execCommand([IP, 'netns', 'del', name])
  if (r.code !== 0 && (await listNamespaces()).includes(name)) throw new Error(`ip netns del ${name}: ${r.stderr.trim()}`)
}

/**
 * Deletes namespaces left by earlier runs that died before their cleanup: only names of
 * this module's pattern whose owning process no longer exists.  Returns their names.
 */
export async function removeStaleNamespaces(): Promise<string[]> {
  const pattern = new RegExp(`^${NETNS_PREFIX}-(\\d+)-[a-z0-9]+$`)
  const stale = (await listNamespaces()).filter((name) => {
    const m = pattern.exec(name)
    return m !== null && Number(m[1]) !== process.pid && !isAlive(Number(m[1]))
  })
  for (const name of stale) await deleteNamespace(name)
  return stale
}

export interface LanOptions {
  /** Addresses (with prefix length) of the bridge in the switch namespace, e.g. the database's. */
  bridgeAddresses: string[]
  /** One namespace per member, with its addresses (with prefix length) on its eth0. */
  members: Record<string, string[]>
  /** Prefixes every member reaches directly on the link, e.g. a second IPv6 prefix. */
  onLink?: string[]
}

/**
 * Namespaces on one bridged LAN: `switch` (holding the bridge, br0) and one per member (eth0).
 * destroy() kills whatever still runs inside and deletes them all.
 */
export class Lan {
  readonly switchNs: string
  private readonly names: Record<string, string>
  private readonly children = new Set<ChildProcess>()
  private destroyed = false

  private constructor(members: string[]) {
    const name = (m: string) => `${NETNS_PREFIX}-${process.pid}-${m}`
    this.switchNs = name('sw')
    this.names = Object.fromEntries(members.map((m) => [m, name(m)]))
  }

  static async create(opts: LanOptions): Promise<Lan> {
    const members = Object.keys(opts.members)
    for (const m of members) if (!/^[a-z0-9]{1,10}$/.test(m) || m === 'sw') throw new Error(`bad member name ${m}`)
    const lan = new Lan(members)
    try {
      await ip('netns', 'add', lan.switchNs)
      const sw = ['-n', lan.switchNs]
      await ip(...sw, 'link', 'set', 'lo', 'up')
      await ip(...sw, 'link', 'add', 'br0', 'type', 'bridge', 'forward_delay', '0', 'mcast_snooping', '0')
      await ip(...sw, 'link', 'set', 'br0', 'up')
      for (const a of opts.bridgeAddresses) await ip(...sw, 'addr', 'add', a, 'dev', 'br0', ...(a.includes(':') ? ['nodad'] : []))
      for (const m of members) {
        const ns = lan.ns(m)
        await ip('netns', 'add', ns)
        await ip(...sw, 'link', 'add', `v-${m}`, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns)
        await ip(...sw, 'link', 'set', `v-${m}`, 'master', 'br0', 'up')
        await ip('-n', ns, 'link', 'set', 'lo', 'up')
        await ip('-n', ns, 'link', 'set', 'eth0', 'up')
        for (const a of opts.members[m]!) await ip('-n', ns, 'addr', 'add', a, 'dev', 'eth0', ...(a.includes(':') ? ['nodad'] : []))
        for (const prefix of opts.onLink ?? []) await ip('-n', ns, ...(prefix.includes(':') ? ['-6'] : []), 'route', 'replace', prefix, 'dev', 'eth0')
      }
      return lan
    } catch (error) {
      await lan.destroy().catch(() => {})
      throw error
    }
  }

  /**
   * A network behind `router`: a new namespace `member` joined to the router by a veth pair
   * (the router's `dev`, the member's eth0), the member's default route through the router,
   * and forwarding on in the router. Deleted with the LAN.
   */
  async addBehind(router: string, member: string, routerAddress: string, memberAddress: string, dev = 'eth1'): Promise<void> {
    if (!/^[a-z0-9]{1,10}$/.test(member) || member in this.names) throw new Error(`bad member name ${member}`)
    const ns = `${NETNS_PREFIX}-${process.pid}-${member}`
    this.names[member] = ns
    await ip('netns', 'add', ns)
    await ip('-n', this.ns(router), 'link', 'add', dev, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns)
    await ip('-n', this.ns(router), 'addr', 'add', routerAddress, 'dev', dev)
    await ip('-n', this.ns(router), 'link', 'set', dev, 'up')
    await ip('-n', ns, 'link', 'set', 'lo', 'up')
    await ip('-n', ns, 'addr', 'add', memberAddress, 'dev', 'eth0')
    await ip('-n', ns, 'link', 'set', 'eth0', 'up')
    await ip('-n', ns, 'route', 'add', 'default', 'via', routerAddress.split('/')[0]!)
    const r = await this.exec(router, ['sysctl', '-qw', 'net.ipv4.ip_forward=1'])
    if (r.code !== 0) throw new Error(`ip_forward in ${router}: ${r.stderr.trim()}`)
  }

  /** The namespace name of a member ('sw' for the switch). */
  ns(member: string): string {
    if (member === 'sw') return this.switchNs
    const name = this.names[member]
    if (!name) throw new Error(`no LAN member ${member}`)
    return name
  }

  /** argv that runs `argv` inside a member's namespace. */
  argvIn(member: string, argv: readonly string[]): string[] {
    return [IP, 'netns', 'exec', this.ns(member), ...argv]
  }

  exec(member: string, argv: readonly string[], timeoutMs?: number): Promise<ExecResult> {
    return execCommand(this.argvIn(member, argv), timeoutMs)
  }

  /**
   * Starts a long-running process inside a member's namespace.  `ip netns exec` execs the
   * command (no fork), so the child's pid is the program's and signals reach it directly.
   */
  spawn(member: string, argv: readonly string[], options: SpawnOptions = {}): ChildProcess {
    const [file, ...args] = this.argvIn(member, argv)
    const child = spawn(file!, args, { stdio: ['ignore', 'pipe', 'pipe'], ...options })
    this.children.add(child)
    child.on('exit', () => this.children.delete(child))
    return child
  }

  /** Kills what still runs (children first, then anything left in the namespaces) and deletes every namespace. */
  async destroy(): Promise<void> {
    if (this.destroyed) return
    this.destroyed = true
    for (const child of this.children) child.kill('SIGKILL')
    const errors: unknown[] = []
    // Members first: deleting a member's namespace removes its veth pair, then the switch.
    for (const name of [...Object.values(this.names), this.switchNs]) {
      if (!(await listNamespaces()).includes(name)) continue
      await deleteNamespace(name).catch((e: unknown) => errors.push(e))
    }
    if (errors.length > 0) throw new AggregateError(errors, `could not delete every namespace: ${errors.map(String).join('; ')}`)
  }
}

/** Waits for a child to print `text` on stdout (e.g. "ready"); rejects if it exits first or the time runs out. */
export function waitForOutput(child: ChildProcess, text: string, timeoutMs = 10_000): Promise<void> {
  return new Promise((resolve, reject) => {
    let out = ''
    let err = ''
    const timer = setTimeout(() => finish(new Error(`no "${text}" within ${timeoutMs} ms; stdout: ${out} stderr: ${err}`)), timeoutMs)
    const onOut = (d: Buffer) => {
      out += d.toString()
      if (out.includes(text)) finish()
    }
    const onErr = (d: Buffer) => (err += d.toString())
    const onExit = (code: number | null) => finish(new Error(`exited (${code}) before printing "${text}"; stdout: ${out} stderr: ${err}`))
    function finish(error?: Error) {
      clearTimeout(timer)
      child.stdout?.off('data', onOut)
      child.stderr?.off('data', onErr)
      child.off('exit', onExit)
      if (error) reject(error)
      else resolve()
    }
    child.stdout?.on('data', onOut)
    child.stderr?.on('data', onErr)
    child.on('exit', onExit)
  })
}

/**
 * Listens on a unix socket `path` in this (the root) namespace and forwards every connection
 * to TCP host:port here: with a relay inside a namespace (netns-tool.mjs relay), processes
 * in the test's namespaces reach a database that listens only on the root namespace's
 * loopback, without any route or interface in the root namespace.
 */
export async function startUnixForwarder(path: string, host: string, port: number): Promise<{ close(): Promise<void> }> {
  rmSync(path, { force: true })
  const sockets = new Set<Socket>()
  const server: Server = createServer((client) => {
    const upstream = connect(port, host)
    for (const s of [client, upstream]) {
      sockets.add(s)
      s.on('close', () => sockets.delete(s))
      s.on('error', () => {})
    }
    client.pipe(upstream).pipe(client)
    client.on('close', () => upstream.destroy())
    upstream.on('close', () => client.destroy())
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(path, () => resolve())
  })
  return {
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy()
        server.close(() => {
          rmSync(path, { force: true })
          resolve()
        })
      }),
  }
}
