import pino from 'pino'
import pretty from 'pino-pretty'

/**
 * JSON lines on stdout, written synchronously so the last line of a one-shot run is never
 * lost; human-readable when stdout is a terminal (an admin running it by hand).
 */
export function createLogger(isTty = process.stdout.isTTY === true) {
  const options = { base: { program: 'readdb' } }
  if (isTty) return pino(options, pretty({ sync: true, colorize: true, ignore: 'pid,hostname,program' }))
  return pino(options, pino.destination({ dest: 1, sync: true }))
}
export type Logger = ReturnType<typeof createLogger>
