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
 * Register the host or refresh its last_seen (the heartbeat), and return its row: an UPDATE
 * then a read, plus for a new host an INSERT that ignores a concurrent twin. Unlike an upsert
 * this needs no UPDATE right on `hosts.name`, so a host account cannot rename hosts.
 *
 * Outside a transaction only: a statement on a name not yet in the index gap-locks its
 * neighbours, which autocommit releases at once but a transaction holds until commit, and
 * two new hosts holding gaps that way deadlock each other (see findOrCreateHost).
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

/**
 * The host's id, inserting its row when it is new, for work that then runs in a transaction
 * (a report): a plain read, and for a new host an autocommitted INSERT that ignores a
 * concurrent twin, so the transaction itself only ever touches the host's row by id.
 */
export async function findOrCreateHost(db: Db, name: string, machineId: string | null): Promise<number> {
  const existing = await db.selectFrom('hosts').select('id').where('name', '=', name).executeTakeFirst()
  if (existing) return Number(existing.id)
  await db.insertInto('hosts').ignore().values({ name, machine_id: machineId }).execute()
  const created = await db.selectFrom('hosts').select('id').where('name', '=', name).executeTakeFirst()
  if (!created) throw new Error(`host ${name} vanished while registering`)
  return Number(created.id)
}

/** The heartbeat of a known host, by primary key: only that row is locked. */
export async function touchHost(db: Db, adapter: DbAdapter, id: number, machineId: string | null): Promise<void> {
  await db.updateTable('hosts').set({ last_seen: adapter.now(), machine_id: machineId }).where('id', '=', id).execute()
}

function selectHost(db: Db, name: string) {
  return db.selectFrom('hosts').select(['id', 'name', 'cursor_seq', 'last_seen', 'swept_until']).where('name', '=', name).executeTakeFirst()
}

/** Move the host's cursor forward; never backwards, even if two polls overlap. */
export async function advanceCursor(db: Db, hostId: number, seq: number): Promise<void> {
  await db.updateTable('hosts').set({ cursor_seq: seq }).where('id', '=', hostId).where('cursor_seq', '<', seq).execute()
}
