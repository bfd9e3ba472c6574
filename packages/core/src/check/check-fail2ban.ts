import { constants, accessSync, existsSync } from 'node:fs'
import type { Config } from '../config/load-config.js'
import { F2bError } from '../errors.js'
import type { Fail2banClient } from '../fail2ban/fail2ban-client.js'
import { fail, ok, type CheckResult } from './check-result.js'

/** Name prefix of the reporting action (fail2ban/action.d/f2b-central.conf). */
const ACTION = 'f2b-central'

function problem(err: unknown): string {
  if (err instanceof F2bError) return err.message
  throw err
}

/** fail2ban answers `ping` through the configured client. */
export async function checkFail2banReachable(client: Fail2banClient, config: Config): Promise<CheckResult> {
  try {
    const out = await client.run('ping')
    if (!/pong/.test(out)) return fail('fail2ban', `ping answered ${JSON.stringify(out.trim().slice(0, 80))}`, 'check fail2ban.client in the config')
    return ok('fail2ban', `${config.fail2ban.client.join(' ')} answers`)
  } catch (err) {
    return fail('fail2ban', problem(err), 'start fail2ban, or set fail2ban.client (e.g. [fail2ban-client, -s, /run/fail2ban/fail2ban.sock])')
  }
}

/** The shared jail runs and bans at the first line (maxretry 1). */
export async function checkSharedJail(client: Fail2banClient, config: Config): Promise<CheckResult> {
  const jail = config.fail2ban.sharedJail
  const name = 'shared jail'
  try {
    await client.run('status', jail)
  } catch (err) {
    return fail(
      name,
      `${jail} is not running: ${problem(err)}`,
      `copy fail2ban/jail.d/f2b-central.conf to /etc/fail2ban/jail.d/, enable [${jail}] in a .local, then \`fail2ban-client reload\``,
    )
  }
  let maxretry: string
  try {
    maxretry = (await client.run('get', jail, 'maxretry')).trim()
  } catch (err) {
    return fail(name, problem(err))
  }
  if (maxretry !== '1') return fail(name, `${jail} bans after ${maxretry} lines, not at the first`, `set maxretry = 1 for [${jail}] (the shipped jail.d file does)`)
  return ok(name, `${jail} is running`)
}

/** The shared jail follows the shared log readdb writes, and this user can append to it. */
export async function checkSharedLog(client: Fail2banClient, config: Config): Promise<CheckResult> {
  const { sharedJail: jail, sharedLog: log } = config.fail2ban
  const name = 'shared log'
  let out: string
  try {
    out = await client.run('get', jail, 'logpath')
  } catch (err) {
    return fail(name, problem(err))
  }
  const paths = out
    .split('\n')
    .map((l) => l.replace(/^[\s|`-]+/, '').trim())
    .filter((l) => l.startsWith('/'))
  if (!paths.includes(log)) {
    return fail(
      name,
      `${jail} follows ${paths.join(', ') || 'no file'}, not ${log} (fail2ban.sharedLog)`,
      `set logpath = ${log} for [${jail}], or fail2ban.sharedLog to the jail's log`,
    )
  }
  if (!existsSync(log)) return fail(name, `${log} does not exist`, `create it: install -d ${log.replace(/\/[^/]*$/, '') || '/'} && touch ${log}`)
  try {
    accessSync(log, constants.W_OK)
  } catch {
    return fail(name, `${log} is not writable by this user`, 'run readdb as the user that owns the shared log (usually root)')
  }
  return ok(name, `${jail} follows ${log}`)
}

/**
 * At least one jail reports its bans through the f2b-central action, each such action runs
 * an add2db that exists, and the shared jail does not (it would report every fleet ban back).
 */
export async function checkReportingAction(client: Fail2banClient, config: Config): Promise<CheckResult> {
  const name = 'reporting action'
  const shared = config.fail2ban.sharedJail
  const reporting: string[] = []
  try {
    for (const jail of await client.jails()) {
      const out = await client.run('get', jail, 'actions')
      const actions = out
        .split('\n')
        .slice(1)
        .join(',')
        .split(',')
        .map((a) => a.trim())
        .filter((a) => a.startsWith(ACTION))
      if (actions.length === 0) continue
      if (jail === shared)
        return fail(name, `the shared jail ${shared} runs ${actions.join(', ')}: it would report every fleet ban back`, `remove the f2b-central action from [${shared}]`)
      for (const action of actions) {
        const ban = (await client.run('get', jail, 'action', action, 'actionban')).trim()
        const bin = /^(\S*add2db\S*)/.exec(ban)?.[1]
        if (!bin)
          return fail(name, `${jail}: action ${action} does not run add2db (actionban ${JSON.stringify(ban.slice(0, 80))})`, 'use the shipped fail2ban/action.d/f2b-central.conf')
        if (bin.startsWith('/')) {
          try {
            accessSync(bin, constants.X_OK)
          } catch {
            return fail(name, `${jail}: ${bin} is not an executable file`, `install add2db there (README "Install on each host") or pass add2db="…" to the action`)
          }
        }
      }
      reporting.push(jail)
    }
  } catch (err) {
    return fail(name, problem(err))
  }
  if (reporting.length === 0) {
    return fail(name, 'no jail reports its bans to the fleet', 'add f2b-central[port="%(port)s", protocol="%(protocol)s"] to the action of your jails (README "fail2ban files")')
  }
  return ok(name, `${reporting.join(', ')} report${reporting.length === 1 ? 's' : ''} through add2db`)
}
