import type { ColumnType, Generated } from 'kysely'

/**
 * Timestamps are UTC text `YYYY-MM-DD HH:MM:SS.fff` on both dialects (mysql2 runs with
 * `dateStrings`), set by the database, never by a host's clock.
 */
type DbTime = ColumnType<string, string | undefined, string>
/** BIGINT columns arrive as numbers (mysql2 `supportBigNumbers` without `bigNumberStrings` stays exact below 2^53). */
type Id = Generated<number>

export interface HostsTable {
  id: Id
  name: string
  machine_id: string | null
  first_seen: DbTime
  last_seen: DbTime
  /** Highest `bans.seq` this host has fully processed. */
  cursor_seq: ColumnType<number, number | undefined, number>
  /** Reports the flood guard refused. */
  refused_bans: ColumnType<number, number | undefined, unknown>
  /** Fleet bans that ran out before this time have been taken out of the host's shared jail. */
  swept_until: ColumnType<string | null, unknown, unknown>
  /** The kernel firewall readdb feeds (`nftables`, `ipset`), NULL for none (migration 0008). */
  firewall_backend: ColumnType<string | null, unknown, unknown>
  /** The last firewall resync. */
  resynced_at: ColumnType<string | null, unknown, unknown>
  /** Entries the sets held after it. */
  firewall_entries: ColumnType<number | null, unknown, unknown>
  /** Entries it had to change: the drift it found. */
  resync_drift: ColumnType<number | null, unknown, unknown>
  /** Drift summed over every resync. */
  drift_total: ColumnType<number, unknown, unknown>
}

export interface BansTable {
  id: Id
  /** Commit-order stamp, NULL until a poller stamps the committed row. */
  seq: ColumnType<number | null, never, number | null>
  ip: string
  jail: string
  protocol: string
  port: string
  reporter_id: number
  bantime: number
  created_at: DbTime
  expires_at: ColumnType<string | null, unknown, string | null>
  /** Idempotency key made where the ban was first seen (add2db, or its spool). */
  report_key: string | null
  /** Set by an operator's unban. */
  revoked_at: ColumnType<string | null, unknown, unknown>
  revoked_by: string | null
  /** Past the fleet's flood limit: stored, but not stamped (so not applied) until an operator releases it. */
  held_at: ColumnType<string | null, unknown, unknown>
}

export interface HostAccountsTable {
  /** The MySQL/MariaDB user name that speaks for the host. */
  account: string
  /** Where it may connect from: the host part of 'account'@'account_host'. */
  account_host: string
  host_id: number
  created_at: DbTime
}

export interface FleetSettingsTable {
  id: number
  /** Bans one host may report per minute before further reports are held. */
  max_bans_per_minute: number
}

export interface AllowlistTable {
  id: Id
  /** Canonical network: `203.0.113.0/24`, `2001:db8::/32`, or an address as /32 or /128. */
  network: string
  reason: string | null
  added_by: string
  created_at: DbTime
}

export interface HostAddressesTable {
  host_id: number
  /** Canonical address. */
  address: string
  created_at: DbTime
}

export interface AllowlistVersionTable {
  id: number
  version: number
}

export interface BanStatusTable {
  host_id: number
  ban_id: number
  status: number
  error: string | null
  updated_at: DbTime
}

export interface BanSequenceTable {
  id: number
  value: number
}

export interface BanHostStatusView {
  ban_id: number
  ip: string
  jail: string
  protocol: string
  port: string
  added_by: string
  created_at: string
  expires_at: string | null
  host: string
  status: number
  updated_at: string | null
  error: string | null
}

export interface Database {
  hosts: HostsTable
  bans: BansTable
  ban_status: BanStatusTable
  ban_sequence: BanSequenceTable
  ban_host_status: BanHostStatusView
  allowlist: AllowlistTable
  allowlist_version: AllowlistVersionTable
  host_addresses: HostAddressesTable
  host_accounts: HostAccountsTable
  fleet_settings: FleetSettingsTable
  kysely_migration: { name: string; timestamp: string }
}
