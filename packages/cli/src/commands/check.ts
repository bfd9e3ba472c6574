import { runHostChecks } from '@f2b-central/core/check/run-host-checks'
import { ExitCode } from '@f2b-central/core/exit-codes'
import { print, printJson } from '../output.js'
import { COMMON_OPTIONS, parseCommandArgs } from '../command-context.js'

const USAGE = `usage: f2b-central check [--filter PATH] [--json] [--config FILE]
Checks this host's setup, one line each (OK, FAIL with what to do, or SKIP): the config, the
database (reachable, schema current), fail2ban (answers), the shared jail (running, maxretry 1),
the shared log (followed by the jail, writable), the shared jail's filter against the line readdb
writes (with fail2ban-regex), and the reporting action (jails that run add2db).
  --filter PATH   test this filter file instead of the shared jail's configured filter
Exit 1 when any check fails.`

const LABEL = { ok: 'OK  ', fail: 'FAIL', skip: 'SKIP' } as const

export async function run(argv: string[]): Promise<ExitCode> {
  const { values } = parseCommandArgs('check', argv, { filter: { type: 'string' }, ...COMMON_OPTIONS })
  if (values.help) {
    print(USAGE)
    return ExitCode.Ok
  }
  const results = await runHostChecks({ configPath: values.config, filterPath: values.filter })
  const failed = results.filter((r) => r.status === 'fail').length
  if (values.json) printJson({ ok: failed === 0, checks: results })
  else {
    for (const r of results) print(`${LABEL[r.status]}  ${r.name}: ${r.detail}${r.hint ? ` (${r.hint})` : ''}`)
    print(failed === 0 ? 'all checks passed' : `${failed} check${failed === 1 ? '' : 's'} failed`)
  }
  return failed === 0 ? ExitCode.Ok : ExitCode.Failure
}
