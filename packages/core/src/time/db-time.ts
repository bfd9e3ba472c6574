/**
 * Timestamps are stored as UTC text `YYYY-MM-DD HH:MM:SS.fff` on both dialects (mysql2 runs
 * with `dateStrings`). These convert between that form and Date.
 */
const DB_TIME = /^(\d{4})-(\d\d)-(\d\d)[ T](\d\d):(\d\d):(\d\d)(?:\.(\d{1,6}))?Z?$/

/** A Date as stored text: `2026-11-23 11:07:49.123` (UTC). */
export function toDbTime(at: Date): string {
  return at.toISOString().replace('T', ' ').replace('Z', '')
}

/** Stored text (with or without fraction) as a Date; throws on anything else. */
export function fromDbTime(text: string): Date {
  const m = DB_TIME.exec(text)
  if (!m) throw new Error(`not a stored timestamp: ${JSON.stringify(text)}`)
  const [, y, mo, d, h, mi, s, frac = '0'] = m
  return new Date(Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s), Math.floor(Number(`0.${frac}`) * 1000)))
}

/** Stored text as ISO 8601 (`2026-11-23T11:07:49.123Z`), for JSON output; null stays null. */
export function dbTimeToIso(text: string | null): string | null {
  return text === null ? null : fromDbTime(text).toISOString()
}
