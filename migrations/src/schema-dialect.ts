import type { CreateTableBuilder, Kysely, RawBuilder } from 'kysely'

/**
 * The column vocabulary a migration needs that differs between MySQL/MariaDB and SQLite.
 * Each database adapter in `@f2b-central/core/db/<dialect>` implements it, so migrations
 * stay free of `if (mysql)` branches.
 */
export interface SchemaDialect {
  /** Type of an auto-increment primary key: SQLite only auto-increments `integer`. */
  readonly idType: 'bigint' | 'integer'
  /** Type of a UTC timestamp with milliseconds: MySQL DATETIME keeps whole seconds unless given a fraction. */
  readonly timestampType: 'datetime(3)' | 'text'
  /** Default value for "now, UTC, milliseconds" in a timestamp column. */
  readonly nowDefault: RawBuilder<unknown>
  /** Table options appended to CREATE TABLE (InnoDB, utf8mb4 on MySQL; nothing on SQLite). */
  readonly tableOptions: RawBuilder<unknown> | undefined
}

/** CREATE TABLE with the dialect's table options (InnoDB, utf8mb4 on MySQL). */
export function createTable(db: Kysely<unknown>, d: SchemaDialect, name: string): CreateTableBuilder<string, never> {
  const t = db.schema.createTable(name)
  return d.tableOptions ? t.modifyEnd(d.tableOptions) : t
}
