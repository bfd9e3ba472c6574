import type { CentralDb } from '../db-adapter.js'
import { asFlag, isActiveBan } from './active-ban.js'

/** The newest `limit` bans of one stored address (newest first), each flagged active or not. */
export async function selectBansOfAddress(central: CentralDb, ip: string, limit: number) {
  const { db, adapter } = central
  return db
    .selectFrom('bans as b')
    .innerJoin('hosts as r', 'r.id', 'b.reporter_id')
    .select(['b.id', 'b.jail', 'b.protocol', 'b.port', 'b.bantime', 'b.created_at', 'b.expires_at', 'b.revoked_at', 'r.name as reporter'])
    .select(asFlag(isActiveBan(adapter)).as('active'))
    .where('b.ip', '=', ip)
    .orderBy('b.created_at', 'desc')
    .orderBy('b.id', 'desc')
    .limit(limit)
    .execute()
}

/** Every registered host's status for these bans of `ip` (view ban_host_status), by host name. */
export async function selectHostStatuses(central: CentralDb, ip: string, banIds: readonly number[]) {
  if (banIds.length === 0) return []
  return central.db
    .selectFrom('ban_host_status')
    .select(['ban_id', 'host', 'status', 'updated_at', 'error'])
    .where('ip', '=', ip)
    .where('ban_id', 'in', banIds)
    .orderBy('host')
    .execute()
}
