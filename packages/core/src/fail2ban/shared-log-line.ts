import { isCanonicalIp } from '../ban/ip-address.js'
import { parseHostName, parseJail } from '../ban/names.js'
import { InvalidValueError } from '../errors.js'

/** What one line of the shared jail's log says. */
export interface SharedLogEntry {
  readonly ip: string
  readonly jail: string
  readonly reporter: string
  readonly banId: number
}

/**
 * Format one line for the shared jail (fail2ban/filter.d/f2b-central.conf matches exactly this):
 * `2026-11-23 11:07:49 +0000 f2b-central: ban 203.0.113.7 jail=sshd reporter=web-1 ban_id=42`.
 * Every value is re-validated here, where it is used: a row planted in the database with a
 * newline or a second address in it must never become a forged line fail2ban acts on.
 */
export function formatBanLine(entry: SharedLogEntry, at: Date): string {
  if (!isCanonicalIp(entry.ip)) throw new InvalidValueError('ip', entry.ip, 'not a canonical, bannable address')
  parseJail(entry.jail)
  parseHostName(entry.reporter, 'reporter')
  if (!Number.isSafeInteger(entry.banId) || entry.banId < 1) throw new InvalidValueError('ban id', String(entry.banId), 'not a positive integer')
  return `${utcStamp(at)} f2b-central: ban ${entry.ip} jail=${entry.jail} reporter=${entry.reporter} ban_id=${entry.banId}\n`
}

function utcStamp(at: Date): string {
  return `${at.toISOString().slice(0, 19).replace('T', ' ')} +0000`
}
