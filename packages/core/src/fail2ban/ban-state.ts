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
  /**
   * For each address banned now, every active ban of it, one per jail: which jail holds it
   * matters (an all-ports jail protects more than a port-limited one), so nothing is merged.
   */
  read(ips: readonly string[], nowSeconds: number): Promise<Map<string, LocalBan[]>>
}

/** Seconds left of a local ban at `nowSeconds`; Infinity when permanent. */
export function remainingSeconds(ban: LocalBan, nowSeconds: number): number {
  return ban.bantime < 0 ? Infinity : ban.timeOfBan + ban.bantime - nowSeconds
}

/** The wanted addresses' bans that are still running, grouped by address. */
export function activeByAddress(bans: Iterable<LocalBan>, wanted: ReadonlySet<string>, nowSeconds: number): Map<string, LocalBan[]> {
  const out = new Map<string, LocalBan[]>()
  for (const ban of bans) {
    if (!wanted.has(ban.ip) || remainingSeconds(ban, nowSeconds) <= 0) continue
    const held = out.get(ban.ip)
    if (held) held.push(ban)
    else out.set(ban.ip, [ban])
  }
  return out
}
