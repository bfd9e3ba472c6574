/** One address as the local fail2ban holds it. */
export interface LocalBan {
  readonly ip: string
  readonly jail: string
  /** Start of the ban, seconds since the epoch. */
  readonly timeOfBan: number
  /** Length of the ban in seconds; negative means permanent. */
  readonly bantime: number
}

/** Reads which of a set of addresses the local fail2ban currently bans, all at once. */
export interface BanStateReader {
  /** For each address banned now (in any jail), the ban with the most time left. */
  read(ips: readonly string[], nowSeconds: number): Promise<Map<string, LocalBan>>
}

/** Seconds left of a local ban at `nowSeconds`; Infinity when permanent. */
export function remainingSeconds(ban: LocalBan, nowSeconds: number): number {
  return ban.bantime < 0 ? Infinity : ban.timeOfBan + ban.bantime - nowSeconds
}

/** Keep, per address, the ban with the most time left; drop bans already over. */
export function longestActive(bans: Iterable<LocalBan>, wanted: ReadonlySet<string>, nowSeconds: number): Map<string, LocalBan> {
  const out = new Map<string, LocalBan>()
  for (const ban of bans) {
    if (!wanted.has(ban.ip) || remainingSeconds(ban, nowSeconds) <= 0) continue
    const seen = out.get(ban.ip)
    if (!seen || remainingSeconds(ban, nowSeconds) > remainingSeconds(seen, nowSeconds)) out.set(ban.ip, ban)
  }
  return out
}
