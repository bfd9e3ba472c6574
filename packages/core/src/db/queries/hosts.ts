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
 * Register the host or refresh its last_seen (the heartbeat), and return its row. Run it
 * outside a transaction: see findOrCreateHost.
 */
export async function registerHost(db: Db, adapter: DbAdapter, name: string, machineId: string | null): Promise<HostRow> {
  return touchHost(db, adapter, await findOrCreateHost(db, name, machineId), machineId)
}

/**
 * The host's id, inserting its row when it is new: a plain read, then for a new host an
 * INSERT that ignores a concurrent twin. Unlike an upsert this needs no UPDATE right on
 * `hosts.name`, so a host account cannot rename hosts. Call it outside any transaction: an
 * UPDATE or INSERT on a name not yet in the index gap-locks its neighbours until commit, and
 * two new hosts doing that in the same gap deadlock each other.
 */
export async function findOrCreateHost(db: Db, name: string, machineId: string | null): Promise<number> {
  const existing = await db.selectFrom('hosts').select('id').where('name', '=', name).executeTakeFirst()
  if (existing) return Number(existing.id)
  await db.insertInto('hosts').ignore().values({ name, machine_id: machineId }).execute()
  const created = await db.selectFrom('hosts').select('id').where('name', '=', name).executeTakeFirst()
  if (!created) throw new Error(`host ${name} vanished while registering`)
  return Number(created.id)
}

/** The heartbeat: set last_seen (by primary key, so only that row is locked) and read the row back. */
export async function touchHost(db: Db, adapter: DbAdapter, id: number, machineId: string | null): Promise<HostRow> {
  await db.updateTable('hosts').set({ last_seen: adapter.now(), machine_id: machineId }).where('id', '=', id).execute()
  const row = await selectHost(db, id)
  if (!row) throw new Error(`host ${id} vanished while registering`)
  return { id: Number(row.id), name: row.name, cursorSeq: Number(row.cursor_seq), lastSeen: String(row.last_seen), sweptUntil: row.swept_until === null ? null : String(row.swept_until) }
}

function selectHost(db: Db, id: number) {
  return db.selectFrom('hosts').select(['id', 'name', 'cursor_seq', 'last_seen', 'swept_until']).where('id', '=', id).executeTakeFirst()
}

/** Move the host's cursor forward; never backwards, even if two polls overlap. */
export async function advanceCursor(db: Db, hostId: number, seq: number): Promise<void> {
  await db.updateTable('hosts').set({ cursor_seq: seq }).where('id', '=', hostId).where('cursor_seq', '<', seq).execute()
}
