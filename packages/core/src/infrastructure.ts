import { lookup } from 'node:dns/promises'
import { isIP } from 'node:net'
import { parseIp } from './ban/ip-address.js'
import { contains, type Network } from './ban/network.js'
import type { Config } from './config/config-schema.js'

/** Addresses the fleet must never ban, and why: a ban of one would cut hosts off what runs the fleet. */
export interface Infrastructure {
  has(ip: string): boolean
  /** has() for an address in canonical form, without BlockList's parse (about 10 µs a call: a second per 100,000 firewall entries). */
  hasCanonical(ip: string): boolean
  /** Whether a network (a CIDR ban) holds any of these addresses. */
  overlaps(n: Network): boolean
  /** A name that could not be resolved (its addresses are then unknown and not protected). */
  readonly unresolved: readonly string[]
}

/**
 * This host's infrastructure: `host.neverBan`, plus every address the database servers' names
 * in database.url resolve to, every server of a list (a ban of a database server would cut
 * hosts off the database, and an operator's unban could then no longer reach them), and the
 * MQTT broker's in notify.mqtt.url (banned, it would silence push for the whole fleet). An
 * address in a URL
 * is taken as is; a name is looked up (getaddrinfo: /etc/hosts, then DNS).
 */
export async function resolveInfrastructure(config: Config): Promise<Infrastructure> {
  const extra = new Set<string>()
  const unresolved: string[] = []
  const target = config.database.target
  const servers = target.kind === 'mysql' ? target.servers.map((s) => s.host) : []
  if (config.notify.mqtt !== undefined) servers.push(config.notify.mqtt.host)
  await Promise.all(
    [...new Set(servers)].map(async (host) => {
      if (isIP(host) !== 0) extra.add(canonical(host))
      else {
        try {
          for (const a of await lookup(host, { all: true })) extra.add(canonical(a.address))
        } catch {
          unresolved.push(host)
        }
      }
    }),
  )
  return {
    has: (ip) => extra.has(ip) || config.neverBan.has(ip),
    hasCanonical: (ip) => extra.has(ip) || config.neverBan.hasCanonical(ip),
    overlaps: (n) => config.neverBan.overlaps(n) || [...extra].some((ip) => familyOf(ip) === n.version && contains(n, ip)),
    unresolved,
  }
}

// The form bans are stored in; an address that can never be banned anyway (loopback) is kept as given.
function canonical(address: string): string {
  try {
    return parseIp(address).text
  } catch {
    return address.toLowerCase()
  }
}

const familyOf = (ip: string): 4 | 6 => (ip.includes(':') ? 6 : 4)
