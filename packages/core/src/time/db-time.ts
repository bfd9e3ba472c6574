/**
 * Timestamps are stored as UTC text `YYYY-MM-DD HH:MM:SS.fff` on both dialects (mysql2 runs
 * with `dateStrings`). These convert between that form and Date.
 */
/** A Date as stored text: `2026-11-23 11:07:49.123` (UTC). */
export function toDbTime(at: Date): string {
  return at.toISOString().replace('T', ' ').replace('Z', '')
}

const ZERO = 48
const DASH = 45
const COLON = 58
const SPACE = 32
const T = 84
const DOT = 46
const Z = 90

// The number in text[from, from + n), or -1 where any of it is no digit.
function digitsAt(text: string, from: number, n: number): number {
  let v = 0
  for (let i = from; i < from + n; i++) {
    const d = text.charCodeAt(i) - ZERO
    if (d < 0 || d > 9) return -1
    v = v * 10 + d
  }
  return v
}

// Milliseconds of what follows the seconds (nothing, `.f` to `.ffffff`, then an optional Z), or -1.
function fractionMs(text: string): number {
  const end = text.charCodeAt(text.length - 1) === Z ? text.length - 1 : text.length
  if (end === 19) return 0
  const n = end - 20
  if (text.charCodeAt(19) !== DOT || n < 1 || n > 6) return -1
  const f = digitsAt(text, 20, n)
  return f < 0 ? -1 : Math.floor((f * 1000) / 10 ** n)
}

function hasSeparators(text: string): boolean {
  const c = text.charCodeAt(10)
  return text.charCodeAt(4) === DASH && text.charCodeAt(7) === DASH && (c === SPACE || c === T) && text.charCodeAt(13) === COLON && text.charCodeAt(16) === COLON
}

/**
 * Stored text (with or without fraction) as ms since the epoch; throws on anything else. Read
 * by character codes, not a regular expression and a Date: a firewall resync converts one per
 * active ban (100,000 in about 50 ms against 130 ms).
 */
export function dbTimeMs(text: string): number {
  const ms = text.length >= 19 && text.length <= 27 && hasSeparators(text) ? fractionMs(text) : -1
  const y = digitsAt(text, 0, 4)
  const mo = digitsAt(text, 5, 2)
  const d = digitsAt(text, 8, 2)
  const h = digitsAt(text, 11, 2)
  const mi = digitsAt(text, 14, 2)
  const s = digitsAt(text, 17, 2)
  if (ms < 0 || y < 0 || mo < 0 || d < 0 || h < 0 || mi < 0 || s < 0) throw new Error(`not a stored timestamp: ${JSON.stringify(text)}`)
  return Date.UTC(y, mo - 1, d, h, mi, s, ms)
}

/** Stored text (with or without fraction) as a Date; throws on anything else. */
export function fromDbTime(text: string): Date {
  return new Date(dbTimeMs(text))
}

/** Stored text as ISO 8601 (`2026-11-23T11:07:49.123Z`), for JSON output; null stays null. */
export function dbTimeToIso(text: string | null): string | null {
  return text === null ? null : fromDbTime(text).toISOString()
}
