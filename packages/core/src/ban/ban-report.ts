import { InvalidValueError } from '../errors.js'
import { parseIp } from './ip-address.js'
import { parseJail, parsePort, parseProtocol } from './names.js'

/** A ban as a host reports it, every field validated and in canonical form. */
export interface BanReport {
  readonly ip: string
  readonly jail: string
  readonly protocol: string
  readonly port: string
  /** Seconds; a negative value means permanent, as in fail2ban. */
  readonly bantime: number
}

/** Untrusted fields, as fail2ban's action passes them. */
export interface BanReportInput {
  ip: string
  jail: string
  protocol?: string | undefined
  port?: string | undefined
  bantime?: string | undefined
}

// fail2ban's own limit is far below this; it keeps expiry arithmetic inside DATETIME's range.
const MAX_BANTIME = 10 * 365 * 24 * 3600

/** A validated report whose ban time may still come from the config's default. */
export type ParsedBanReport = Omit<BanReport, 'bantime'> & { readonly bantime: number | undefined }

/**
 * Validate a report; throws InvalidValueError naming the first bad field. Needs no config,
 * so bad input is refused before anything else is read.
 */
export function parseBanReport(input: BanReportInput): ParsedBanReport {
  return {
    ip: parseIp(input.ip, 'ip').text,
    jail: parseJail(input.jail),
    protocol: parseProtocol(input.protocol ?? 'tcp'),
    port: parsePort(input.port ?? '0:65535'),
    bantime: input.bantime === undefined ? undefined : parseBantime(input.bantime),
  }
}

/** Ban time in whole seconds; `-1` (or any negative) is permanent, 0 is refused. */
export function parseBantime(input: string): number {
  if (!/^-?[0-9]{1,10}$/.test(input)) throw new InvalidValueError('bantime', input, 'expected whole seconds, e.g. 3600, or -1 for permanent')
  const n = Number(input)
  if (n === 0) throw new InvalidValueError('bantime', input, 'a ban time of 0 seconds bans nothing')
  if (n > MAX_BANTIME) throw new InvalidValueError('bantime', input, `longer than ${MAX_BANTIME} seconds (10 years)`)
  return n < 0 ? -1 : n
}
