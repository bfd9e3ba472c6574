import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { inject } from 'vitest'
import { openDatabase } from '@f2b-central/core/db/open-database'
import { migrateToLatest } from '@f2b-central/core/db/migrate'
import { parseDatabaseUrl } from '@f2b-central/core/config/database-url'
import type { CentralDb } from '@f2b-central/core/db/db-adapter'
import { createMysqlDatabase } from './mariadb.js'

export type DialectName = 'sqlite' | 'mysql'

/**
 * The dialects this run tests (kysely's DIALECTS pattern): SQLite always, MySQL when the
 * global setup found a server. `DIALECTS=sqlite` or `DIALECTS=mysql` narrows it.
 */
export function dialects(): DialectName[] {
  const wanted = (process.env.DIALECTS ?? 'sqlite,mysql').split(',')
  const all: DialectName[] = inject('mysqlAvailable') ? ['sqlite', 'mysql'] : ['sqlite']
  return all.filter((d) => wanted.includes(d))
}

/** A fresh, empty database of one dialect: its URL, and how to remove it. */
export interface TestDatabase {
  readonly dialect: DialectName
  readonly url: string
  readonly dir: string
  open(): Promise<CentralDb>
  /** Open and migrate; the caller closes it. */
  openMigrated(): Promise<CentralDb>
  drop(): Promise<void>
}

export async function createTestDatabase(dialect: DialectName): Promise<TestDatabase> {
  const dir = mkdtempSync(join(tmpdir(), `f2b-${dialect}-`))
  const mysql = dialect === 'mysql' ? await createMysqlDatabase() : undefined
  const url = mysql ? mysql.url : `sqlite:${join(dir, 'central.sqlite')}`
  const open = () => openDatabase(parseDatabaseUrl(url), { timeoutMs: 5000 })
  return {
    dialect,
    url,
    dir,
    open,
    async openMigrated() {
      const central = await open()
      await migrateToLatest(central)
      return central
    },
    async drop() {
      await mysql?.drop()
      rmSync(dir, { recursive: true, force: true })
    },
  }
}
