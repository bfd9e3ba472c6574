// readdb's hand-over on fail2ban's own socket (packages/core/src/fail2ban/fail2ban-socket.ts),
// against a real fail2ban-server: what fail2ban-client would send, answered by fail2ban itself.
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { answerProblem, clientSocket, sendCommand } from '@f2b-central/core/fail2ban/fail2ban-socket'
import { socketJailCheck } from '@f2b-central/core/fail2ban/shared-jail-check'
import { Fail2banServer } from './setup/fail2ban-server.js'

const SHARED = 'f2b-central-shared'

describe("fail2ban's socket, spoken directly", () => {
  let server: Fail2banServer

  beforeAll(async () => {
    server = await Fail2banServer.start({
      name: 'socket',
      shippedFiles: true,
      jails: (dir) => `[${SHARED}]\nenabled = true\nlogpath = ${join(dir, 'shared.log')}\nbackend = polling\n`,
      beforeStart: (s) => writeFileSync(s.path('shared.log'), ''),
    })
  }, 60_000)
  afterAll(() => server?.stop())

  it('finds the socket only in a plain fail2ban-client argv with -s', () => {
    expect(clientSocket(server.clientArgv())).toBe(server.socket)
    expect(clientSocket(['/usr/bin/fail2ban-client', '-s', '/run/fail2ban/fail2ban.sock'])).toBe('/run/fail2ban/fail2ban.sock')
    expect(clientSocket(['fail2ban-client'])).toBeUndefined()
    expect(clientSocket(['sudo', 'fail2ban-client', '-s', '/run/f.sock'])).toBeUndefined()
    expect(clientSocket(['sh', 'stand-in.sh', SHARED])).toBeUndefined()
  })

  it('bans many addresses in one request, as `set JAIL banip IP …` does', async () => {
    await sendCommand(server.socket, ['set', SHARED, 'banip', '192.0.2.31', '2001:db8::31'], 10_000)
    expect(await server.bannedIps(SHARED)).toEqual(expect.arrayContaining(['192.0.2.31', '2001:db8::31']))
    await server.waitForLog(/\[f2b-central-shared\] Ban 2001:db8::31/)
    // One request, one ban each: neither address banned twice.
    const bans = (await server.log()).split('\n').filter((l) => / Ban (192\.0\.2\.31|2001:db8::31)$/.test(l))
    expect(bans).toHaveLength(2)
  })

  it('says what fail2ban answered when it refuses, in one line and without the addresses', async () => {
    const err = await sendCommand(server.socket, ['set', 'no-such-jail', 'banip', '192.0.2.32'], 10_000).catch((e: Error) => e)
    expect((err as Error).message).toMatch(/^fail2ban socket .*: set no-such-jail banip failed: \w+: .*no-such-jail/)
    expect((err as Error).message).not.toContain('192.0.2.32')
  })

  it('checks the shared jail with one `status` request, saying what runs when it does not', async () => {
    expect(await socketJailCheck(server.socket, SHARED, 10_000)()).toBeNull()
    expect(await socketJailCheck(server.socket, 'other-jail', 10_000)()).toBe(`the shared jail other-jail is not running (fail2ban runs: ${SHARED})`)
    expect(await socketJailCheck(server.path('nothing.sock'), SHARED, 10_000)()).toMatch(/^fail2ban is not answering: fail2ban socket .*: status failed: ENOENT/)
  })

  it('fails with the reason when nothing listens', async () => {
    await expect(sendCommand(server.path('nothing.sock'), ['ping'], 2000)).rejects.toThrow(/ping failed: ENOENT/)
  })

  it("reads an answer's code from the pickle's opening, whatever follows", () => {
    expect(answerProblem(Buffer.from('80059507000000000000004b004b028694', 'hex'))).toBeUndefined()
    expect(answerProblem(Buffer.from('8005953400000000000000', 'hex'))).toBeDefined()
  })
})
