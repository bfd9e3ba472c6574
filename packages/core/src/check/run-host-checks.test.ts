// The config line of `f2b-central check` (issue 9): it checks readdb.schedule with node-cron's
// grammar, and shows the config's warnings. The other checks are tested against a real
// fail2ban in test/cli-check.test.ts.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { runHostChecks } from './run-host-checks.js'

const dir = mkdtempSync(join(tmpdir(), 'f2b-check-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))
function config(name: string, text: string): string {
  const p = join(dir, name)
  writeFileSync(p, text, { mode: 0o600 })
  return p
}

describe('runHostChecks: the config', () => {
  it('fails on a schedule node-cron cannot run, and skips the rest', async () => {
    const path = config('bad-schedule.yml', 'database:\n  url: sqlite:/nowhere.sqlite\nreaddb:\n  schedule: "61 * * * * *"\n')
    const [first, ...rest] = await runHostChecks({ configPath: path, env: {} })
    expect(first).toEqual({
      name: 'config',
      status: 'fail',
      detail: `${path}: readdb.schedule: "61 * * * * *" is not a valid cron expression`,
      hint: 'e.g. "*/5 * * * * *" for every 5 seconds',
    })
    expect(rest.every((r) => r.status === 'skip')).toBe(true)
  })

  it('passes a config that only has warnings, and shows them', async () => {
    // Port 1 refuses at once; /bin/false stands in for a fail2ban that does not answer.
    const path = config('warn.yml', 'database:\n  url: mysql://f2b:pw@127.0.0.1:1/fleet\n  timeoutSeconds: 1\nfail2ban:\n  client: [/bin/false]\n')
    const [first] = await runHostChecks({ configPath: path, env: {} })
    expect(first).toMatchObject({ name: 'config', status: 'ok' })
    expect(first!.detail).toMatch(
      / \(host .*, database mysql:\/\/f2b@127\.0\.0\.1:1\/fleet\); warning: database\.url: holds the database password \(move it to database\.passwordFile, a file only its owner can read\)$/,
    )
  })
})
