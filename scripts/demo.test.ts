// The README's first command (`npm ci && npm run demo`) is what a newcomer tries first: run
// the demo as `npm run demo` does after its build, and check it tells the whole story.
import { execFile } from 'node:child_process'
import { rmSync } from 'node:fs'
import { join } from 'node:path'
import { expect, it } from 'vitest'

const root = join(import.meta.dirname, '..')

it('npm run demo: three hosts share three bans through SQLite, then an unban reaches all', async () => {
  const { code, stdout, stderr } = await new Promise<{ code: number; stdout: string; stderr: string }>((resolve) =>
    execFile(process.execPath, [join(root, 'scripts/demo.mjs')], { cwd: root, timeout: 60_000 }, (err, stdout, stderr) =>
      resolve({ code: err ? Number(err.code ?? -1) : 0, stdout, stderr }),
    ),
  )
  const demoDir = /^demo directory: (\S+)$/m.exec(stdout)?.[1]
  if (demoDir) rmSync(demoDir, { recursive: true, force: true })
  expect(stderr).toBe('')
  expect(code).toBe(0)
  // The programs it shows are the installed names, run for real.
  expect(stdout).toMatch(/^\$ add2db --config \S+web-1\.yml --jail sshd --ip 203\.0\.113\.7 /m)
  // Each host's shared log got the other hosts' bans, one line each, in the filter's format.
  const lines = stdout.match(/^ {2}\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \+0000 f2b-central: ban \S+ jail=\S+ reporter=\S+ ban_id=\d+$/gm) ?? []
  expect(lines).toHaveLength(5)
  // The audit table shows the unban reaching every host (status 4 on all three rows of ban 1).
  const removed = stdout.match(/│ '203\.0\.113\.7' │ 'sshd' │ 'web-1' {2}│ '[a-z0-9-]+' +│ 4 {6}│/g) ?? []
  expect(removed).toHaveLength(3)
}, 90_000)
