import type { Db } from '../db/db-adapter.js'

/**
 * Ids of the named hosts, registering the ones that are missing. Unlike registerHost (the
 * heartbeat) it leaves existing hosts' last_seen alone: an import or an operator command
 * says nothing about whether those hosts are alive.
 */
export async function ensureHosts(db: Db, names: readonly string[]): Promise<Map<string, number>> {
  const wanted = [...new Set(names)]
  if (wanted.length === 0) return new Map()
  const known = async () => new Map((await db.selectFrom('hosts').select(['id', 'name']).where('name', 'in', wanted).execute()).map((r) => [r.name, Number(r.id)]))
  let ids = await known()
  const missing = wanted.filter((n) => !ids.has(n))
  if (missing.length > 0) {
    await db.insertInto('hosts').ignore().values(missing.map((name) => ({ name }))).execute()
    ids = await known()
  }
  return ids
}
