import { sql, type Kysely, type Migration } from 'kysely'
import { createTable, type SchemaDialect } from './schema-dialect.js'

/**
 * hosts, bans, ban_status, ban_sequence and the audit view ban_host_status.
 *
 * `bans.seq` is a commit-order stamp handed out by pollers (see core/src/db/queries/sequence.ts):
 * auto-increment ids are assigned at insert, not at commit, so they cannot be a poll cursor.
 */
export function initialSchema(d: SchemaDialect): Migration {
  const table = (db: Kysely<unknown>, name: string) => createTable(db, d, name)
  return {
    async up(db) {
      await table(db, 'hosts')
        .addColumn('id', d.idType, (c) => c.primaryKey().autoIncrement())
        .addColumn('name', 'varchar(253)', (c) => c.notNull().unique())
        .addColumn('machine_id', 'varchar(64)')
        .addColumn('first_seen', d.timestampType, (c) => c.notNull().defaultTo(d.nowDefault))
        .addColumn('last_seen', d.timestampType, (c) => c.notNull().defaultTo(d.nowDefault))
        .addColumn('cursor_seq', 'bigint', (c) => c.notNull().defaultTo(0))
        .execute()

      await table(db, 'bans')
        .addColumn('id', d.idType, (c) => c.primaryKey().autoIncrement())
        .addColumn('seq', 'bigint')
        .addColumn('ip', 'varchar(45)', (c) => c.notNull())
        .addColumn('jail', 'varchar(64)', (c) => c.notNull())
        .addColumn('protocol', 'varchar(16)', (c) => c.notNull())
        .addColumn('port', 'varchar(128)', (c) => c.notNull())
        .addColumn('reporter_id', d.idType, (c) => c.notNull().references('hosts.id'))
        .addColumn('bantime', 'integer', (c) => c.notNull())
        .addColumn('created_at', d.timestampType, (c) => c.notNull().defaultTo(d.nowDefault))
        .addColumn('expires_at', d.timestampType)
        .execute()
      // The poll reads `seq > cursor` and stamps `seq IS NULL`: both served by this index.
      await db.schema.createIndex('bans_seq').on('bans').column('seq').unique().execute()
      await db.schema.createIndex('bans_ip').on('bans').column('ip').execute()
      await db.schema.createIndex('bans_created_at').on('bans').column('created_at').execute()
      await db.schema.createIndex('bans_expires_at').on('bans').column('expires_at').execute()

      await table(db, 'ban_status')
        .addColumn('host_id', d.idType, (c) => c.notNull().references('hosts.id'))
        .addColumn('ban_id', d.idType, (c) => c.notNull().references('bans.id').onDelete('cascade'))
        .addColumn('status', 'smallint', (c) => c.notNull())
        .addColumn('error', 'varchar(1000)')
        .addColumn('updated_at', d.timestampType, (c) => c.notNull().defaultTo(d.nowDefault))
        .addPrimaryKeyConstraint('ban_status_pk', ['host_id', 'ban_id'])
        .execute()
      // Retries (status 0 rows) are found per host through this index.
      await db.schema.createIndex('ban_status_host_status').on('ban_status').columns(['host_id', 'status']).execute()
      await db.schema.createIndex('ban_status_ban').on('ban_status').column('ban_id').execute()

      // One row: the last commit-order stamp handed out. Its row lock serialises stampers.
      await table(db, 'ban_sequence')
        .addColumn('id', 'integer', (c) => c.primaryKey())
        .addColumn('value', 'bigint', (c) => c.notNull())
        .execute()
      await db
        .insertInto('ban_sequence' as never)
        .values({ id: 1, value: 0 } as never)
        .execute()

      await sql`
        CREATE VIEW ban_host_status AS
        SELECT b.id AS ban_id, b.ip, b.jail, b.protocol, b.port, r.name AS added_by,
               b.created_at, b.expires_at, h.name AS host,
               COALESCE(s.status, 0) AS status, s.updated_at, s.error
        FROM bans b
        JOIN hosts r ON r.id = b.reporter_id
        CROSS JOIN hosts h
        LEFT JOIN ban_status s ON s.ban_id = b.id AND s.host_id = h.id`.execute(db)
    },
    async down(db) {
      await sql`DROP VIEW ban_host_status`.execute(db)
      for (const t of ['ban_status', 'ban_sequence', 'bans', 'hosts']) await db.schema.dropTable(t).execute()
    },
  }
}
