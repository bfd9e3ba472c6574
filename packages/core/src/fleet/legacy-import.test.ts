// `import --legacy --password-file`: the password file gets the same check as
// database.passwordFile (issue 9). The import itself is tested in test/cli-import.test.ts.
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { F2bError } from '../errors.js'
import { openLegacySource, parseLegacyUrl } from './legacy-import.js'

const dir = mkdtempSync(join(tmpdir(), 'f2b-legacy-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

describe('openLegacySource', () => {
  // 192.0.2.1 (TEST-NET-1) is never reached: the password file is refused before any connection.
  const target = parseLegacyUrl('mysql://legacy@192.0.2.1:3306/fail2ban')

  it('refuses a group-readable password file before connecting, with the chmod that fixes it', async () => {
    const pw = join(dir, 'legacy-pw')
    writeFileSync(pw, 'secret\n', { mode: 0o640 })
    chmodSync(pw, 0o640)
    const err = await openLegacySource(target, pw, 1000).then(
      () => undefined,
      (e: unknown) => e,
    )
    expect(err).toBeInstanceOf(F2bError)
    expect((err as F2bError).message).toBe(`password file ${pw} is accessible to other users (mode 640); refusing to use it`)
    expect((err as F2bError).hint).toBe(`chmod 600 ${pw}`)
  })

  it('a missing password file names the file', async () => {
    await expect(openLegacySource(target, join(dir, 'nowhere'), 1000)).rejects.toThrow(/^password file: cannot read .*nowhere: ENOENT$/)
  })
})
