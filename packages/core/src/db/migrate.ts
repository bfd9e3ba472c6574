import { Migrator, type Kysely, type MigrationResult } from 'kysely'
import { allMigrations } from '@f2b-central/migrations'
import { DatabaseError } from '../errors.js'
import type { CentralDb } from './db-adapter.js'

function migratorFor(central: CentralDb): Migrator {
  return new Migrator({
    db: central.db,
    provider: { getMigrations: async () => allMigrations(central.adapter) },
  })
}

/**
 * Apply every pending migration, then install (or replace) the dialect's host routines,
 * so an upgrade always brings the routines its code calls. Returns what ran; throws
 * DatabaseError naming the failed migration.
 */
export async function migrateToLatest(central: CentralDb): Promise<MigrationResult[]> {
  const { error, results = [] } = await migratorFor(central).migrateToLatest()
  if (error) {
    const failed = results.find((r) => r.status === 'Error')?.migrationName
    // No migration ran (the database could not be reached): the caller's error says it best.
    if (!failed) throw error
    throw new DatabaseError(`migration ${failed} failed: ${error instanceof Error ? error.message : String(error)}`, { cause: error })
  }
  try {
    await central.adapter.installRoutines(central.db as unknown as Kysely<unknown>)
  } catch (err) {
    throw new DatabaseError(`installing the host routines failed: ${err instanceof Error ? err.message : String(err)}`, {
      cause: err,
      hint: 'migrate needs an account with CREATE ROUTINE (the operator account)',
    })
  }
  return results
}

export interface MigrationState {
  readonly name: string
  readonly appliedAt: Date | undefined
}

/** Every known migration with when it was applied (undefined: pending). */
export async function migrationStatus(central: CentralDb): Promise<MigrationState[]> {
  const infos = await migratorFor(central).getMigrations()
  return infos.map((m) => ({ name: m.name, appliedAt: m.executedAt }))
}
