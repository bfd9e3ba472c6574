import { closeSync, constants, fstatSync, fsyncSync, ftruncateSync, mkdirSync, writeSync } from 'node:fs'
import { dirname } from 'node:path'
import { openCheckedFile, type FileRule } from '../checked-file.js'

/**
 * What the shared log must be: readdb (root) appends to it and fail2ban (root) bans what it
 * reads there, so it is never reached through a link (a link planted in its place would make
 * root append to the file it points to), is a regular file (a FIFO would block the poll), and
 * nobody but root or readdb's user may write it (whoever can forge a line bans any address).
 */
const SHARED_LOG_RULE: FileRule = {
  what: 'fail2ban.sharedLog',
  forbiddenMode: 0o022,
  noFollow: true,
  linkHint: "remove the link; readdb creates the file (if it should live elsewhere, set fail2ban.sharedLog and the shared jail's logpath to that file)",
}

/**
 * Append lines with one write on an O_APPEND descriptor, then fsync: fail2ban sees a poll's
 * lines together, and a line is on disk before its status says "added". A write that fails
 * part way (a full disk) is cut back to where the file ended, so no half line is left for
 * fail2ban to read (`ban_id=4` of `ban_id=42` would still match the filter). The file is
 * created (0640) when missing and checked on the descriptor written to (SHARED_LOG_RULE);
 * a refused file throws UnsafeFileError and nothing is written.
 */
export function appendLines(path: string, lines: readonly string[]): void {
  if (lines.length === 0) return
  mkdirSync(dirname(path), { recursive: true, mode: 0o750 })
  const fd = openCheckedFile(path, SHARED_LOG_RULE, constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT, 0o640)
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
