/** Text output helpers for the operator commands. */

/** Write to stdout. */
export function print(text: string): void {
  process.stdout.write(text.endsWith('\n') ? text : `${text}\n`)
}

/** Write a value as one JSON document. */
export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`)
}

/** A warning on stderr, prefixed like the program's errors. */
export function warn(text: string): void {
  process.stderr.write(`f2b-central: ${text}\n`)
}

/**
 * A stored value as it may be shown on a terminal: printable ASCII as is, anything else
 * (a newline or escape sequence planted in a row) quoted, so it cannot forge output.
 */
export function shown(value: string): string {
  return /^[\x21-\x7e]+$/.test(value) ? value : JSON.stringify(value)
}

/** Free text from the database (an error message): as is unless it holds control or non-ASCII characters, then quoted. */
export function shownText(value: string): string {
  return /^[\x20-\x7e]*$/.test(value) ? value : JSON.stringify(value)
}

/** ISO time as `YYYY-MM-DD HH:MM:SS` (UTC), `-` for none. */
export function shownTime(iso: string | null, none = '-'): string {
  return iso === null ? none : iso.slice(0, 19).replace('T', ' ')
}

/** Left-aligned columns separated by two spaces, headers first. */
export function table(headers: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)))
  const line = (cells: readonly string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0))).join('  ')
  return [line(headers), ...rows.map(line)].map((l) => l.trimEnd()).join('\n')
}

/** `1 ban`, `2 bans`. */
export function plural(n: number, word: string, many = `${word}s`): string {
  return `${n} ${n === 1 ? word : many}`
}
