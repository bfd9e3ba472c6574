import { readCheckedFile } from '../checked-file.js'
import { configPath } from './config-path.js'
import { ConfigError, F2bError } from '../errors.js'
import type { Config, ConfigIssue, CronGrammar } from './config-schema.js'
import { configError, parseConfig } from './parse-config.js'
import { CONFIG_FILE_RULE } from './secret-file.js'

export type { Config } from './config-schema.js'

export { configPath, DEFAULT_CONFIG_PATH } from './config-path.js'

export interface LoadConfigOptions {
  /** `--config` from argv, if given. */
  path?: string | undefined
  env?: NodeJS.ProcessEnv
  /** readdb.schedule's grammar (see ParseConfigOptions). Default: the schedule is not checked. */
  isCronExpression?: CronGrammar | undefined
  /** Told each warning (a setting that works but should change). Default: warnings are dropped. */
  onWarning?: ((warning: ConfigIssue) => void) | undefined
}

/**
 * Read, validate and resolve the config (parseConfig). Environment overrides:
 * `F2B_CENTRAL_DB_URL` (database.url) and `F2B_CENTRAL_HOST` (host.name). Throws one
 * ConfigError listing every problem as `key: what is wrong`.
 */
export function loadConfig(options: LoadConfigOptions = {}): Config {
  const env = options.env ?? process.env
  const path = configPath({ ...options, env })
  const result = parseConfig(readConfigFile(path), { path, env, isCronExpression: options.isCronExpression })
  if (options.onWarning) for (const w of result.warnings) options.onWarning(w)
  if (result.config === undefined) throw configError(path, result.errors)
  return result.config
}

// Checked on the descriptor it is read from (CONFIG_FILE_RULE): owner root or this user, no
// write bit for group or others, no bit at all for others.
function readConfigFile(path: string): string {
  try {
    return readCheckedFile(path, { what: 'the config file', ...CONFIG_FILE_RULE })
  } catch (err) {
    if (err instanceof F2bError) throw new ConfigError(err.message, { hint: err.hint })
    const code = (err as NodeJS.ErrnoException).code
    throw new ConfigError(`cannot read config file ${path}: ${code ?? String(err)}`, {
      hint: 'pass --config FILE or set F2B_CENTRAL_CONFIG; see README "Configuration"',
    })
  }
}
