import { sql, type Kysely, type Transaction } from 'kysely'
import type { Database } from '../../schema/database.js'
import type { DbAdapter } from '../db-adapter.js'
import {
  MAX_ERROR_LENGTH,
  MAX_HOST_ADDRESSES,
  MAX_REPORT_AGE_MS,
  toHostRow,
  type HostIdentity,
  type HostRow,
  type HostWrites,
  type ReportedBan,
  type StatusWrite,
} from '../host-writes.js'
import { withRetry } from '../retry.js'
import { bumpAllowlistVersion } from './allowlist.js'
import { insertBansWithStatuses } from './bans.js'
import { readFloodLimit } from './fleet-settings.js'
import { resolveHostIds } from './hosts.js'

const CHUNK = 500

/**
 * The host writes as plain statements, for a database without accounts (SQLite: one
 * machine, one writer). The same rules the MySQL routines enforce hold here: the server's
 * clock sets every time, the flood limit holds bans, the cursor never passes the last stamp.
 */
export function directHostWrites(adapter: DbAdapter): HostWrites {
  return {
    async heartbeat(db, host) {
      await db.updateTable('hosts').set({ last_seen: adapter.now(), machine_id: host.machineId }).where('name', '=', host.name).execute()
      let row = await selectHost(db, host.name)
      if (!row) {
        await resolveHostIds(db, [host.name], host.machineId)
        row = await selectHost(db, host.name)
      }
      if (!row) throw new Error(`host ${host.name} vanished while registering`)
      return toHostRow(row)
    },

    async reportBan(db, host, ban) {
      const hostId = await withRetry(adapter, async () => {
        const id = (await resolveHostIds(db, [host.name], host.machineId)).get(host.name)
        if (id === undefined) throw new Error(`host ${host.name} vanished while registering`)
        return id
      })
      return withRetry(adapter, () =>
        db.transaction().execute(async (trx) => {
          await trx
            .updateTable('hosts')
            .set({ last_seen: adapter.now(), machine_id: host.machineId ?? sql`machine_id` })
            .where('id', '=', hostId)
            .execute()
          const held = await pastFloodLimit(trx, adapter, hostId)
          const [banId] = await insertBansWithStatuses(trx, adapter, [{ ...ban, reporterId: hostId, reportKey: ban.reportKey ?? undefined, ageMs: saneAge(ban), held }])
          if (banId === undefined) throw new Error('insert returned no id')
          return { banId, held }
        }),
      )
    },

    async stampCommittedBans(db, limit) {
      const unstamped = await db.selectFrom('bans').select('id').where('seq', 'is', null).where('held_at', 'is', null).limit(1).executeTakeFirst()
      if (!unstamped) return 0
      return withRetry(adapter, () =>
        db.transaction().execute(async (trx) => {
          // The write lock comes first: SQLite cannot make a reading transaction wait for a writer.
          await trx.updateTable('ban_sequence').set({ value: sql`value` }).where('id', '=', 1).execute()
          const { value: last } = await trx.selectFrom('ban_sequence').select('value').where('id', '=', 1).executeTakeFirstOrThrow()
          const ids = (await trx.selectFrom('bans').select('id').where('seq', 'is', null).where('held_at', 'is', null).orderBy('id').limit(limit).execute()).map((r) =>
            Number(r.id),
          )
          const first = ids[0]
          const lastId = ids[ids.length - 1]
          if (first === undefined || lastId === undefined) return 0
          // seq = id shifted above the last stamp: unique and increasing within the batch with a
          // single UPDATE; the gaps it leaves do not matter to a cursor.
          const offset = Number(last) + 1 - first
          await trx
            .updateTable('bans')
            .set({ seq: sql`id + ${offset}` })
            .where('id', 'in', ids)
            .execute()
          await trx
            .updateTable('ban_sequence')
            .set({ value: lastId + offset })
            .where('id', '=', 1)
            .execute()
          return ids.length
        }),
      )
    },

    async recordDecisions(db, host, writes, cursorSeq) {
      await withRetry(adapter, () =>
        db.transaction().execute(async (trx) => {
          await recordStatuses(trx, adapter, host.id, writes)
          await moveCursor(trx, host.id, cursorSeq)
        }),
      )
    },

    async advanceCursor(db, host, seq) {
      await moveCursor(db, host.id, seq)
    },

    async recordResync(db, host, r) {
      await db
        .updateTable('hosts')
        .set({ firewall_backend: r.backend, resynced_at: adapter.now(), firewall_entries: r.entries, resync_drift: r.drift, drift_total: sql`drift_total + ${r.drift}` })
        .where('id', '=', host.id)
        .execute()
    },

    async markSwept(db, host, until) {
      await db.updateTable('hosts').set({ swept_until: until }).where('id', '=', host.id).execute()
    },

    async registerAddresses(db, host, addresses) {
      const wanted = [...new Set(addresses)]
      if (wanted.length === 0) return 0
      // Write first: a transaction that reads before it writes is the one SQLite cannot wait for.
      return withRetry(adapter, () =>
        db.transaction().execute(async (trx) => {
          const r = await trx
            .insertInto('host_addresses')
            .ignore()
            .values(wanted.map((address) => ({ host_id: host.id, address })))
            .executeTakeFirst()
          const added = Number(r.numInsertedOrUpdatedRows ?? 0)
          const { n } = await trx
            .selectFrom('host_addresses')
            .select((eb) => eb.fn.countAll<number>().as('n'))
            .where('host_id', '=', host.id)
            .executeTakeFirstOrThrow()
          if (Number(n) > MAX_HOST_ADDRESSES) throw new Error(`host ${host.name} would have more than ${MAX_HOST_ADDRESSES} registered addresses`)
          if (added > 0) await bumpAllowlistVersion(trx)
          return added
        }),
      )
    },
  }
}

function selectHost(db: Kysely<Database>, name: string) {
  return db.selectFrom('hosts').select(['id', 'name', 'cursor_seq', 'last_seen', 'swept_until']).where('name', '=', name).executeTakeFirst()
}

async function pastFloodLimit(trx: Transaction<Database>, adapter: DbAdapter, hostId: number): Promise<boolean> {
  const limit = await readFloodLimit(trx)
  const { n } = await trx
    .selectFrom('bans')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('reporter_id', '=', hostId)
    .where('held_at', 'is', null)
    .where('created_at', '>', adapter.nowPlusSeconds(-60))
    .executeTakeFirstOrThrow()
  return Number(n) >= limit
}

function saneAge(ban: ReportedBan): number {
  return ban.ageMs >= 0 && ban.ageMs <= MAX_REPORT_AGE_MS ? ban.ageMs : 0
}

/** Never backwards (two polls may overlap), never past the last stamp handed out. */
async function moveCursor(db: Kysely<Database> | Transaction<Database>, hostId: number, seq: number): Promise<void> {
  const last = sql<number>`(SELECT value FROM ban_sequence WHERE id = 1)`
  const target = sql<number>`CASE WHEN ${seq} < ${last} THEN ${seq} ELSE ${last} END`
  await db.updateTable('hosts').set({ cursor_seq: target }).where('id', '=', hostId).where('cursor_seq', '<', target).execute()
}

/**
 * New rows in multi-row INSERTs, changed rows in one UPDATE per (status, error). A row a
 * concurrent poll of the same host inserted first is kept (INSERT OR IGNORE): either
 * decision is valid.
 */
async function recordStatuses(trx: Transaction<Database>, adapter: DbAdapter, hostId: number, writes: readonly StatusWrite[]): Promise<void> {
  const bounded = writes.map((w) => ({ ...w, error: boundError(w.error) }))
  const fresh = bounded.filter((w) => w.previous === null)
  for (let i = 0; i < fresh.length; i += CHUNK) {
    const rows = fresh.slice(i, i + CHUNK).map((w) => ({ ban_id: w.banId, host_id: hostId, status: w.status, error: w.error }))
    await trx.insertInto('ban_status').ignore().values(rows).execute()
  }
  for (const group of groupUpdates(bounded.filter((w) => w.previous !== null))) {
    for (let i = 0; i < group.banIds.length; i += CHUNK) {
      await trx
        .updateTable('ban_status')
        .set({ status: group.status, error: group.error, updated_at: adapter.now() })
        .where('host_id', '=', hostId)
        .where('ban_id', 'in', group.banIds.slice(i, i + CHUNK))
        .execute()
    }
  }
}

/** An error text as stored: at most MAX_ERROR_LENGTH characters, so one long message never stops a host. */
export function boundError(error: string | null): string | null {
  if (error === null || error.length <= MAX_ERROR_LENGTH) return error
  return `${error.slice(0, MAX_ERROR_LENGTH - 1)}…`
}

function groupUpdates(writes: readonly StatusWrite[]) {
  const groups = new Map<string, { status: number; error: string | null; banIds: number[] }>()
  for (const w of writes) {
    const key = JSON.stringify([w.status, w.error])
    const g = groups.get(key) ?? { status: w.status, error: w.error, banIds: [] }
    g.banIds.push(w.banId)
    groups.set(key, g)
  }
  return groups.values()
}

export type { HostIdentity, HostRow }
