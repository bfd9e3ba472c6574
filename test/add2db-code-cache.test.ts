// add2db's launcher runs the bundle with a V8 code cache kept beside it. A cache is input V8
// trusts like code, so these check who may have written it and what happens to a stale, broken
// or planted one: every case must still run add2db correctly. Each test runs a private copy of
// the launcher and the built bundle, so it can change files and owners freely.
import { chmodSync, chownSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { BIN, ROOT, runProgram } from './setup/programs.js'

let dir: string
let launcher: string
let bundle: string
let cache: string

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'f2b-code-cache-'))
  // The install's layout: packages/add2db/{bin,dist} beside packages/core/launch (the cache's code).
  const pkg = join(dir, 'add2db')
  mkdirSync(join(pkg, 'bin'), { recursive: true })
  mkdirSync(join(pkg, 'dist'))
  mkdirSync(join(dir, 'core', 'launch'), { recursive: true })
  launcher = join(pkg, 'bin', 'add2db.cjs')
  bundle = join(pkg, 'dist', 'add2db.cjs')
  cache = `${bundle}.v8-cache`
  copyFileSync(BIN.add2db, launcher)
  copyFileSync(join(ROOT, 'packages/core/launch/code-cache.cjs'), join(dir, 'core', 'launch', 'code-cache.cjs'))
  copyFileSync(join(ROOT, 'packages/add2db/dist/add2db.cjs'), bundle)
  // The launcher runs the fast path first (the hand-over to a daemon: none here), then this bundle.
  copyFileSync(join(ROOT, 'packages/add2db/dist/add2db-fast.cjs'), join(pkg, 'dist', 'add2db-fast.cjs'))
})
afterEach(() => rmSync(dir, { recursive: true, force: true }))

const help = () => runProgram(launcher, ['--help'])
const usageError = () => runProgram(launcher, ['--jail', 'sshd'])

async function expectHelpWorks(): Promise<void> {
  const r = await help()
  expect(r.stderr).toBe('')
  expect(r.code).toBe(0)
  expect(r.stdout).toMatch(/^usage: add2db/m)
}

describe('add2db code cache', () => {
  it('is written by the first run that exits 0, private to the owner, then used as is', async () => {
    await expectHelpWorks()
    const first = statSync(cache)
    expect(first.mode & 0o777).toBe(0o644)
    expect(first.uid).toBe(process.getuid?.())
    expect(first.size).toBeGreaterThan(10_000)

    await expectHelpWorks()
    // Accepted caches are not rewritten: same inode, same time.
    const second = statSync(cache)
    expect([second.ino, second.mtimeMs]).toEqual([first.ino, first.mtimeMs])
  })

  it('is not written by a run that fails', async () => {
    const r = await usageError()
    expect(r.code).toBe(2)
    expect(existsSync(cache)).toBe(false)
  })

  // Issue 10: V8 checks only the source's length, and a deploy that keeps mtimes (rsync -a,
  // tar, a reproducible build) leaves the bundle's time as it was.
  it('made from other bytes is not used, even of the same length and mtime: the new code runs, the cache is rewritten', async () => {
    // The time a deploy keeps, to the second as tar keeps it.
    const deployed = new Date('2026-01-01T00:00:00Z')
    utimesSync(bundle, deployed, deployed)
    await expectHelpWorks()
    const old = statSync(cache)
    const before = statSync(bundle)
    const text = readFileSync(bundle, 'utf8')
    expect(text.split('usage: add2db')).toHaveLength(2)
    const changed = text.replace('usage: add2db', 'usage: ADD2DB')
    expect(Buffer.byteLength(changed)).toBe(before.size)
    writeFileSync(bundle, changed)
    utimesSync(bundle, deployed, deployed)
    expect(statSync(bundle).mtimeMs).toBe(before.mtimeMs)

    const r = await help()
    expect(r.code).toBe(0)
    expect(r.stdout).toMatch(/^usage: ADD2DB/m)
    const now = statSync(cache)
    expect(now.ino).not.toBe(old.ino)
    // The rewritten cache is used as is by the next run, which still runs the new code.
    expect((await help()).stdout).toMatch(/^usage: ADD2DB/m)
    expect(statSync(cache).ino).toBe(now.ino)
  })

  it("is kept when only the bundle's time changes (a touch, a copy that does not keep times)", async () => {
    await expectHelpWorks()
    const old = statSync(cache)
    const later = new Date(old.mtimeMs + 60_000)
    utimesSync(bundle, later, later)
    await expectHelpWorks()
    expect(statSync(cache).ino).toBe(old.ino)
  })

  it('that V8 rejects (garbage, another Node) leaves the run correct and is replaced', async () => {
    writeFileSync(cache, Buffer.alloc(200_000, 0x5a), { mode: 0o644 })
    await expectHelpWorks()
    expect(readFileSync(cache).subarray(0, 16).equals(Buffer.alloc(16, 0x5a))).toBe(false)
  })

  it('writable by others is never read, and is replaced by a private one', async () => {
    await expectHelpWorks()
    chmodSync(cache, 0o666)
    const planted = statSync(cache).ino
    await expectHelpWorks()
    const now = statSync(cache)
    expect(now.ino).not.toBe(planted)
    expect(now.mode & 0o777).toBe(0o644)
  })

  it('a symlink planted in its place is not followed, for reading or for writing', async () => {
    const target = join(dir, 'victim')
    writeFileSync(target, 'do not touch\n')
    symlinkSync(target, cache)
    await expectHelpWorks()
    expect(readFileSync(target, 'utf8')).toBe('do not touch\n')
  })

  it.runIf(process.getuid?.() === 0)('is not written into a directory owned by someone else', async () => {
    chownSync(join(dir, 'add2db', 'dist'), 65534, 65534)
    await expectHelpWorks()
    expect(existsSync(cache)).toBe(false)
  })
})

// The one-shot readdb (cron, the timer) starts through the same cache.
describe('readdb code cache', () => {
  it("is written by readdb's first run that exits 0 and used by the next", async () => {
    const pkg = join(dir, 'readdb')
    mkdirSync(join(pkg, 'bin'), { recursive: true })
    mkdirSync(join(pkg, 'dist'))
    copyFileSync(join(ROOT, 'packages/readdb/package.json'), join(pkg, 'package.json'))
    copyFileSync(BIN.readdb, join(pkg, 'bin', 'readdb.js'))
    copyFileSync(join(ROOT, 'packages/readdb/dist/readdb.cjs'), join(pkg, 'dist', 'readdb.cjs'))
    // better-sqlite3 stays outside the bundle (native).
    symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'))
    const readdbCache = join(pkg, 'dist', 'readdb.cjs.v8-cache')
    const run = () => runProgram(join(pkg, 'bin', 'readdb.js'), ['--help'])
    expect(await run()).toMatchObject({ code: 0, stderr: '' })
    const first = statSync(readdbCache)
    expect(first.size).toBeGreaterThan(10_000)
    expect(first.mode & 0o777).toBe(0o644)
    const r = await run()
    expect(r.stdout).toMatch(/readdb/)
    expect(statSync(readdbCache).ino).toBe(first.ino)
  })
})
