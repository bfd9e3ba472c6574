import { remainingSeconds, type LocalBan } from '../fail2ban/ban-state.js'
import type { PendingBan } from '../db/queries/pending.js'
import { BanStatus } from '../schema/ban-status.js'
import { F2bError } from '../errors.js'
import { formatBanLine } from '../fail2ban/shared-log-line.js'
import { isCanonicalIp } from '../ban/ip-address.js'
import { fromDbTime } from '../time/db-time.js'

/** What a poll will do about one ban. */
export interface Decision {
  readonly ban: PendingBan
  readonly status: BanStatus
  readonly error: string | null
}

export interface DecideInput {
  readonly bans: readonly PendingBan[]
  /** Every active local ban of each address, one per jail (BanStateReader.read). */
  readonly local: ReadonlyMap<string, readonly LocalBan[]>
  /** The jail readdb feeds. Unset: no local ban counts as the shared jail's. */
  readonly sharedJail?: string
  /** Jails besides the shared one that ban on every port (`fail2ban.allPortsJails`, e.g. recidive). */
  readonly allPortsJails?: readonly string[]
  /** Addresses never applied here: the central allowlist and the config's. */
  readonly allowlist: { has(ip: string): boolean }
  readonly recentBanFraction: number
  readonly now: Date
  /** Addresses this poll already wrote a line for (in an earlier batch); updated in place. */
  readonly written?: Set<string>
}

export interface DecideOutput {
  readonly decisions: Decision[]
  /** Shared-log lines to append, one per address. */
  readonly lines: string[]
  /** Addresses to take out of the shared jail: unbanned by an operator after this host applied them. */
  readonly unban: string[]
}

/**
 * The per-ban rule of a poll, free of I/O: unbanned by an operator → 4 (and taken out of
 * the shared jail if this host had applied it, see owesLocalUnban); expired → 5; a stored
 * value that fails validation → 3 (before anything else reads it); allowlisted → 6; held
 * locally by an all-ports jail that protects at least as much as the fleet's ban would
 * (protectsAsMuch) → 2; else held by the shared jail (a line would be ignored as already
 * banned) → stays 0, retried until that ban ends; otherwise, also when only port-limited
 * jails hold it (an `sshd` ban of port 22), one shared-log line per address → 1.
 */
export function decide(input: DecideInput): DecideOutput {
  const nowSeconds = Math.floor(input.now.getTime() / 1000)
  const decisions: Decision[] = []
  const lines: string[] = []
  const lineWritten = input.written ?? new Set<string>()
  const unban = new Set<string>()
  const allPorts = new Set([...(input.allPortsJails ?? []), ...(input.sharedJail === undefined ? [] : [input.sharedJail])])
  for (const ban of input.bans) {
    if (ban.revoked) {
      if (owesLocalUnban(ban) && isCanonicalIp(ban.ip)) unban.add(ban.ip)
      decisions.push({ ban, status: BanStatus.Removed, error: null })
      continue
    }
    if (ban.expired) {
      decisions.push({ ban, status: BanStatus.Expired, error: null })
      continue
    }
    let line: string
    try {
      line = formatBanLine({ ip: ban.ip, jail: ban.jail, reporter: ban.reporter, banId: ban.id }, input.now)
    } catch (err) {
      decisions.push({ ban, status: BanStatus.Error, error: `refused: ${err instanceof F2bError ? err.message : String(err)}` })
      continue
    }
    if (input.allowlist.has(ban.ip)) {
      decisions.push({ ban, status: BanStatus.Allowlisted, error: null })
      continue
    }
    const held = input.local.get(ban.ip) ?? []
    if (held.some((l) => allPorts.has(l.jail) && protectsAsMuch(l, ban, nowSeconds, input.recentBanFraction))) {
      decisions.push({ ban, status: BanStatus.AlreadyBanned, error: null })
      continue
    }
    if (held.some((l) => l.jail === input.sharedJail)) {
      decisions.push({ ban, status: BanStatus.Pending, error: null })
      continue
    }
    // The same address twice in one poll is applied once; every ban of it is recorded as added.
    if (!lineWritten.has(ban.ip)) {
      lineWritten.add(ban.ip)
      lines.push(line)
    }
    decisions.push({ ban, status: BanStatus.Added, error: null })
  }
  return { decisions, lines, unban: [...unban] }
}

/**
 * An operator's unban must take this ban out of the local jail: this host applied it (1);
 * or found it already held by an all-ports jail (2), which, when that jail is the shared one,
 * only the fleet put there, by an earlier ban of the address whose own unban left it in
 * because this ban still named it (stillBanned in poll.ts), so nothing else would ever take it
 * out (an unban of a jail that does not hold the address does nothing); or an earlier attempt
 * failed and left it pending with the error (0 with an error).
 */
export function owesLocalUnban(ban: PendingBan): boolean {
  return ban.status === BanStatus.Added || ban.status === BanStatus.AlreadyBanned || (ban.status === BanStatus.Pending && ban.error !== null)
}

/**
 * Whether a local ban in an all-ports jail protects at least as much as the fleet's ban:
 * it is permanent, or it has more than `fraction` of the *fleet ban's* ban time left (with
 * equal ban times, the source document's "banned recently"), or it lasts until the fleet
 * ban ends anyway. A permanent fleet ban is matched only by a permanent local one.
 */
export function protectsAsMuch(local: LocalBan, ban: Pick<PendingBan, 'bantime' | 'expiresAt'>, nowSeconds: number, fraction: number): boolean {
  if (local.bantime < 0) return true
  if (ban.bantime < 0 || ban.expiresAt === null) return false
  const fleetEnd = Math.floor(fromDbTime(ban.expiresAt).getTime() / 1000)
  return remainingSeconds(local, nowSeconds) > fraction * ban.bantime || local.timeOfBan + local.bantime >= fleetEnd
}
