import { Fail2banError } from '../errors.js'
import { activeByAddress, type BanStateReader, type LocalBan } from './ban-state.js'
import type { Fail2banClient } from './fail2ban-client.js'

// `get JAIL banip --with-time` prints one line per ban:
// `203.0.113.7 \t2026-11-23 11:07:49 + 86400 = 2026-11-24 11:07:49` (server's local time).
const WITH_TIME = /^(\S+)\s+(\d{4})-(\d\d)-(\d\d) (\d\d):(\d\d):(\d\d) \+ (-?\d+) = /

/**
 * Reads ban state through fail2ban-client: one `status` call plus one call per jail, however
 * many addresses are asked about.
 */
export class ClientBanState implements BanStateReader {
  readonly #client: Fail2banClient
  constructor(client: Fail2banClient) {
    this.#client = client
  }

  async read(ips: readonly string[], nowSeconds: number): Promise<Map<string, LocalBan[]>> {
    if (ips.length === 0) return new Map()
    const bans: LocalBan[] = []
    for (const jail of await this.#client.jails()) {
      const out = await this.#client.run('get', jail, 'banip', '--with-time')
      bans.push(...parseBanipWithTime(jail, out))
    }
    return activeByAddress(bans, new Set(ips), nowSeconds)
  }
}

/** Parse `get JAIL banip --with-time` output. Times are the fail2ban server's local time, which is this host's. */
export function parseBanipWithTime(jail: string, out: string): LocalBan[] {
  const bans: LocalBan[] = []
  for (const line of out.split('\n')) {
    if (line.trim() === '') continue
    const m = WITH_TIME.exec(line.trim())
    if (!m) throw new Fail2banError(`fail2ban-client get ${jail} banip --with-time: unexpected line ${JSON.stringify(line.slice(0, 120))}`)
    const [, ip = '', y, mo, d, h, mi, s, bantime] = m
    const start = new Date(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s))
    bans.push({ ip, jail, timeOfBan: Math.floor(start.getTime() / 1000), bantime: Number(bantime) })
  }
  return bans
}
