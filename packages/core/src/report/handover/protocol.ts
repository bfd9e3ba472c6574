// add2db's hand-over to the local `readdb --daemon`: where the socket is and what goes over
// it. add2db reads this on its fast path, so it imports nothing but Node built-ins: the
// socket's name and the check that the daemon runs the same config come from the config
// file's path and identity, not from its contents (no YAML parser).
import { realpathSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { fingerprint } from './no-crypto.js'

/** Where the daemon listens: root's runtime directory (mode 0700, the socket 0600). */
export const DEFAULT_HANDOVER_DIR = '/run/f2b-central'

/** For tests only: another directory than /run/f2b-central for the socket (README "Hand-over to the daemon"). */
export const HANDOVER_DIR_ENV = 'F2B_CENTRAL_SOCKET_DIR'

export function handoverDir(env: NodeJS.ProcessEnv): string {
  return env[HANDOVER_DIR_ENV] || DEFAULT_HANDOVER_DIR
}

/**
 * The config a run would use, as far as the daemon must share it: the file (resolved through
 * links) with its device, inode, size and times, and the environment overrides parseConfig
 * applies (F2B_CENTRAL_DB_URL, F2B_CENTRAL_HOST, as a fingerprint: the URL may hold a password).
 * An edited config has another identity: the daemon, which read the old one, refuses the
 * report and add2db stores it itself with the new one.
 */
export interface ConfigIdentity {
  readonly path: string
  readonly file: string
  readonly env: string
}

/** Throws (ENOENT, EACCES …) when the file cannot be found: add2db then takes its full path, which says so. */
export function configIdentity(configPath: string, env: NodeJS.ProcessEnv): ConfigIdentity {
  const path = realpathSync(configPath)
  const st = statSync(path, { bigint: true })
  return {
    path,
    file: `${st.dev}:${st.ino}:${st.size}:${st.mtimeNs}:${st.ctimeNs}`,
    env: fingerprint(`${env.F2B_CENTRAL_DB_URL || ''}\0${env.F2B_CENTRAL_HOST || ''}`),
  }
}

/** One socket per config file: two daemons with their own configs on one machine (tests, a second fleet) never meet. */
export function handoverSocketPath(dir: string, identity: ConfigIdentity): string {
  return join(dir, `add2db-${fingerprint(identity.path)}.sock`)
}

/** One JSON line from add2db. Every field is input to the daemon, checked there again. */
export interface HandoverRequest {
  readonly v: 1
  readonly config: string
  readonly file: string
  readonly env: string
  /** The report's idempotency key: whoever stores it (daemon, add2db's fallback, the spool) stores it once. */
  readonly key: string
  readonly reportedAt: string
  /** As add2db was given them. */
  readonly ban: { readonly ip: string; readonly jail: string; readonly protocol?: string | undefined; readonly port?: string | undefined; readonly bantime?: string | undefined }
}

/** What became of a report, as add2db prints it (add2db's report-lines.ts). */
export type ReportSummary =
  | { readonly kind: 'stored'; readonly banId: number; readonly held: boolean; readonly host: string; readonly spoolProblem?: string | undefined }
  | { readonly kind: 'allowlisted'; readonly by: string }
  | { readonly kind: 'spooled'; readonly path: string; readonly reason: string; readonly needsAdmin: boolean }

/**
 * The daemon's JSON lines: `accepted` at once (the report is valid and being stored; wait at
 * most waitMs for the rest), then `done`. `refused` (before accepting) and `failed` (after)
 * both mean: store it yourself, with the same key.
 */
export type HandoverReply = { readonly accepted: true; readonly waitMs: number } | { readonly done: ReportSummary } | { readonly refused: string } | { readonly failed: string }

/** Longest request line the daemon reads; a report is a few hundred bytes. */
export const MAX_REQUEST_BYTES = 4096
