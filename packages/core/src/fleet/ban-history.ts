import type { CentralDb } from '../db/db-adapter.js'
import { selectBansOfAddress, selectHostStatuses } from '../db/queries/ban-history.js'
import { banStatusName } from '../schema/ban-status.js'
import { dbTimeToIso } from '../time/db-time.js'
import type { BanFields } from './ban-fields.js'

/** What one host did with one ban (a row of the view ban_host_status). */
export interface HostBanStatus {
  readonly host: string
  readonly status: number
  /** `added`, `already banned`, … (README's status table). */
  readonly statusName: string
  /** null: the host has no row yet (status 0 from the view). */
  readonly updatedAt: string | null
  readonly error: string | null
}

/** One ban of an address, with every registered host's status. Times are ISO 8601 UTC. */
export interface BanRecord extends BanFields {
  readonly id: number
  readonly revokedAt: string | null
  /** Neither expired nor revoked. */
  readonly active: boolean
  readonly hosts: readonly HostBanStatus[]
}

export interface BanHistory {
  readonly ip: string
  /** Oldest first. */
  readonly bans: readonly BanRecord[]
}

// An address with more bans than this is shown from its newest ones.
const MAX_BANS = 500

/**
 * Everything that happened to one address across the fleet: each of its bans (the newest
 * 500 at most) and each host's status for it from `ban_host_status`. `ip` must already be
 * canonical (parseIp), as stored.
 */
export async function readBanHistory(central: CentralDb, ip: string): Promise<BanHistory> {
  const bans = await selectBansOfAddress(central, ip, MAX_BANS)
  bans.reverse()
  const statuses = await selectHostStatuses(
    central,
    ip,
    bans.map((b) => Number(b.id)),
  )
  const byBan = new Map<number, HostBanStatus[]>()
  for (const s of statuses) {
    const list = byBan.get(Number(s.ban_id)) ?? []
    list.push({ host: s.host, status: Number(s.status), statusName: banStatusName(Number(s.status)), updatedAt: dbTimeToIso(s.updated_at), error: s.error })
    byBan.set(Number(s.ban_id), list)
  }
  return {
    ip,
    bans: bans.map((b) => ({
      id: Number(b.id),
      jail: b.jail,
      protocol: b.protocol,
      port: b.port,
      reporter: b.reporter,
      bantime: Number(b.bantime),
      createdAt: dbTimeToIso(b.created_at) ?? '',
      expiresAt: dbTimeToIso(b.expires_at),
      revokedAt: dbTimeToIso(b.revoked_at as string | null),
      active: Number(b.active) === 1,
      hosts: byBan.get(Number(b.id)) ?? [],
    })),
  }
}
