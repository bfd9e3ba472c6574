import { describe, expect, it } from 'vitest'
import { parseBanReport, parseBantime } from './ban-report.js'
import { parseHostName, parseJail, parsePort, parseProtocol } from './names.js'

describe('names and ports', () => {
  it.each(['ssh', 'http,https', '0:65535', '22', 'smtp,465,submission', '1:1', 'http, https'])('port %j is accepted', (p) => {
    expect(parsePort(p)).toBe(p.replace(/\s/g, ''))
  })
  it.each(['', '65536', '22:21', '1:2:3', '-1', 'ssh;reboot', '022', 'a'.repeat(129), 'http,', '$(id)', ' 22 x'])('port %j is refused', (p) => {
    expect(() => parsePort(p)).toThrow(/invalid port/)
  })
  it.each(['sshd', 'nginx-http-auth', 'f2b-central-shared', 'a.b_c'])('jail %j is accepted', (j) => {
    expect(parseJail(j)).toBe(j)
  })
  it.each(['', '-x', 'ssh d', 'sshd\n', 'a'.repeat(65), 'jail;rm', 'ümlaut'])('jail %j is refused', (j) => {
    expect(() => parseJail(j)).toThrow(/invalid jail/)
  })
  it.each(['web-1', 'web-1.example.org', 'a', 'HOST_2'])('host %j is accepted', (h) => {
    expect(parseHostName(h)).toBe(h)
  })
  it.each(['', 'web 1', 'web\n1', '.web', 'web..x', 'a'.repeat(64), `${'a.'.repeat(127)}a`])('host %j is refused', (h) => {
    expect(() => parseHostName(h)).toThrow(/invalid host name/)
  })
  it('protocols are lowercased and limited to known ones', () => {
    expect(parseProtocol('TCP')).toBe('tcp')
    expect(() => parseProtocol('tcp;')).toThrow(/invalid protocol/)
  })
  it('ban times: seconds, negative is permanent, 0 and junk refused', () => {
    expect(parseBantime('600')).toBe(600)
    expect(parseBantime('-5')).toBe(-1)
    expect(() => parseBantime('0')).toThrow(/bans nothing/)
    expect(() => parseBantime('1e3')).toThrow(/whole seconds/)
    expect(() => parseBantime('999999999')).toThrow(/10 years/)
  })
  it('a report is validated field by field, with defaults for protocol and port', () => {
    expect(parseBanReport({ ip: '::ffff:203.0.113.9', jail: 'sshd' })).toEqual({ ip: '203.0.113.9', jail: 'sshd', protocol: 'tcp', port: '0:65535', bantime: undefined })
    expect(() => parseBanReport({ ip: '203.0.113.9', jail: 'sshd', port: '99999' })).toThrow(/invalid port "99999"/)
  })
})
