import { knownMigrationNames } from '@f2b-central/migrations'
import { SchemaError } from '../errors.js'
import type { CentralDb } from './db-adapter.js'

// Apart from migrate.ts so that add2db and readdb, which only check the schema, never load
// kysely's Migrator.
/**
 * Refuse to work on a database whose schema is not exactly the one this build knows:
 * an unmigrated database would fail half-way, a newer one could be misread.
 */
export async function assertSchemaCurrent(central: CentralDb): Promise<void> {
  let applied: string[]
  try {
    const rows = await central.db.selectFrom('kysely_migration').select('name').orderBy('name').execute()
    applied = rows.map((r) => r.name)
  } catch (err) {
    if (central.adapter.isMissingTable(err)) {
      throw new SchemaError('the database has no f2b-central schema', { hint: 'run `f2b-central migrate` first' })
    }
    throw err
  }
  const unknown = applied.filter((n) => !knownMigrationNames.includes(n))
  if (unknown.length > 0) {
    throw new SchemaError(`the database schema is newer than this f2b-central (unknown migration ${unknown.join(', ')})`, {
      hint: 'upgrade f2b-central on this host',
    })
  }
  const pending = knownMigrationNames.filter((n) => !applied.includes(n))
  if (pending.length > 0) {
    throw new SchemaError(`the database schema is not up to date (pending: ${pending.join(', ')})`, {
      hint: 'run `f2b-central migrate`',
    })
  }
}
