import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { Fail2banError } from '../errors.js'
import { describeCommand, Fail2banClient, MAX_ADDRESSES_PER_CALL } from './fail2ban-client.js'

// Any program stands in for fail2ban-client here: what is tested is how its failures are
// reported and how address lists are split, not what fail2ban does with them.
const addresses = (n: number) => Array.from({ length: n }, (_, i) => `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`)
// Long IPv6 addresses: 60,000 of them overflow the kernel's bound on a command line (2 MB here).
const v6 = (n: number) => Array.from({ length: n }, (_, i) => `2001:db8:ffff:ffff:ffff:ffff:${(i >> 16).toString(16)}:${(i & 0xffff).toString(16)}`)
const dir = mkdtempSync(join(tmpdir(), 'f2b-client-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

describe('Fail2banClient', () => {
  it('names the command and the count in a failure, never the argv list (issue 11, point 6)', async () => {
    const ips = addresses(2000)
    const err = await new Fail2banClient(['false'], 5000).run('set', 'f2b-central-shared', 'unbanip', ...ips).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(Fail2banError)
    expect((err as Error).message).toBe('fail2ban-client set f2b-central-shared unbanip <2000 addresses> failed: exit 1')
    expect((err as Error).message).not.toMatch(/10\.0\.0\.1/)
  })

  it('a command line too long for the kernel fails as E2BIG without repeating it', async () => {
    const err = await new Fail2banClient(['true'], 5000).run('unban', ...v6(60_000)).catch((e: unknown) => e)
    expect((err as Error).message).toBe('fail2ban-client unban <60000 addresses> failed: cannot start it: E2BIG')
  })

  it("keeps fail2ban-client's own last line, without its log prefix, bounded", async () => {
    const say = (out: string, err: string) => new Fail2banClient(['sh', '-c', 'printf "%s" "$1"; printf "%s" "$2" >&2; exit 255', 'fail2ban-client', out, err], 5000)
    await expect(
      say('', '2026-12-01 20:04:10,719 fail2ban                [18571]: ERROR   Failed to access socket path: /x.sock. Is fail2ban running?\n').run('status'),
    ).rejects.toThrow(/^fail2ban-client status failed: Failed to access socket path: \/x\.sock\. Is fail2ban running\?$/)
    await expect(say("Sorry but the jail 'x' does not exist\n", "2026-12-01 20:03:11,015 fail2ban [17628]: ERROR   NOK: ('x',)\n").run('status', 'x')).rejects.toThrow(
      /^fail2ban-client status x failed: Sorry but the jail 'x' does not exist$/,
    )
    const long = await say('y'.repeat(5000), '')
      .run('ping')
      .catch((e: unknown) => e)
    expect((long as Error).message.length).toBeLessThan(400)
  })

  it(`runWithAddresses: at most ${MAX_ADDRESSES_PER_CALL} addresses per call, every address passed once`, async () => {
    const record = join(dir, 'argv')
    const client = new Fail2banClient(['sh', '-c', `shift 3; echo "$#" >> ${record}; printf '%s\\n' "$@" >> ${record}.ips`, 'fail2ban-client'], 5000)
    const ips = addresses(1234)
    await client.runWithAddresses(['set', 'f2b-central-shared', 'unbanip'], ips)
    expect(readFileSync(record, 'utf8').trim().split('\n').map(Number)).toEqual([500, 500, 234])
    expect(readFileSync(`${record}.ips`, 'utf8').trim().split('\n')).toEqual(ips)
  })

  it('describeCommand', () => {
    expect(describeCommand(['get', 'sshd', 'banip', '--with-time'])).toBe('get sshd banip --with-time')
    expect(describeCommand(['set', 'j', 'banip', '2001:db8::1'])).toBe('set j banip <1 address>')
  })
})
