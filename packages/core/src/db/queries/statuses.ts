import type { CentralDb, Db, DbAdapter } from '../db-adapter.js'
import { withRetry } from '../retry.js'
import { advanceCursor } from './hosts.js'

/** One (ban, host) status to record, and the status the host had before (null: no row yet). */
export interface StatusWrite {
  readonly banId: number
  readonly hostId: number
  readonly status: number
  readonly error: string | null
  readonly previous: number | null
}

const CHUNK = 500

/**
 * Record statuses in batched statements: new rows in multi-row INSERTs, changed rows in one
 * UPDATE per (status, error). Plain INSERT and UPDATE of the status columns, not an upsert,
 * so a host account needs no UPDATE right on the key columns. A row a concurrent poll of the
 * same host inserted first is kept (INSERT IGNORE / INSERT OR IGNORE): either decision is valid.
 */
export async function recordStatuses(db: Db, adapter: DbAdapter, writes: readonly StatusWrite[]): Promise<void> {
  const fresh = writes.filter((w) => w.previous === null)
  for (let i = 0; i < fresh.length; i += CHUNK) {
    const rows = fresh.slice(i, i + CHUNK).map((w) => ({ ban_id: w.banId, host_id: w.hostId, status: w.status, error: w.error }))
    await db.insertInto('ban_status').ignore().values(rows).execute()
  }
  for (const group of groupUpdates(writes.filter((w) => w.previous !== null))) {
    for (let i = 0; i < group.banIds.length; i += CHUNK) {
      await db
        .updateTable('ban_status')
        .set({ status: group.status, error: group.error, updated_at: adapter.now() })
        .where('host_id', '=', group.hostId)
        .where('ban_id', 'in', group.banIds.slice(i, i + CHUNK))
        .execute()
    }
  }
}

/**
 * A poll batch's outcome in one transaction: its statuses, and the host's cursor moved to
 * the batch's last stamp. The cursor never passes a ban whose status was not written.
 */
export async function recordDecisions(central: CentralDb, hostId: number, writes: readonly StatusWrite[], cursorSeq: number): Promise<void> {
  await withRetry(central.adapter, () =>
    central.db.transaction().execute(async (trx) => {
      await recordStatuses(trx, central.adapter, writes)
      await advanceCursor(trx, hostId, cursorSeq)
    }),
  )
}

function groupUpdates(writes: readonly StatusWrite[]) {
  const groups = new Map<string, { hostId: number; status: number; error: string | null; banIds: number[] }>()
  for (const w of writes) {
    const key = JSON.stringify([w.hostId, w.status, w.error])
    const g = groups.get(key) ?? { hostId: w.hostId, status: w.status, error: w.error, banIds: [] }
    g.banIds.push(w.banId)
    groups.set(key, g)
  }
  return groups.values()
}
