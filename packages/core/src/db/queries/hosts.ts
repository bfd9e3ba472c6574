import type { Db, DbAdapter } from '../db-adapter.js'

/** A registered host as the poll sees it. */
export interface HostRow {
  readonly id: number
  readonly name: string
  readonly cursorSeq: number
  /** The heartbeat just written: the database's now, as stored text. */
  readonly lastSeen: string
  /** Fleet bans that ran out before this were taken out of its shared jail (null: never swept). */
  readonly sweptUntil: string | null
}

/**
 * Register the host or refresh its last_seen (the heartbeat), and return its row. An UPDATE
 * then, for a new host, an INSERT that ignores a concurrent twin: unlike an upsert, this
 * needs no UPDATE right on `hosts.name`, so a host account cannot rename hosts.
 */
export async function registerHost(db: Db, adapter: DbAdapter, name: string, machineId: string | null): Promise<HostRow> {
  await db.updateTable('hosts').set({ last_seen: adapter.now(), machine_id: machineId }).where('name', '=', name).execute()
  let row = await selectHost(db, name)
  if (!row) {
    await db.insertInto('hosts').ignore().values({ name, machine_id: machineId }).execute()
    row = await selectHost(db, name)
  }
  if (!row) throw new Error(`host ${name} vanished while registering`)
  return { id: Number(row.id), name: row.name, cursorSeq: Number(row.cursor_seq), lastSeen: String(row.last_seen), sweptUntil: row.swept_until === null ? null : String(row.swept_until) }
}

function selectHost(db: Db, name: string) {
  return db.selectFrom('hosts').select(['id', 'name', 'cursor_seq', 'last_seen', 'swept_until']).where('name', '=', name).executeTakeFirst()
}

/** Move the host's cursor forward; never backwards, even if two polls overlap. */
export async function advanceCursor(db: Db, hostId: number, seq: number): Promise<void> {
  await db.updateTable('hosts').set({ cursor_seq: seq }).where('id', '=', hostId).where('cursor_seq', '<', seq).execute()
}
