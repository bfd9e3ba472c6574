import { describe, expect, it } from 'vitest'
import { parseBanReport } from '@f2b-central/core/ban/ban-report'
import { isCanonicalIp } from '@f2b-central/core/ban/ip-address'
import { parseJail, parsePort, parseProtocol } from '@f2b-central/core/ban/names'
import { F2bError } from '@f2b-central/core/errors'
import { ExitCode } from '@f2b-central/core/exit-codes'
import { parseAdd2dbArgs } from './args.js'

// Deterministic, so a failure can be reproduced: mulberry32.
function rng(seed: number) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed)
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

const TRICKY = [
  '192.0.2.1',
  '010.0.0.1',
  '192.0.2.01',
  '１９２.0.2.1',
  '١٩٢.0.2.1',
  '192。0。2。1',
  '::ffff:192.0.2.1',
  '::ffff:c000:201',
  'fe80::1%eth0',
  '2001:db8::1',
  '2001:DB8:0:0:0:0:0:1',
  '2001:db8::1::2',
  '0x7f.1',
  '3221225985',
  '192.0.2.1\n',
  ' 192.0.2.1',
  '192.0.2.1/32',
  '[2001:db8::1]',
  'x'.repeat(100_000),
  '',
  '\u202e1.2.3.4',
  '1.2.3.4\u0000',
  'ssh',
  'http,https',
  '0:65535',
  '22:21',
  '-1',
  '$(reboot)',
  '`id`',
  '; rm -rf /',
  'sshd',
]

function randomToken(r: () => number): string {
  const pick = r()
  if (pick < 0.5) return TRICKY[Math.floor(r() * TRICKY.length)] ?? ''
  const len = Math.floor(r() * 40)
  let s = ''
  for (let i = 0; i < len; i++) {
    const c = r()
    s += c < 0.6 ? String.fromCharCode(32 + Math.floor(r() * 95)) : c < 0.8 ? String.fromCharCode(Math.floor(r() * 0x3000)) : '0123456789.:'[Math.floor(r() * 12)]
  }
  return s
}

const FLAGS = ['--jail', '--ip', '--protocol', '--port', '--bantime', '-j', '-i', '-pr', '-p', '--frob']

describe('add2db argument fuzzing (in process; the binary is fuzzed in test/add2db.test.ts)', () => {
  it('every argv either yields a fully canonical report or a usage error (exit 2), never anything else', () => {
    const r = rng(20261123)
    let accepted = 0
    for (let n = 0; n < 20_000; n++) {
      const argv: string[] = []
      if (r() < 0.5) {
        // Well-formed flags with hostile values: exercises validation rather than the parser.
        argv.push('--jail', r() < 0.7 ? 'sshd' : randomToken(r), '--ip', randomToken(r))
        if (r() < 0.5) argv.push('--port', r() < 0.5 ? 'ssh' : randomToken(r))
        if (r() < 0.3) argv.push('--protocol', r() < 0.5 ? 'tcp' : randomToken(r))
        if (r() < 0.3) argv.push('--bantime', r() < 0.5 ? '600' : randomToken(r))
      } else {
        const pairs = 1 + Math.floor(r() * 5)
        for (let i = 0; i < pairs; i++) argv.push(FLAGS[Math.floor(r() * FLAGS.length)] ?? '--ip', randomToken(r))
      }
      try {
        const args = parseAdd2dbArgs(argv)
        const ban = parseBanReport({ ip: args.ip ?? '', jail: args.jail ?? '', protocol: args.protocol, port: args.port, bantime: args.bantime })
        expect(isCanonicalIp(ban.ip)).toBe(true)
        expect(parseJail(ban.jail)).toBe(ban.jail)
        expect(parseProtocol(ban.protocol)).toBe(ban.protocol)
        expect(parsePort(ban.port)).toBe(ban.port)
        expect(ban.bantime === undefined || Number.isSafeInteger(ban.bantime)).toBe(true)
        expect(`${ban.ip}${ban.jail}${ban.port}${ban.protocol}`).not.toMatch(/[\s$`;()|&<>\\'"]/)
        accepted++
      } catch (err) {
        expect(err).toBeInstanceOf(F2bError)
        expect((err as F2bError).exitCode).toBe(ExitCode.Usage)
        expect((err as F2bError).message).not.toMatch(/\n/)
        expect((err as F2bError).message.length).toBeLessThan(400)
      }
    }
    // The generator must produce some valid reports, or this test proves nothing.
    expect(accepted).toBeGreaterThan(100)
  })
})
