import { sql, type Kysely, type RawBuilder } from 'kysely'
import type { Database } from '../../schema/database.js'
import { toHostRow, type HostWrites } from '../host-writes.js'
import { withRetry } from '../retry.js'
import { errorProperty } from '../driver-errors.js'
import { mysqlErrors } from './mysql-errors.js'

const ER_LOCK_DEADLOCK = 1213

/**
 * The host writes on MySQL/MariaDB: one CALL of a host routine each (host-routines.ts), so
 * a host account needs no write privilege at all. A CALL returns its SELECT as the first
 * result set.
 */
export const routineHostWrites: HostWrites = {
  async heartbeat(db, host) {
    const [row] = await retried(() =>
      callRows<{ id: number; name: string; cursor_seq: number; last_seen: string; swept_until: string | null }>(db, sql`CALL f2b_heartbeat(${host.name}, ${host.machineId})`),
    )
    if (!row) throw new Error(`host ${host.name}: f2b_heartbeat returned no row`)
    return toHostRow(row)
  },

  async reportBan(db, host, ban) {
    const [row] = await retried(() =>
      callRows<{ ban_id: number; held: number }>(
        db,
        sql`CALL f2b_report_ban(${host.name}, ${host.machineId}, ${ban.ip}, ${ban.jail}, ${ban.protocol}, ${ban.port}, ${ban.bantime}, ${ban.reportKey}, ${Math.round(ban.ageMs)})`,
      ),
    )
    if (!row) throw new Error('f2b_report_ban returned no row')
    return { banId: Number(row.ban_id), held: Number(row.held) === 1 }
  },

  async stampCommittedBans(db, limit) {
    // A plain read first: an idle poll takes no lock, and inside the routine a check like
    // this one would be a locking read (see host-routines.ts). It is part of what a retry
    // runs again: on Galera, stampers on two nodes conflict at COMMIT and one is rolled back;
    // run again, it usually finds the winner stamped everything and stops there.
    const stamp = async () => {
      const unstamped = await db.selectFrom('bans').select('id').where('seq', 'is', null).where('held_at', 'is', null).limit(1).executeTakeFirst()
      if (!unstamped) return 0
      const [row] = await callRows<{ stamped: number }>(db, sql`CALL f2b_stamp(${limit})`)
      return Number(row?.stamped ?? 0)
    }
    try {
      return await retried(stamp)
    } catch (err) {
      // Still losing at COMMIT after every retry: other pollers keep stamping (a busy cluster).
      // A rolled-back stamper handed out nothing, and what it would have stamped is stamped
      // by the winners or the next poll, so this poll goes on with the stamps there are.
      if (errorProperty(err, 'errno') === ER_LOCK_DEADLOCK) return 0
      throw err
    }
  },

  async recordDecisions(db, host, writes, cursorSeq) {
    const decisions = writes.map((w) => [w.banId, w.status, w.error, w.previous === null ? 1 : 0])
    await retried(() => sql`CALL f2b_record_decisions(${host.name}, ${JSON.stringify(decisions)}, ${cursorSeq})`.execute(db))
  },

  async advanceCursor(db, host, seq) {
    await retried(() => sql`CALL f2b_advance_cursor(${host.name}, ${seq})`.execute(db))
  },

  async markSwept(db, host, until) {
    await sql`CALL f2b_mark_swept(${host.name}, ${until})`.execute(db)
  },

  async recordResync(db, host, r) {
    await retried(() => sql`CALL f2b_record_resync(${host.name}, ${r.backend}, ${r.entries}, ${r.drift})`.execute(db))
  },

  async registerAddresses(db, host, addresses) {
    if (addresses.length === 0) return 0
    const [row] = await retried(() => callRows<{ added: number }>(db, sql`CALL f2b_register_addresses(${host.name}, ${JSON.stringify([...new Set(addresses)])})`))
    return Number(row?.added ?? 0)
  },
}

// Each routine is one whole transaction: a deadlock or lock wait simply runs it again.
function retried<T>(work: () => Promise<T>): Promise<T> {
  return withRetry(mysqlErrors, work)
}

async function callRows<T>(db: Kysely<Database>, call: RawBuilder<unknown>): Promise<T[]> {
  const { rows } = await call.execute(db)
  const first = rows[0]
  return Array.isArray(first) ? (first as T[]) : []
}
