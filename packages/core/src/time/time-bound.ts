import { InvalidValueError } from '../errors.js'
import { parseDuration } from './duration.js'

/** A point in time from the command line: an absolute UTC time, or a duration before the database's now. */
export type TimeBound = { readonly at: Date } | { readonly secondsAgo: number }

const ISO = /^\d{4}-\d\d-\d\d(?:[T ]\d\d:\d\d(?::\d\d(?:\.\d{1,3})?)?(?:Z|[+-]\d\d:?\d\d)?)?$/

/**
 * Parse `--since`/`--until`: an ISO time (`2026-11-23`, `2026-11-23T11:07`, `2026-11-23
 * 11:07:49Z`, `…+01:00`; without an offset it is UTC, as every stored time is) or a
 * duration before now (`1h`, `2d`).
 */
export function parseTimeBound(input: string, field: string): TimeBound {
  if (/^[0-9]+[smhdw]/.test(input) || /^[0-9]{1,10}$/.test(input)) return { secondsAgo: parseDuration(input, field) }
  if (!ISO.test(input)) throw new InvalidValueError(field, input, 'expected an ISO time such as 2026-11-23T11:07:49Z or a duration such as 1h')
  const withZone = /(?:Z|[+-]\d\d:?\d\d)$/.test(input) || input.length === 10 ? input : `${input}Z`
  const ms = Date.parse(input.length === 10 ? `${input}T00:00:00Z` : withZone.replace(' ', 'T'))
  if (Number.isNaN(ms)) throw new InvalidValueError(field, input, 'not a valid date and time')
  return { at: new Date(ms) }
}
