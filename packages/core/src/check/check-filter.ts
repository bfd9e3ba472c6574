import { execFile } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { basename, dirname, join } from 'node:path'
import type { Config } from '../config/load-config.js'
import { F2bError } from '../errors.js'
import { readJailFilter, renderFilterFile } from '../fail2ban/fail2ban-dump.js'
import type { Fail2banClient } from '../fail2ban/fail2ban-client.js'
import { formatBanLine } from '../fail2ban/shared-log-line.js'
import { fail, ok, type CheckResult } from './check-result.js'

// Documentation addresses (RFC 5737, RFC 3849): what the sample lines ban if ever read.
const SAMPLES = ['192.0.2.123', '2001:db8::123']

/**
 * The shared jail's filter matches the lines readdb writes: two lines made by formatBanLine
 * (IPv4 and IPv6) are run through `fail2ban-regex` against the filter, and both addresses
 * must come out. The filter is `filterPath` when given, else the shared jail's filter as
 * fail2ban's configuration defines it (`fail2ban-client -d`).
 */
export async function checkFilter(client: Fail2banClient, config: Config, filterPath: string | undefined): Promise<CheckResult> {
  const name = 'filter'
  const jail = config.fail2ban.sharedJail
  const dir = mkdtempSync(join(tmpdir(), 'f2b-central-check-'))
  try {
    let filter = filterPath
    let what = filterPath ?? ''
    if (filter === undefined) {
      const dump = await client.run('-d')
      const def = readJailFilter(dump, jail)
      if (!def) return fail(name, `fail2ban's configuration has no jail ${jail}`, `enable [${jail}], or check a filter file with --filter PATH`)
      if (def.failregex.length === 0) return fail(name, `${jail} has no failregex`, 'use filter = f2b-central (fail2ban/filter.d/f2b-central.conf)')
      filter = join(dir, 'shared-jail.conf')
      writeFileSync(filter, renderFilterFile(def))
      what = `the filter of ${jail}`
    } else if (!existsSync(filter)) {
      return fail(name, `filter file ${filter} does not exist`, 'pass the path of fail2ban/filter.d/f2b-central.conf with --filter')
    }
    const now = new Date()
    const log = join(dir, 'shared.log')
    writeFileSync(log, SAMPLES.map((ip, i) => formatBanLine({ ip, jail: 'f2b-central-check', reporter: config.host.name, banId: i + 1 }, now)).join(''))
    const out = await fail2banRegex(regexCommand(config.fail2ban.client), ['-e', 'utf-8', '-o', '<ip>', log, filter], config.fail2ban.timeoutMs)
    const matched = out
      .split('\n')
      .map((l) => l.trim())
      .filter(Boolean)
    const missing = SAMPLES.filter((ip) => !matched.includes(ip))
    if (missing.length > 0) {
      return fail(name, `${what} does not match readdb's line for ${missing.join(' and ')}`, 'use the shipped fail2ban/filter.d/f2b-central.conf for the shared jail')
    }
    return ok(name, `${what} matches readdb's lines (IPv4 and IPv6)`)
  } catch (err) {
    if (!(err instanceof F2bError)) throw err
    return fail(name, err.message, err.hint ?? 'check a filter file directly with --filter PATH')
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

/** fail2ban-regex beside the configured fail2ban-client when that is a path, else from PATH. */
function regexCommand(clientArgv: readonly string[]): string {
  const client = clientArgv[0] ?? 'fail2ban-client'
  return client.includes('/') && basename(client) === 'fail2ban-client' ? join(dirname(client), 'fail2ban-regex') : 'fail2ban-regex'
}

function fail2banRegex(cmd: string, args: string[], timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err)
        reject(
          new F2bError(`fail2ban-regex failed: ${(stderr || stdout || err.message).trim().split('\n').pop() ?? ''}`, { hint: 'is fail2ban installed on this host?', cause: err }),
        )
      else resolve(stdout)
    })
  })
}
