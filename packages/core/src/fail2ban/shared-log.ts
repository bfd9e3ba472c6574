import { closeSync, fsyncSync, mkdirSync, openSync, writeSync } from 'node:fs'
import { dirname } from 'node:path'

/**
 * Append lines with one write on an O_APPEND descriptor, then fsync: fail2ban sees a poll's
 * lines together, and a line is on disk before its status says "added".
 */
export function appendLines(path: string, lines: readonly string[]): void {
  if (lines.length === 0) return
  mkdirSync(dirname(path), { recursive: true, mode: 0o750 })
  const fd = openSync(path, 'a', 0o640)
  try {
    const buf = Buffer.from(lines.join(''), 'utf8')
    let off = 0
    while (off < buf.length) off += writeSync(fd, buf, off, buf.length - off)
    fsyncSync(fd)
  } finally {
    closeSync(fd)
  }
}
