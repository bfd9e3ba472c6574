import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { inject } from 'vitest'
import { openDatabase } from '@f2b-central/core/db/open-database'
import { migrateToLatest } from '@f2b-central/core/db/migrate'
import { parseDatabaseUrl } from '@f2b-central/core/config/database-url'
import type { CentralDb } from '@f2b-central/core/db/db-adapter'
import { createOperatorAccount, dropDatabaseAccounts, type DatabaseLogin } from './database-logins.js'
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
  /** The operator's account (MySQL: sql/grants.sql's, not root); undefined on SQLite. */
  readonly operator: DatabaseLogin | undefined
  /** Open as root (MySQL), for the test's own seeding and checks. */
  open(): Promise<CentralDb>
  /** Migrate as the operator (as `f2b-central migrate` would), then open as root; the caller closes it. */
  openMigrated(): Promise<CentralDb>
  drop(): Promise<void>
}

export async function createTestDatabase(dialect: DialectName): Promise<TestDatabase> {
  const dir = mkdtempSync(join(tmpdir(), `f2b-${dialect}-`))
  const mysql = dialect === 'mysql' ? await createMysqlDatabase() : undefined
  const url = mysql ? mysql.url : `sqlite:${join(dir, 'central.sqlite')}`
  const operator = mysql ? await createOperatorAccount(mysql.name, dir, url) : undefined
  const open = () => openDatabase(parseDatabaseUrl(url), { timeoutMs: 5000 })
  return {
    dialect,
    url,
    dir,
    operator,
    open,
    async openMigrated() {
      if (operator) {
        // The routines' definer is then the operator, as in production: their bodies run with its grants.
        const target = { ...parseDatabaseUrl(operator.url), password: readFileSync(operator.passwordFile, 'utf8').trim() }
        const asOperator = await openDatabase(target, { timeoutMs: 5000 })
        try {
          await migrateToLatest(asOperator)
        } finally {
          await asOperator.close()
        }
        return open()
      }
      const central = await open()
      await migrateToLatest(central)
      return central
    },
    async drop() {
      if (mysql) await dropDatabaseAccounts(mysql.name)
      await mysql?.drop()
      rmSync(dir, { recursive: true, force: true })
    },
  }
}
