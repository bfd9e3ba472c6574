import { describeTarget } from '../db/open-database.js'
import type { ConfigIssue } from '../config/config-schema.js'
import { isCronExpression } from '../config/cron-expression.js'
import { loadConfig, type Config } from '../config/load-config.js'
import { F2bError } from '../errors.js'
import { Fail2banClient } from '../fail2ban/fail2ban-client.js'
import { checkDatabase } from './check-database.js'
import { checkFail2banReachable, checkReportingAction, checkSharedJail, checkSharedLog } from './check-fail2ban.js'
import { checkFilter } from './check-filter.js'
import { fail, ok, skip, type CheckResult } from './check-result.js'

export interface HostCheckOptions {
  /** `--config`, if given. */
  readonly configPath?: string | undefined
  /** A filter file to test instead of the shared jail's configured filter. */
  readonly filterPath?: string | undefined
  readonly env?: NodeJS.ProcessEnv
}

/**
 * Check this host's setup, like a linter: config, database, fail2ban, the shared jail and
 * its log, its filter against readdb's line, and the reporting action. A check whose
 * precondition failed is skipped, not failed again. Never throws for a setup problem.
 */
export async function runHostChecks(options: HostCheckOptions = {}): Promise<CheckResult[]> {
  let config: Config
  const warnings: ConfigIssue[] = []
  try {
    config = loadConfig({ path: options.configPath, env: options.env ?? process.env, isCronExpression, onWarning: (w) => warnings.push(w) })
  } catch (err) {
    if (!(err instanceof F2bError)) throw err
    const rest = ['database', 'fail2ban', 'shared jail', 'shared log', 'filter', 'reporting action'].map((n) => skip(n, 'no valid config'))
    return [fail('config', err.message, err.hint), ...rest]
  }
  const warned = warnings.map((w) => `; warning: ${w.message}${w.hint ? ` (${w.hint})` : ''}`).join('')
  const results: CheckResult[] = [ok('config', `${config.path} (host ${config.host.name}, database ${describeTarget(config.database.target)})${warned}`)]
  results.push(await checkDatabase(config))
  const client = new Fail2banClient(config.fail2ban.client, config.fail2ban.timeoutMs)
  const reachable = await checkFail2banReachable(client, config)
  results.push(reachable)
  if (reachable.status !== 'ok') {
    for (const n of ['shared jail', 'shared log', 'filter', 'reporting action']) results.push(skip(n, 'fail2ban does not answer'))
    return results
  }
  const jail = await checkSharedJail(client, config)
  results.push(jail)
  const jailRuns = jail.status === 'ok' || /bans after/.test(jail.detail)
  results.push(jailRuns ? await checkSharedLog(client, config) : skip('shared log', `${config.fail2ban.sharedJail} is not running`))
  results.push(await checkFilter(client, config, options.filterPath))
  results.push(await checkReportingAction(client, config))
  return results
}
