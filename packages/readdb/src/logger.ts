import pino from 'pino'
import pretty from 'pino-pretty'

const LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace']

/**
 * JSON lines on stdout, written synchronously so the last line of a one-shot run is never
 * lost; human-readable when stdout is a terminal (an admin running it by hand).
 * `READDB_LOG_LEVEL=debug` adds a line per poll started (by the schedule or a wake-up).
 */
export function createLogger(isTty = process.stdout.isTTY === true, env = process.env) {
  const level = env.READDB_LOG_LEVEL !== undefined && LEVELS.includes(env.READDB_LOG_LEVEL) ? env.READDB_LOG_LEVEL : 'info'
  const options = { base: { program: 'readdb' }, level }
  if (isTty) return pino(options, pretty({ sync: true, colorize: true, ignore: 'pid,hostname,program' }))
  return pino(options, pino.destination({ dest: 1, sync: true }))
}
export type Logger = ReturnType<typeof createLogger>
