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
 * then a read, plus for a new host resolveHostIds. Unlike an upsert this needs no UPDATE
 * right on `hosts.name`, so a host account cannot rename hosts. Outside a transaction only
 * (see resolveHostIds).
 */
export async function registerHost(db: Db, adapter: DbAdapter, name: string, machineId: string | null): Promise<HostRow> {
  await db.updateTable('hosts').set({ last_seen: adapter.now(), machine_id: machineId }).where('name', '=', name).execute()
  let row = await selectHost(db, name)
  if (!row) {
    await resolveHostIds(db, [name], machineId)
    row = await selectHost(db, name)
  }
  if (!row) throw new Error(`host ${name} vanished while registering`)
  return { id: Number(row.id), name: row.name, cursorSeq: Number(row.cursor_seq), lastSeen: String(row.last_seen), sweptUntil: row.swept_until === null ? null : String(row.swept_until) }
}

/**
 * The host's id, inserting its row when it is new, for work that then runs in a transaction
 * (a report), so the transaction itself only ever touches the host's row by id.
 */
export async function findOrCreateHost(db: Db, name: string, machineId: string | null): Promise<number> {
  const id = (await resolveHostIds(db, [name], machineId)).get(name)
  if (id === undefined) throw new Error(`host ${name} vanished while registering`)
  return id
}

/**
 * The one host resolver: ids of the named hosts, registering the ones that are missing. A
 * plain read, and for new names an autocommitted INSERT that ignores a concurrent twin.
 * Existing hosts' last_seen is left alone: an import or an operator command says nothing
 * about whether those hosts are alive (the heartbeat is registerHost / touchHost).
 *
 * Outside a transaction only: a statement on a name not yet in the index gap-locks its
 * neighbours, which autocommit releases at once but a transaction holds until commit, and
 * two new hosts holding gaps that way deadlock each other.
 */
export async function resolveHostIds(db: Db, names: readonly string[], machineId: string | null = null): Promise<Map<string, number>> {
  const wanted = [...new Set(names)]
  if (wanted.length === 0) return new Map()
  const known = async () => new Map((await db.selectFrom('hosts').select(['id', 'name']).where('name', 'in', wanted).execute()).map((r) => [r.name, Number(r.id)]))
  let ids = await known()
  const missing = wanted.filter((n) => !ids.has(n))
  if (missing.length > 0) {
    await db.insertInto('hosts').ignore().values(missing.map((name) => ({ name, machine_id: machineId }))).execute()
    ids = await known()
  }
  return ids
}

/** How many hosts are registered. */
export async function countHosts(db: Db): Promise<number> {
  const { n } = await db
    .selectFrom('hosts')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .executeTakeFirstOrThrow()
  return Number(n)
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
