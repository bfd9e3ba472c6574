import type { RawBuilder, Transaction } from 'kysely'
import type { BanReport } from '../../ban/ban-report.js'
import { BanStatus } from '../../schema/ban-status.js'
import type { Database } from '../../schema/database.js'
import { fromDbTime, toDbTime } from '../../time/db-time.js'
import type { CentralDb, DbAdapter } from '../db-adapter.js'
import { withRetry } from '../retry.js'
import { isActiveBan } from './active-ban.js'
import type { StoredReport } from '../host-writes.js'

/** A ban to insert: validated fields, the reporter's host id, and when it started. */
export interface NewBan extends BanReport {
  readonly reporterId: number
  /** When the ban started, for old records (`import --legacy`); default: the database's now less `ageMs`. */
  readonly reportedAt?: Date
  /** How long before the database's now the ban started (a spooled report); default 0. */
  readonly ageMs?: number
  /** Stored past the flood limit: not stamped, so not applied, until an operator releases it. */
  readonly held?: boolean
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
      .values({
        ip: ban.ip,
        jail: ban.jail,
        protocol: ban.protocol,
        port: ban.port,
        reporter_id: ban.reporterId,
        bantime: ban.bantime,
        report_key: ban.reportKey ?? null,
        held_at: ban.held ? adapter.now() : null,
        ...banTimes(adapter, ban),
      })
      .executeTakeFirstOrThrow()
    const banId = Number(result.insertId)
    ids.push(banId)
    statuses.push({ ban_id: banId, host_id: ban.reporterId, status: BanStatus.Added, error: null })
    for (const s of ban.otherStatuses ?? []) if (s.hostId !== ban.reporterId) statuses.push({ ban_id: banId, host_id: s.hostId, status: s.status, error: s.error })
  }
  for (let i = 0; i < statuses.length; i += STATUS_CHUNK)
    await trx
      .insertInto('ban_status')
      .values(statuses.slice(i, i + STATUS_CHUNK))
      .execute()
  return ids
}

const STATUS_CHUNK = 500

function banTimes(adapter: DbAdapter, ban: NewBan): { created_at?: string | RawBuilder<string>; expires_at: string | RawBuilder<string> | null } {
  const permanent = ban.bantime < 0
  if (!ban.reportedAt) {
    const age = Math.round(ban.ageMs ?? 0) / 1000
    if (age === 0) return { expires_at: permanent ? null : adapter.nowPlusSeconds(ban.bantime) }
    return { created_at: adapter.nowPlusSeconds(-age), expires_at: permanent ? null : adapter.nowPlusSeconds(ban.bantime - age) }
  }
  return { created_at: toDbTime(ban.reportedAt), expires_at: permanent ? null : toDbTime(new Date(ban.reportedAt.getTime() + ban.bantime * 1000)) }
}

export interface InsertBanOptions {
  /** Idempotency key; a second insert with the same key stores nothing and returns the first ban. */
  readonly reportKey?: string
  /** How long ago the ban was first seen, for a ban shipped late from a spool (the database bounds it). */
  readonly ageMs?: number
}

/**
 * Store a ban reported by `hostName` (add2db, the spool, `simulate`), with the reporter's
 * own status 1, in one transaction, through the dialect's host writes (on MySQL the host
 * routine, which takes the host from the account). Past the fleet's flood limit the ban is
 * stored held. With a report key already stored, returns the first ban and writes nothing.
 */
export async function storeReport(central: CentralDb, hostName: string, machineId: string | null, ban: BanReport, options: InsertBanOptions = {}): Promise<StoredReport> {
  const { db, adapter } = central
  try {
    return await adapter.hostWrites.reportBan(db, { name: hostName, machineId }, { ...ban, reportKey: options.reportKey ?? null, ageMs: options.ageMs ?? 0 })
  } catch (err) {
    if (!options.reportKey || !adapter.isDuplicateKey(err)) throw err
    const first = await db.selectFrom('bans').select(['id', 'held_at']).where('report_key', '=', options.reportKey).executeTakeFirst()
    if (!first) throw err
    return { banId: Number(first.id), held: first.held_at !== null }
  }
}

/** storeReport for callers that only need the ban's id. */
export async function insertBan(central: CentralDb, hostName: string, machineId: string | null, ban: BanReport, options: InsertBanOptions = {}): Promise<number> {
  return (await storeReport(central, hostName, machineId, ban, options)).banId
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
      const active =
        ips.length === 0 ? [] : await trx.selectFrom('bans as b').select('b.ip').where('b.jail', '=', jail).where('b.ip', 'in', ips).where(isActiveBan(adapter)).execute()
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
