// docs/auditing.md is a contract: every ```sql block in it runs unchanged on its dialect
// (```sql on both, ```sql mysql / ```sql sqlite on one) against a seeded database, and
// returns exactly the rows expected for the seed below.
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { sql } from 'kysely'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { CentralDb } from '@f2b-central/core/db/db-adapter'
import { createTestDatabase, dialects, type DialectName, type TestDatabase } from './setup/dialects.js'
import { at } from './setup/operator.js'
import { ROOT } from './setup/programs.js'

interface SqlBlock {
  section: number
  title: string
  dialect: DialectName | 'both'
  text: string
}

/** Every ```sql block of the page with the numbered section (### N. Title) it belongs to. */
function extractBlocks(markdown: string): SqlBlock[] {
  const blocks: SqlBlock[] = []
  let section = 0
  let title = ''
  const fence = /^```sql(?: (mysql|sqlite))?\n([\s\S]*?)^```$/gm
  const heading = /^### (\d+)\. (.+)$/gm
  const marks = [...markdown.matchAll(heading)].map((m) => ({ index: m.index, section: Number(m[1]), title: m[2] ?? '' }))
  for (const m of markdown.matchAll(fence)) {
    const owner = marks.filter((h) => h.index < m.index).at(-1)
    section = owner?.section ?? 0
    title = owner?.title ?? ''
    blocks.push({ section, title, dialect: (m[1] as DialectName | undefined) ?? 'both', text: m[2] ?? '' })
  }
  return blocks
}

const markdown = readFileSync(join(ROOT, 'docs', 'auditing.md'), 'utf8')
const BLOCKS = extractBlocks(markdown)

const ERR_LOG = 'cannot append to shared log /var/log/f2b-central/shared.log: EACCES'
const ERR_F2B = 'fail2ban-client get sshd banip --with-time failed: timeout'
const T = (s: string) => `2020-11-0${s}.000`

// The rows each section's query returns for the seed, column values in SELECT order.
const EXPECTED: Record<number, unknown[][]> = {
  1: [
    ['2020-11-01', 'sshd', 1],
    ['2020-11-02', 'nginx', 1],
    ['2020-11-02', 'sshd', 2],
    ['2020-11-03', 'recidive', 1],
  ],
  2: [
    [1, '203.0.113.7', 'sshd', 'old-1', 0, null],
    [2, '203.0.113.7', 'sshd', 'old-1', 0, null],
    [2, '203.0.113.7', 'sshd', 'web-3', 3, ERR_LOG],
    [4, '2001:db8::5', 'sshd', 'old-1', 0, null],
    [4, '2001:db8::5', 'sshd', 'web-2', 0, null],
  ],
  3: [
    ['web-1', 3],
    ['web-2', 1],
    ['web-3', 1],
  ],
  4: [['203.0.113.7', 2, 2, T('1 10:00:00'), T('2 09:00:00')]],
  5: [
    ['web-3', ERR_LOG, 1, T('2 09:01:00')],
    ['web-3', ERR_F2B, 1, T('2 12:05:00')],
  ],
  6: [['old-1', '2020-01-01 00:00:00.000']],
  7: [
    ['web-1', 2, 75, 120],
    ['web-2', 1, 30, 30],
    ['web-3', 1, 90, 90],
  ],
  8: [
    ['old-1', 3, T('1 10:00:00')],
    ['web-2', 1, T('2 13:00:00')],
  ],
  9: [
    [1, 'sshd', 'web-1', T('1 10:00:00'), 'old-1', 0, null, null],
    [1, 'sshd', 'web-1', T('1 10:00:00'), 'web-1', 1, T('1 10:00:00'), null],
    [1, 'sshd', 'web-1', T('1 10:00:00'), 'web-2', 1, T('1 10:00:30'), null],
    [1, 'sshd', 'web-1', T('1 10:00:00'), 'web-3', 2, T('1 10:01:30'), null],
    [2, 'sshd', 'web-2', T('2 09:00:00'), 'old-1', 0, null, null],
    [2, 'sshd', 'web-2', T('2 09:00:00'), 'web-1', 1, T('2 09:00:30'), null],
    [2, 'sshd', 'web-2', T('2 09:00:00'), 'web-2', 1, T('2 09:00:00'), null],
    [2, 'sshd', 'web-2', T('2 09:00:00'), 'web-3', 3, T('2 09:01:00'), ERR_LOG],
  ],
  10: [
    ['old-1', 0, 5, 0, 0, 0, 0],
    ['web-1', 4, 0, 0, 1, 0, 0],
    ['web-2', 2, 1, 0, 1, 1, 0],
    ['web-3', 2, 1, 2, 0, 0, 0],
  ],
  11: [['192.0.2.10', 'recidive', T('3 09:00:00'), 'operator@ops', 2]],
  12: [
    ['IPv4', 4, 0],
    ['IPv6', 1, 1],
  ],
  13: [['web-2', 1, T('2 09:00:05')]],
}

async function seed(central: CentralDb): Promise<void> {
  const { db } = central
  const host = async (name: string, lastSeen: string, refused = 0) =>
    Number((await db.insertInto('hosts').values({ name, first_seen: '2020-01-01 00:00:00.000', last_seen: lastSeen, refused_bans: refused }).executeTakeFirstOrThrow()).insertId)
  const h = { web1: await host('web-1', at(0)), web2: await host('web-2', at(0), 7), web3: await host('web-3', at(0)), old1: await host('old-1', '2020-01-01 00:00:00.000') }
  const ban = async (ip: string, jail: string, reporter: number, created: string, expires: string | null) =>
    Number(
      (
        await db
          .insertInto('bans')
          .values({ ip, jail, protocol: 'tcp', port: 'ssh', reporter_id: reporter, bantime: expires === null ? -1 : 3600, created_at: created, expires_at: expires })
          .executeTakeFirstOrThrow()
      ).insertId,
    )
  const status = (banId: number, hostId: number, s: number, updated: string, error: string | null = null) =>
    db.insertInto('ban_status').values({ ban_id: banId, host_id: hostId, status: s, updated_at: updated, error }).execute()
  const future = '2099-01-01 00:00:00.000'

  const b1 = await ban('203.0.113.7', 'sshd', h.web1, T('1 10:00:00'), future)
  await status(b1, h.web1, 1, T('1 10:00:00'))
  await status(b1, h.web2, 1, T('1 10:00:30'))
  await status(b1, h.web3, 2, T('1 10:01:30'))
  const b2 = await ban('203.0.113.7', 'sshd', h.web2, T('2 09:00:00'), future)
  await status(b2, h.web2, 1, T('2 09:00:00'))
  await status(b2, h.web1, 1, T('2 09:00:30'))
  await status(b2, h.web3, 3, T('2 09:01:00'), ERR_LOG)
  // Held past web-2's flood limit, then applied anyway (released): only query 13 reads held_at.
  await db
    .updateTable('bans')
    .set({ held_at: T('2 09:00:05') })
    .where('id', '=', b2)
    .execute()
  const b3 = await ban('198.51.100.9', 'nginx', h.web1, T('2 12:00:00'), T('3 12:00:00'))
  await status(b3, h.web1, 1, T('2 12:00:00'))
  await status(b3, h.web2, 5, T('4 00:00:00'))
  await status(b3, h.web3, 3, T('2 12:05:00'), ERR_F2B)
  const b4 = await ban('2001:db8::5', 'sshd', h.web3, T('2 13:00:00'), null)
  await status(b4, h.web3, 1, T('2 13:00:00'))
  await status(b4, h.web1, 1, T('2 13:02:00'))
  await status(b4, h.web2, 0, T('2 13:00:05'))
  const b5 = await ban('192.0.2.10', 'recidive', h.web1, T('3 08:00:00'), future)
  await db
    .updateTable('bans')
    .set({ revoked_at: T('3 09:00:00'), revoked_by: 'operator@ops' })
    .where('id', '=', b5)
    .execute()
  await status(b5, h.web1, 4, T('3 09:00:10'))
  await status(b5, h.web2, 4, T('3 09:00:20'))
}

// Drivers differ in how they hand back numbers: MySQL's SUM/ROUND are DECIMAL strings.
function normalise(value: unknown): unknown {
  if (typeof value === 'string' && /^-?\d+(\.\d+)?$/.test(value)) return Number(value)
  if (typeof value === 'bigint') return Number(value)
  return value
}

describe('docs/auditing.md', () => {
  it('has the numbered queries, each runnable on both dialects (one block for both, or a variant for each)', () => {
    const sections = [...new Set(BLOCKS.map((b) => b.section))]
    expect(sections).toEqual(Object.keys(EXPECTED).map(Number))
    expect(BLOCKS.every((b) => b.section > 0)).toBe(true)
    for (const s of sections) {
      const kinds = BLOCKS.filter((b) => b.section === s)
        .map((b) => b.dialect)
        .sort()
      expect([['both'], ['mysql', 'sqlite']], `section ${s}`).toContainEqual(kinds)
    }
  })
})

describe.each(dialects())('%s: every auditing query of docs/auditing.md', (dialect) => {
  let tdb: TestDatabase
  let central: CentralDb

  beforeAll(async () => {
    tdb = await createTestDatabase(dialect)
    central = await tdb.openMigrated()
    await seed(central)
  })
  afterAll(async () => {
    await central?.close()
    await tdb?.drop()
  })

  const mine = BLOCKS.filter((b) => b.dialect === 'both' || b.dialect === dialect)
  it.each(mine.map((b) => [`${b.section}. ${b.title}`, b] as const))('%s', async (_, block) => {
    const { rows } = await sql.raw<Record<string, unknown>>(block.text).execute(central.db)
    const got = rows.map((r) => Object.values(r).map(normalise))
    expect(got).toEqual(EXPECTED[block.section])
  })
})
