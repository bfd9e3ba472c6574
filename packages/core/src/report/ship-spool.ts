import type { CentralDb } from '../db/db-adapter.js'
import { insertBan } from '../db/queries/bans.js'
import { describeError, F2bError } from '../errors.js'
import { readSpool, removeSpoolEntry, type SpoolItem } from './spool.js'

/** What shipping the spool did. */
export interface SpoolShipment {
  /** Bans stored (each file removed once its ban was committed). */
  readonly shipped: number
  /**
   * What was not shipped and why, each a line naming its file: an entry that failed validation,
   * a link or anything but a regular file (left in place, to be looked at, never read as a
   * ban), or the directory itself when it is refused (then nothing in it was read).
   */
  readonly problems: readonly Extract<SpoolItem, { problem: string }>[]
}

/**
 * Store every spooled ban (each keeps its key and first-seen time, so shipping twice stores
 * once), removing each file only after its ban is committed. A spool that cannot be trusted
 * (or read) is reported in `problems`, not thrown: the caller's own work (add2db's stored ban, readdb's
 * poll) goes on. Database errors are thrown.
 */
export async function shipSpool(central: CentralDb, dir: string): Promise<SpoolShipment> {
  let items: SpoolItem[]
  try {
    items = readSpool(dir)
  } catch (err) {
    // Only the file system is read here: a refused or unreadable directory is the spool's problem.
    const why = err instanceof F2bError ? describeError(err) : `spool.dir ${dir}: cannot read it: ${(err as NodeJS.ErrnoException).code ?? String(err)}`
    return { shipped: 0, problems: [{ path: dir, problem: `${why}; nothing in it was shipped` }] }
  }
  let shipped = 0
  const problems: SpoolShipment['problems'][number][] = []
  for (const item of items) {
    if (!('entry' in item)) {
      problems.push(item)
      continue
    }
    const { key, host, reportedAt, ...ban } = item.entry
    // Its age, not its time: this host's clock may be off, but it measured both ends.
    await insertBan(central, host, null, ban, { reportKey: key, ageMs: Date.now() - Date.parse(reportedAt) })
    removeSpoolEntry(item.path)
    shipped++
  }
  return { shipped, problems }
}
