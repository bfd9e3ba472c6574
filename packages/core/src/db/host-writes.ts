import type { Kysely } from 'kysely'
import type { BanReport } from '../ban/ban-report.js'
import type { Database } from '../schema/database.js'

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

/** The hosts columns both dialects' heartbeats read, as the driver returns them. */
export interface HostColumns {
  readonly id: number | string
  readonly name: string
  readonly cursor_seq: number | string
  readonly last_seen: unknown
  readonly swept_until: unknown
}

/** A HostRow from the hosts columns (numbers may come back as strings, times as Dates or text). */
export function toHostRow(row: HostColumns): HostRow {
  return {
    id: Number(row.id),
    name: row.name,
    cursorSeq: Number(row.cursor_seq),
    lastSeen: String(row.last_seen),
    sweptUntil: row.swept_until === null ? null : String(row.swept_until),
  }
}

/** Who is writing: the configured host name, and this machine's id. */
export interface HostIdentity {
  readonly name: string
  readonly machineId: string | null
}

/** One ban as a host reports it. */
export interface ReportedBan extends BanReport {
  /** Idempotency key; the same key stored twice is a duplicate-key error. */
  readonly reportKey: string | null
  /** How long ago the ban was first seen (a spooled ban shipped late); the database bounds it. */
  readonly ageMs: number
}

export interface StoredReport {
  readonly banId: number
  /** Past the fleet's flood limit: stored, not applied by other hosts until an operator releases it. */
  readonly held: boolean
}

/** One (ban, host) status to record, and the status the host had before (null: no row yet). */
export interface StatusWrite {
  readonly banId: number
  readonly status: number
  readonly error: string | null
  readonly previous: number | null
}

/**
 * Every write a host makes (add2db and readdb), behind one interface: on MySQL/MariaDB
 * through the host routines, which take the host from the session's account and let a
 * stolen host password write nothing for another host; on SQLite (one machine, no
 * accounts) as plain statements. Operators' writes (unban, allowlist, import, purge) are
 * not here: they are plain statements on both.
 */
export interface HostWrites {
  /** Register the host or refresh its last_seen, and return its row. Outside any transaction. */
  heartbeat(db: Kysely<Database>, host: HostIdentity): Promise<HostRow>
  /** Store one ban with the reporter's status 1 in one transaction; past the flood limit, held. */
  reportBan(db: Kysely<Database>, host: HostIdentity, ban: ReportedBan): Promise<StoredReport>
  /** Stamp up to `limit` committed, unheld bans with commit-order `seq` values; returns how many. */
  stampCommittedBans(db: Kysely<Database>, limit: number): Promise<number>
  /** A poll batch's statuses and the cursor moved to `cursorSeq`, in one transaction. */
  recordDecisions(db: Kysely<Database>, host: HostRow, writes: readonly StatusWrite[], cursorSeq: number): Promise<void>
  /** Move the cursor forward (never back, never past the last stamp handed out). */
  advanceCursor(db: Kysely<Database>, host: HostRow, seq: number): Promise<void>
  /** Record that the fleet bans that ran out up to `until` have been taken out locally. */
  markSwept(db: Kysely<Database>, host: HostRow, until: string): Promise<void>
  /** Record a firewall resync: the backend, the entries the sets hold, and the drift it found (added to the host's total). */
  recordResync(db: Kysely<Database>, host: HostRow, resync: ResyncRecord): Promise<void>
  /** Register single addresses as this host's own; returns how many were new. */
  registerAddresses(db: Kysely<Database>, host: HostRow, addresses: readonly string[]): Promise<number>
}

/** A firewall resync as stored with its host. */
export interface ResyncRecord {
  readonly backend: 'nftables' | 'ipset'
  readonly entries: number
  readonly drift: number
}

/** Most addresses one host may register as its own (a stolen account must not allowlist much). */
export const MAX_HOST_ADDRESSES = 64
/** Longest error text stored with a status (`ban_status.error`). */
export const MAX_ERROR_LENGTH = 1000
/** Oldest report age kept when a spooled ban is shipped; anything older or negative is a clock gone wrong. */
export const MAX_REPORT_AGE_MS = 30 * 86400 * 1000
