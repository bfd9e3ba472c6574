import { InvalidValueError, UsageError } from '@f2b-central/core/errors'

/** A UsageError (exit 2) for `command` with the standard pointer to its help. */
export function usage(command: string, message: string): UsageError {
  return new UsageError(`${command}: ${message}`, `run \`f2b-central ${command} --help\``)
}

/**
 * Run core's validator on an argv value, so its InvalidValueError (exit 2) comes out as a
 * UsageError naming the command, before any config or database is touched.
 */
export function argValue<T>(command: string, parse: () => T): T {
  try {
    return parse()
  } catch (err) {
    if (err instanceof InvalidValueError) throw usage(command, err.message)
    throw err
  }
}
