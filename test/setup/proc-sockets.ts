// What sockets a process holds, read from /proc: a test can then tell which process a
// connection belongs to (a MariaDB PROCESSLIST row names only the client's port) and whether
// a program still waits on a unix socket, without timing anything.
import { readdirSync, readFileSync, readlinkSync } from 'node:fs'

export interface ProcessSockets {
  /** Unix sockets it holds open, besides its stdio (a child's pipes are socket pairs). */
  readonly unix: number
  /** Local ports of its TCP sockets (IPv4 and IPv6). */
  readonly tcpPorts: number[]
}

export function socketsOf(pid: number): ProcessSockets {
  const inodes = new Set<string>()
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    if (Number(fd) <= 2) continue
    try {
      const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`))
      if (m?.[1]) inodes.add(m[1])
    } catch {
      // closed meanwhile
    }
  }
  // The tables list every socket of the process's network namespace, each with its inode.
  const rows = (file: string) =>
    readFileSync(`/proc/${pid}/net/${file}`, 'utf8')
      .split('\n')
      .slice(1)
      .map((l) => l.trim().split(/\s+/))
  const tcpPorts: number[] = []
  for (const file of ['tcp', 'tcp6']) {
    // sl local_address rem_address st tx:rx tr:tm retrnsmt uid timeout inode
    for (const cols of rows(file)) if (inodes.has(cols[9] ?? '')) tcpPorts.push(Number.parseInt(cols[1]?.split(':')[1] ?? '', 16))
  }
  // Num RefCount Protocol Flags Type St Inode Path
  const unix = rows('unix').filter((cols) => inodes.has(cols[6] ?? '')).length
  return { unix, tcpPorts }
}
