import { InvalidValueError } from '../errors.js'

const UNIT_SECONDS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400, w: 604800 }
const DURATION = /^(?:[0-9]{1,9}[smhdw])+$/
const PART = /([0-9]{1,9})([smhdw])/g
// Ten years: beyond it arithmetic on DATETIME columns leaves their range.
const MAX_SECONDS = 10 * 365 * 86400

/**
 * Parse a duration such as `90s`, `5m`, `1h30m`, `25d` or `2w` (or a bare number of
 * seconds) into seconds. Throws InvalidValueError (exit 2) naming `field`.
 *
 * ```ts
 * parseDuration('1h30m', '--older-than') // 5400
 * ```
 */
export function parseDuration(input: string, field = 'duration'): number {
  let seconds: number
  if (/^[0-9]{1,10}$/.test(input)) seconds = Number(input)
  else if (DURATION.test(input)) {
    seconds = 0
    for (const [, n, unit] of input.matchAll(PART)) seconds += Number(n) * (UNIT_SECONDS[unit ?? 's'] ?? 1)
  } else {
    throw new InvalidValueError(field, input, 'expected a duration such as 90s, 5m, 1h30m, 25d or 2w')
  }
  if (seconds <= 0) throw new InvalidValueError(field, input, 'must be longer than 0 seconds')
  if (seconds > MAX_SECONDS) throw new InvalidValueError(field, input, 'longer than 10 years')
  return seconds
}

/** A short human form of a number of seconds: `45s`, `12m`, `3h5m`, `2d4h`. */
export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds))
  if (s < 60) return `${s}s`
  if (s < 3600) return `${Math.floor(s / 60)}m`
  if (s < 86400) {
    const m = Math.floor((s % 3600) / 60)
    return `${Math.floor(s / 3600)}h${m ? `${m}m` : ''}`
  }
  const h = Math.floor((s % 86400) / 3600)
  return `${Math.floor(s / 86400)}d${h ? `${h}h` : ''}`
}

/**
 * A ban time from the command line: a duration (`25d`, `1h`), whole seconds, or `permanent`
 * (also `-1`, as fail2ban writes it). Returns seconds, -1 for permanent.
 */
export function parseBantimeOption(input: string, field = '--bantime'): number {
  if (input === '-1' || input === 'permanent') return -1
  return parseDuration(input, field)
}
