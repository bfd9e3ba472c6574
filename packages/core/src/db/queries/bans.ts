import { sql } from 'kysely'
import type { BanReport } from '../../ban/ban-report.js'
import { F2bError } from '../../errors.js'
import { toDbTime } from '../../time/db-time.js'
import { BanStatus } from '../../schema/ban-status.js'
import type { CentralDb } from '../db-adapter.js'
import { withRetry } from '../retry.js'
import { findOrCreateHost, touchHost } from './hosts.js'

/** A reporting host is past `bans.maxPerMinute`: its ban is refused, not stored. */
export class FloodGuardError extends F2bError {}

export interface InsertBanOptions {
  /** Idempotency key; a second insert with the same key stores nothing and returns the first ban. */
  readonly reportKey?: string
  /** When the ban was first seen, for a ban shipped late from a spool; default: the database's now. */
  readonly reportedAt?: Date
  /** Flood guard: refuse when the reporter already stored this many bans in the last minute. */
  readonly maxPerMinute?: number
}

export interface InsertedBan {
  readonly banId: number
  /** The report key was already stored: nothing new was written. */
  readonly duplicate: boolean
}

/**
 * Store a ban reported by `hostName`, and the reporter's own status 1, in one transaction:
 * either both are stored or neither. Created and expiry times come from the database clock,
 * except for a late-shipped ban, which keeps the time it was first seen.
 */
export async function storeBan(central: CentralDb, hostName: string, machineId: string | null, ban: BanReport, options: InsertBanOptions = {}): Promise<InsertedBan> {
  const { db, adapter } = central
  try {
    const hostId = await withRetry(adapter, () => findOrCreateHost(db, hostName, machineId))
    return await withRetry(adapter, () =>
      db.transaction().execute(async (trx) => {
        await touchHost(trx, adapter, hostId, machineId)
        if (options.maxPerMinute !== undefined) {
          const { n } = await trx
            .selectFrom('bans')
            .select((eb) => eb.fn.countAll<number>().as('n'))
            .where('reporter_id', '=', hostId)
            .where('created_at', '>', adapter.nowPlusSeconds(-60))
            .executeTakeFirstOrThrow()
          if (Number(n) >= options.maxPerMinute) {
            throw new FloodGuardError(`flood guard: ${hostName} reported ${Number(n)} bans in the last minute (bans.maxPerMinute ${options.maxPerMinute}); ${ban.ip} refused`, {
              hint: 'if this host is under a real attack, raise bans.maxPerMinute; otherwise check it is not compromised',
            })
          }
        }
        const times = options.reportedAt ? fixedTimes(options.reportedAt, ban.bantime) : { expires_at: ban.bantime < 0 ? null : adapter.nowPlusSeconds(ban.bantime) }
        const result = await trx
          .insertInto('bans')
          .values({ ip: ban.ip, jail: ban.jail, protocol: ban.protocol, port: ban.port, reporter_id: hostId, bantime: ban.bantime, report_key: options.reportKey ?? null, ...times })
          .executeTakeFirstOrThrow()
        const banId = Number(result.insertId)
        await trx.insertInto('ban_status').values({ ban_id: banId, host_id: hostId, status: BanStatus.Added, error: null }).execute()
        return { banId, duplicate: false }
      }),
    )
  } catch (err) {
    if (err instanceof FloodGuardError) await countRefusal(central, hostName)
    if (!options.reportKey || !adapter.isDuplicateKey(err)) throw err
    const first = await db.selectFrom('bans').select('id').where('report_key', '=', options.reportKey).executeTakeFirst()
    if (!first) throw err
    return { banId: Number(first.id), duplicate: true }
  }
}

// Counted outside the refused transaction, which rolled back.
async function countRefusal(central: CentralDb, hostName: string): Promise<void> {
  await central.db
    .updateTable('hosts')
    .set({ refused_bans: sql`refused_bans + 1` })
    .where('name', '=', hostName)
    .execute()
}

/** storeBan for callers that only need the new ban's id. */
export async function insertBan(central: CentralDb, hostName: string, machineId: string | null, ban: BanReport, options: InsertBanOptions = {}): Promise<number> {
  return (await storeBan(central, hostName, machineId, ban, options)).banId
}

function fixedTimes(reportedAt: Date, bantime: number): { created_at: string; expires_at: string | null } {
  return { created_at: toDbTime(reportedAt), expires_at: bantime < 0 ? null : toDbTime(new Date(reportedAt.getTime() + bantime * 1000)) }
}
