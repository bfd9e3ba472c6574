import type { Kysely } from 'kysely'
import type { Database } from '../../schema/database.js'
import type { CentralDb, Db, DbAdapter } from '../db-adapter.js'
import type { HostRow } from '../host-writes.js'

export type { HostRow }

/**
 * Register the host or refresh its last_seen (the heartbeat), and return its row. Outside a
 * transaction only (see resolveHostIds).
 */
export async function registerHost(db: Db, adapter: DbAdapter, name: string, machineId: string | null): Promise<HostRow> {
  return adapter.hostWrites.heartbeat(db as Kysely<Database>, { name, machineId })
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
 * about whether those hosts are alive (the heartbeat is registerHost).
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
    await db
      .insertInto('hosts')
      .ignore()
      .values(missing.map((name) => ({ name, machine_id: machineId })))
      .execute()
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

/** Move the host's cursor forward; never backwards, even if two polls overlap, and never past the last stamp. */
export async function advanceCursor(central: CentralDb, host: HostRow, seq: number): Promise<void> {
  await central.adapter.hostWrites.advanceCursor(central.db, host, seq)
}
