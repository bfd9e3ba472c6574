// What the firewall-mode tests (test/firewall-mode*.test.ts) share: PATH shims in front of
// the real nft and ipset, and a readdb daemon run inside a network namespace.
import { chmodSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { ChildProcess } from 'node:child_process'
import { findProgram } from '../../scripts/test-machine.mjs'

/**
 * `dir/tool` in front of the real tool: a copy of every script readdb hands it on stdin goes
 * to `log`, so a test can show what reached the tool's input. With `failFlag`, every call
 * fails (exit 1, before the real tool runs) while that file exists: a broken or missing tool
 * the test can switch on and off.
 */
export function toolShim(dir: string, tool: 'nft' | 'ipset', log: string, failFlag?: string): void {
  const real = findProgram(tool)
  if (!real) throw new Error(`${tool} not found`)
  const path = join(dir, tool)
  const fail = failFlag === undefined ? '' : `if [ -e '${failFlag}' ]; then echo '${tool}: made to fail by the test' >&2; exit 1; fi\n`
  writeFileSync(path, `#!/bin/sh\n${fail}if [ "$1" = "-f" ] || [ "$1" = "restore" ]; then tee -a '${log}' | exec '${real}' "$@"; else exec '${real}' "$@"; fi\n`)
  chmodSync(path, 0o755)
}

/** A running `readdb --daemon` (started by Lan.spawn): its output as it comes, its JSON lines, and a stop that waits for the exit. */
export class Daemon {
  out = ''
  readonly exited: Promise<number | null>
  readonly child: ChildProcess
  constructor(child: ChildProcess) {
    this.child = child
    child.stdout?.on('data', (d: Buffer) => (this.out += d.toString()))
    child.stderr?.on('data', (d: Buffer) => (this.out += d.toString()))
    this.exited = new Promise((resolve) => child.on('close', (code) => resolve(code)))
  }
  lines(): Record<string, unknown>[] {
    return this.out
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, unknown>)
  }
  async stop(): Promise<number | null> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGTERM')
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 10_000)
    try {
      return await this.exited
    } finally {
      clearTimeout(timer)
    }
  }
}
