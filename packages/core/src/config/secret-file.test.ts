import { chmodSync, chownSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { F2bError } from '../errors.js'
import { readPasswordFile, readSecretFile } from './secret-file.js'

const dir = mkdtempSync(join(tmpdir(), 'f2b-secret-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))
function file(name: string, text: string, mode: number): string {
  const p = join(dir, name)
  writeFileSync(p, text, { mode })
  chmodSync(p, mode)
  return p
}
function thrown(read: () => unknown): F2bError {
  try {
    read()
  } catch (err) {
    expect(err).toBeInstanceOf(F2bError)
    return err as F2bError
  }
  throw new Error('expected an F2bError')
}

describe('readSecretFile', () => {
  it('reads a file only its owner can access, as it is', () => {
    expect(readSecretFile(file('key', 'line 1\nline 2\n', 0o600), 'database.tls.key')).toBe('line 1\nline 2\n')
    expect(readSecretFile(file('ro', 'x', 0o400), 'database.tls.key')).toBe('x')
  })

  it.each([
    [0o640, '640', '600'],
    [0o604, '604', '600'],
    [0o660, '660', '600'],
    [0o610, '610', '600'],
    [0o700 | 0o044, '744', '700'],
  ])('refuses mode %o, like ssh, naming the secret and the chmod that fixes it', (mode, shown, wanted) => {
    const p = file(`loose-${shown}`, 'secret', mode)
    const err = thrown(() => readSecretFile(p, 'database.passwordFile'))
    expect(err.message).toBe(`database.passwordFile ${p} is accessible to other users (mode ${shown}); refusing to use it`)
    expect(err.hint).toBe(`chmod ${wanted} ${p}`)
  })

  // Issue 10: the programs run as root; a secret someone else owns is theirs, not root's.
  it.runIf(process.getuid?.() === 0)('refuses a secret owned by another user, however private its mode, with the chown that fixes it', () => {
    const p = file('theirs', 'secret', 0o600)
    chownSync(p, 65534, 65534)
    const err = thrown(() => readSecretFile(p, '--password-file'))
    expect(err.message).toBe(`--password-file ${p} is owned by uid 65534 (not root); refusing to use it`)
    expect(err.hint).toBe(`chown root ${p}`)
    chmodSync(p, 0o640)
    expect(thrown(() => readSecretFile(p, '--password-file')).message).toBe(
      `--password-file ${p} is owned by uid 65534 (not root) and is accessible to other users (mode 640); refusing to use it`,
    )
    expect(thrown(() => readSecretFile(p, '--password-file')).hint).toBe(`chown root ${p} && chmod 600 ${p}`)
  })

  it("refuses a symbolic link in the secret's place, even to a private file, naming the link", () => {
    const target = file('real-key', 'secret', 0o600)
    const link = join(dir, 'link-key')
    symlinkSync(target, link)
    const err = thrown(() => readSecretFile(link, 'database.tls.key'))
    expect(err.message).toBe(`database.tls.key ${link} is a symbolic link; refusing to follow it`)
    expect(err.hint).toBe(`name the file itself in database.tls.key (readlink -f ${link} says which)`)
  })

  // A FIFO (which would block a plain read for ever) is tested through a real program in test/file-checks.test.ts.
  it('refuses a directory as not a regular file', () => {
    expect(thrown(() => readSecretFile(dir, 'pw')).message).toBe(`pw ${dir} is not a regular file; refusing to use it`)
  })

  it('a missing file names the secret, the file and the error code', () => {
    const p = join(dir, 'nowhere')
    expect(thrown(() => readSecretFile(p, '--password-file')).message).toBe(`--password-file: cannot read ${p}: ENOENT`)
  })
})

describe('readPasswordFile', () => {
  it('drops the one line break an editor leaves, and only that', () => {
    expect(readPasswordFile(file('pw-lf', 's3cret\n', 0o600), 'pw')).toBe('s3cret')
    expect(readPasswordFile(file('pw-crlf', 's3cret\r\n', 0o600), 'pw')).toBe('s3cret')
    expect(readPasswordFile(file('pw-two', ' s3cret \n\n', 0o600), 'pw')).toBe(' s3cret \n')
  })

  it('refuses a group-readable file like readSecretFile', () => {
    expect(() => readPasswordFile(file('pw-loose', 's3cret\n', 0o640), 'pw')).toThrow(/is accessible to other users \(mode 640\)/)
  })
})
