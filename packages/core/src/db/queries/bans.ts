import { sql, type RawBuilder, type Transaction } from 'kysely'
import type { BanReport } from '../../ban/ban-report.js'
import { F2bError } from '../../errors.js'
import { BanStatus } from '../../schema/ban-status.js'
import type { Database } from '../../schema/database.js'
import { fromDbTime, toDbTime } from '../../time/db-time.js'
import type { CentralDb, DbAdapter } from '../db-adapter.js'
import { withRetry } from '../retry.js'
import { isActiveBan } from './active-ban.js'
import { findOrCreateHost, touchHost } from './hosts.js'

/** A reporting host is past `bans.maxPerMinute`: its ban is refused, not stored. */
export class FloodGuardError extends F2bError {}

/** A ban to insert: validated fields, the reporter's host id, and when it started. */
export interface NewBan extends BanReport {
  readonly reporterId: number
  /** When the ban started; default: the database's now (host clocks never set a ban's times). */
  readonly reportedAt?: Date
  readonly reportKey?: string
  /** Statuses of hosts other than the reporter (an import of old records); the reporter always gets 1. */
  readonly otherStatuses?: readonly { readonly hostId: number; readonly status: number; readonly error: string | null }[]
}

/**
 * The one place a ban row is written: each ban with its reporter's status 1 (the reporting
 * host banned it itself) and any other statuses given, inside the caller's transaction, so
 * a ban never exists without its reporter's status. One INSERT per ban: the only insert id
 * both dialects report reliably is a single row's. Returns the new ids in order.
 */
export async function insertBansWithStatuses(trx: Transaction<Database>, adapter: DbAdapter, bans: readonly NewBan[]): Promise<number[]> {
  const ids: number[] = []
  const statuses: { ban_id: number; host_id: number; status: number; error: string | null }[] = []
  for (const ban of bans) {
    const result = await trx
      .insertInto('bans')
      .values({ ip: ban.ip, jail: ban.jail, protocol: ban.protocol, port: ban.port, reporter_id: ban.reporterId, bantime: ban.bantime, report_key: ban.reportKey ?? null, ...banTimes(adapter, ban) })
      .executeTakeFirstOrThrow()
    const banId = Number(result.insertId)
    ids.push(banId)
    statuses.push({ ban_id: banId, host_id: ban.reporterId, status: BanStatus.Added, error: null })
    for (const s of ban.otherStatuses ?? []) if (s.hostId !== ban.reporterId) statuses.push({ ban_id: banId, host_id: s.hostId, status: s.status, error: s.error })
  }
  for (let i = 0; i < statuses.length; i += STATUS_CHUNK) await trx.insertInto('ban_status').values(statuses.slice(i, i + STATUS_CHUNK)).execute()
  return ids
}

const STATUS_CHUNK = 500

function banTimes(adapter: DbAdapter, ban: NewBan): { created_at?: string; expires_at: string | RawBuilder<string> | null } {
  const permanent = ban.bantime < 0
  if (!ban.reportedAt) return { expires_at: permanent ? null : adapter.nowPlusSeconds(ban.bantime) }
  return { created_at: toDbTime(ban.reportedAt), expires_at: permanent ? null : toDbTime(new Date(ban.reportedAt.getTime() + ban.bantime * 1000)) }
}

export interface InsertBanOptions {
  /** Idempotency key; a second insert with the same key stores nothing and returns the first ban. */
  readonly reportKey?: string
  /** When the ban was first seen, for a ban shipped late from a spool; default: the database's now. */
  readonly reportedAt?: Date
  /** Flood guard: refuse when the reporter already stored this many bans in the last minute. */
  readonly maxPerMinute?: number
}

/**
 * Store a ban reported by `hostName` (add2db, the spool, `simulate`), with the reporter's
 * own status 1, in one transaction. Returns the ban's id; with a report key already stored,
 * the first ban's id and nothing new is written.
 */
export async function insertBan(central: CentralDb, hostName: string, machineId: string | null, ban: BanReport, options: InsertBanOptions = {}): Promise<number> {
  const { db, adapter } = central
  try {
    const hostId = await withRetry(adapter, () => findOrCreateHost(db, hostName, machineId))
    return await withRetry(adapter, () =>
      db.transaction().execute(async (trx) => {
        await touchHost(trx, adapter, hostId, machineId)
        if (options.maxPerMinute !== undefined) await checkFloodGuard(trx, adapter, hostId, hostName, ban, options.maxPerMinute)
        const [banId] = await insertBansWithStatuses(trx, adapter, [{ ...ban, reporterId: hostId, reportKey: options.reportKey, reportedAt: options.reportedAt }])
        if (banId === undefined) throw new Error('insert returned no id')
        return banId
      }),
    )
  } catch (err) {
    if (err instanceof FloodGuardError) await countRefusal(central, hostName)
    if (!options.reportKey || !adapter.isDuplicateKey(err)) throw err
    const first = await db.selectFrom('bans').select('id').where('report_key', '=', options.reportKey).executeTakeFirst()
    if (!first) throw err
    return Number(first.id)
  }
}

async function checkFloodGuard(trx: Transaction<Database>, adapter: DbAdapter, hostId: number, hostName: string, ban: BanReport, maxPerMinute: number): Promise<void> {
  const { n } = await trx
    .selectFrom('bans')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('reporter_id', '=', hostId)
    .where('created_at', '>', adapter.nowPlusSeconds(-60))
    .executeTakeFirstOrThrow()
  if (Number(n) >= maxPerMinute) {
    throw new FloodGuardError(`flood guard: ${hostName} reported ${Number(n)} bans in the last minute (bans.maxPerMinute ${maxPerMinute}); ${ban.ip} refused`, {
      hint: 'if this host is under a real attack, raise bans.maxPerMinute; otherwise check it is not compromised',
    })
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

/**
 * Store addresses as bans of one jail reported by one host (an `import`), in one
 * transaction, leaving out those already actively banned in that jail so an import can be
 * re-run. Expiry comes from the database's clock.
 */
export async function storeListedBans(central: CentralDb, reporterId: number, jail: string, ips: readonly string[], bantime: number): Promise<{ stored: number; skipped: number }> {
  const { db, adapter } = central
  return withRetry(adapter, () =>
    db.transaction().execute(async (trx) => {
      const active = ips.length === 0 ? [] : await trx.selectFrom('bans as b').select('b.ip').where('b.jail', '=', jail).where('b.ip', 'in', ips).where(isActiveBan(adapter)).execute()
      const skip = new Set(active.map((r) => r.ip))
      const fresh = ips.filter((ip) => !skip.has(ip)).map((ip): NewBan => ({ ip, jail, protocol: 'tcp', port: '0:65535', bantime, reporterId }))
      const ids = await insertBansWithStatuses(trx, adapter, fresh)
      return { stored: ids.length, skipped: skip.size }
    }),
  )
}

/** When a ban expires (null: permanent), as stored. */
export async function readBanExpiry(central: CentralDb, banId: number): Promise<string | null> {
  const row = await central.db.selectFrom('bans').select('expires_at').where('id', '=', banId).executeTakeFirstOrThrow()
  return row.expires_at
}

/** A ban from an earlier system's records (`import --legacy`): its original time and reporter's name kept. */
export interface RecordedBan extends NewBan {
  readonly reportedAt: Date
  readonly reporter: string
}

/**
 * Store bans copied from old records in one transaction, leaving out those already
 * imported (same address, jail, reporter and time), so the import can be re-run.
 */
export async function storeRecordedBans(central: CentralDb, bans: readonly RecordedBan[]): Promise<{ stored: number; alreadyImported: number; statuses: number }> {
  const { db, adapter } = central
  if (bans.length === 0) return { stored: 0, alreadyImported: 0, statuses: 0 }
  return withRetry(adapter, () =>
    db.transaction().execute(async (trx) => {
      const existing = await trx
        .selectFrom('bans as b')
        .innerJoin('hosts as r', 'r.id', 'b.reporter_id')
        .select(['b.ip', 'b.jail', 'b.created_at', 'r.name'])
        .where('b.ip', 'in', [...new Set(bans.map((b) => b.ip))])
        .execute()
      const seen = new Set(existing.map((e) => recordKey(e.ip, e.jail, e.name, fromDbTime(e.created_at))))
      const fresh: RecordedBan[] = []
      for (const ban of bans) {
        const key = recordKey(ban.ip, ban.jail, ban.reporter, ban.reportedAt)
        if (seen.has(key)) continue
        seen.add(key)
        fresh.push(ban)
      }
      await insertBansWithStatuses(trx, adapter, fresh)
      const statuses = fresh.reduce((n, b) => n + 1 + (b.otherStatuses ?? []).filter((s) => s.hostId !== b.reporterId).length, 0)
      return { stored: fresh.length, alreadyImported: bans.length - fresh.length, statuses }
    }),
  )
}

function recordKey(ip: string, jail: string, reporter: string, at: Date): string {
  return JSON.stringify([ip, jail, reporter, toDbTime(at)])
}
