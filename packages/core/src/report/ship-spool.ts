import { accessSync, constants } from 'node:fs'
import { join } from 'node:path'
import type { CentralDb } from '../db/db-adapter.js'
import { insertBan } from '../db/queries/bans.js'
import { clearSilence, SILENCE_MARKER } from './database-silence.js'
import { describeError, F2bError } from '../errors.js'
import { readSpool, removeSpoolEntry, type SpoolItem } from './spool.js'

/** What shipping the spool did. */
export interface SpoolShipment {
  /** Bans stored (or found stored already) and removed from the spool. */
  readonly shipped: number
  /**
   * Why the spool could not be shipped, or not all of it: one line for a warning. Never an
   * error of the caller's: a poll goes on without it, and the bans stay in the spool.
   */
  readonly problem?: string
}

/**
 * Store every spooled ban (each keeps its key and first-seen time, so shipping twice stores
 * once), removing each file only after its ban is committed. Entries that fail validation
 * stay in place, to be looked at, and are never stored. A spool that cannot be read or
 * emptied (a directory the caller may not write: readdb under a sandbox that leaves it
 * read-only) is not shipped and comes back as `problem`; nothing is lost, the next run that
 * can write it (any add2db that reaches the database) ships it. Database errors are thrown.
 * The caller has reached the database, so the note that it was silent goes first.
 */
export async function shipSpool(central: CentralDb, dir: string): Promise<SpoolShipment> {
  // The caller has just reached the database: add2db need not skip it any more.
  try {
    clearSilence(dir)
  } catch (err) {
    return {
      shipped: 0,
      problem: `cannot remove ${join(dir, SILENCE_MARKER)}: ${(err as Error).message}; until it goes, add2db spools without trying the database but for a try now and then`,
    }
  }
  let items: SpoolItem[]
  try {
    items = readSpool(dir)
  } catch (err) {
    // A refused directory (owner, mode, a link) says so itself, with the fix; nothing in it is read.
    const why = err instanceof F2bError ? describeError(err) : `cannot read spool ${dir}: ${(err as Error).message}`
    return { shipped: 0, problem: `${why}; nothing in it was shipped` }
  }
  const entries = items.flatMap((item) => ('entry' in item ? [item] : []))
  // Entries that failed validation, links, anything but a regular file: left in place, never read as a ban.
  // Each problem names its file.
  const refused = items.flatMap((item) => ('problem' in item ? [item.problem] : []))
  const refusedLine = refused.length > 0 ? `${refused.slice(0, 3).join('; ')}${refused.length > 3 ? ` (and ${refused.length - 3} more left in place)` : ''}` : undefined
  if (entries.length === 0) return refusedLine ? { shipped: 0, problem: refusedLine } : { shipped: 0 }
  // Only a spool this run can also empty: each poll would otherwise store the same bans again.
  const unwritable = notWritable(dir)
  if (unwritable) {
    return { shipped: 0, problem: `cannot ship spool ${dir}: ${unwritable}; its ${entries.length} ban(s) stay there until a run that may write it (add2db) ships them` }
  }
  let shipped = 0
  for (const { path, entry } of entries) {
    const { key, host, reportedAt, ...ban } = entry
    // Its age, not its time: this host's clock may be off, but it measured both ends.
    await insertBan(central, host, null, ban, { reportKey: key, ageMs: Date.now() - Date.parse(reportedAt) })
    try {
      removeSpoolEntry(path)
    } catch (err) {
      return {
        shipped,
        problem: `stored the spooled ban ${path} but cannot remove it: ${(err as Error).message}; shipping stopped (it is stored once, however often it is shipped)`,
      }
    }
    shipped++
  }
  return refusedLine ? { shipped, problem: refusedLine } : { shipped }
}

function notWritable(dir: string): string | undefined {
  try {
    accessSync(dir, constants.W_OK)
    return undefined
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    return code === 'EROFS' ? 'read-only file system (EROFS)' : (code ?? (err as Error).message)
  }
}
