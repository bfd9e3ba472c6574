import { closeSync, fstatSync, fsyncSync, ftruncateSync, mkdirSync, openSync, writeSync } from 'node:fs'
import { dirname } from 'node:path'

/**
 * Append lines with one write on an O_APPEND descriptor, then fsync: fail2ban sees a poll's
 * lines together, and a line is on disk before its status says "added". A write that fails
 * part way (a full disk) is cut back to where the file ended, so no half line is left for
 * fail2ban to read (`ban_id=4` of `ban_id=42` would still match the filter).
 */
export function appendLines(path: string, lines: readonly string[]): void {
  if (lines.length === 0) return
  mkdirSync(dirname(path), { recursive: true, mode: 0o750 })
  const fd = openSync(path, 'a', 0o640)
  try {
    const start = fstatSync(fd).size
    const buf = Buffer.from(lines.join(''), 'utf8')
    try {
      let off = 0
      while (off < buf.length) off += writeSync(fd, buf, off, buf.length - off)
      fsyncSync(fd)
    } catch (err) {
      try {
        ftruncateSync(fd, start)
      } catch {
        // The original error is the one to report.
      }
      throw err
    }
  } finally {
    closeSync(fd)
  }
}
