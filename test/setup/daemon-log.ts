// Reading what a `readdb --daemon` logged (pino's JSON lines), for the tests that tell its
// paths apart by its own words: which polls a wake-up started (READDB_LOG_LEVEL=debug), and
// which bans it stored for add2db (the hand-over).
import type { RunningDaemon } from './programs.js'

/** The JSON lines a daemon logged so far (whole lines only: the last may still be on its way). */
export function logLines(daemon: RunningDaemon): Record<string, unknown>[] {
  const out = daemon.output()
  return out
    .slice(0, out.lastIndexOf('\n') + 1)
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>)
}

/** The polls started so far by the schedule or by a wake-up (debug lines). */
export const pollStarts = (daemon: RunningDaemon, by: 'schedule' | 'wake-up'): Record<string, unknown>[] => logLines(daemon).filter((l) => l.msg === 'poll started' && l.by === by)

/** Whether the daemon stored a ban of `ip` that add2db handed to it (the fast path was taken). */
export const storedFromAdd2db = (daemon: RunningDaemon | undefined, ip: string): boolean =>
  daemon !== undefined && logLines(daemon).some((l) => l.msg === 'stored a ban from add2db' && l.ip === ip)
