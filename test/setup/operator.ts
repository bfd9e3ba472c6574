// Helpers for the operator-command tests (test/cli-*.test.ts, test/auditing.test.ts): seed
// hosts, bans and statuses with chosen times straight into the database, and run the built
// f2b-central with optional stdin.
import { spawn } from 'node:child_process'
import type { CentralDb } from '@f2b-central/core/db/db-adapter'
import { toDbTime } from '@f2b-central/core/time/db-time'
import { BIN, type RunResult } from './programs.js'

/** Now plus `seconds` (negative: ago) as stored text. The database runs on this machine's clock. */
export function at(seconds: number): string {
  return toDbTime(new Date(Date.now() + seconds * 1000))
}

export const MINUTE = 60
export const HOUR = 3600
export const DAY = 86400

export interface SeedHost {
  name: string
  /** Seconds relative to now (default 0: seen now). */
  seen?: number
  cursor?: number
}

/** Register hosts with chosen last_seen and cursor; returns name → id. */
export async function seedHosts(central: CentralDb, hosts: SeedHost[]): Promise<Record<string, number>> {
  const ids: Record<string, number> = {}
  for (const h of hosts) {
    const r = await central.db
      .insertInto('hosts')
      .values({ name: h.name, first_seen: at(h.seen ?? 0), last_seen: at(h.seen ?? 0), cursor_seq: h.cursor ?? 0 })
      .executeTakeFirstOrThrow()
    ids[h.name] = Number(r.insertId)
  }
  return ids
}

export interface SeedBan {
  ip: string
  jail?: string
  reporterId: number
  /** Seconds relative to now. */
  created: number
  /** Seconds relative to now; null: permanent. Default: created + 1 day. */
  expires?: number | null
  seq?: number | null
  /** Seconds relative to now: revoked by an operator's unban. */
  revoked?: number
}

/** Insert a ban exactly as given (no reporter status: add it with seedStatus); returns its id. */
export async function seedBan(central: CentralDb, b: SeedBan): Promise<number> {
  const expires = b.expires === undefined ? b.created + DAY : b.expires
  const r = await central.db
    .insertInto('bans')
    .values({
      ip: b.ip,
      jail: b.jail ?? 'sshd',
      protocol: 'tcp',
      port: 'ssh',
      reporter_id: b.reporterId,
      bantime: expires === null ? -1 : expires - b.created,
      created_at: at(b.created),
      expires_at: expires === null ? null : at(expires),
    })
    .executeTakeFirstOrThrow()
  const id = Number(r.insertId)
  if (b.seq !== undefined && b.seq !== null) await central.db.updateTable('bans').set({ seq: b.seq }).where('id', '=', id).execute()
  if (b.revoked !== undefined)
    await central.db
      .updateTable('bans')
      .set({ revoked_at: at(b.revoked), revoked_by: 'test' })
      .where('id', '=', id)
      .execute()
  return id
}

/** Record one host's status for a ban, updated `updated` seconds from now (default now). */
export async function seedStatus(central: CentralDb, banId: number, hostId: number, status: number, options: { updated?: number; error?: string } = {}): Promise<void> {
  await central.db
    .insertInto('ban_status')
    .values({ ban_id: banId, host_id: hostId, status, error: options.error ?? null, updated_at: at(options.updated ?? 0) })
    .execute()
}

/** Run the built f2b-central, feeding `input` on stdin when given. */
export function runCli(args: readonly string[], options: { input?: string; timeoutMs?: number } = {}): Promise<RunResult> {
  const started = performance.now()
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN.cli, ...args], { stdio: ['pipe', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()))
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()))
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 30_000)
    child.on('error', reject)
    child.on('close', (code) => {
      clearTimeout(timer)
      resolve({ code: code ?? -1, stdout, stderr, ms: performance.now() - started })
    })
    child.stdin.end(options.input ?? '')
  })
}
