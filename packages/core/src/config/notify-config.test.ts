// The notify section (issue 12): validation and resolution at load time. Publishing and
// subscribing are tested against a real Mosquitto in test/push.test.ts and test/push-outage.test.ts.
import { execFileSync } from 'node:child_process'
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ConfigError } from '../errors.js'
import { loadConfig } from './load-config.js'

const dir = mkdtempSync(join(tmpdir(), 'f2b-notify-config-'))
function file(name: string, text: string, mode = 0o600): string {
  const p = join(dir, name)
  writeFileSync(p, text, { mode })
  chmodSync(p, mode)
  return p
}
let n = 0
const load = (yaml: string) => loadConfig({ path: file(`c${n++}.yml`, `database:\n  url: sqlite:${dir}/x.sqlite\n${yaml}`), env: {} })
function expectConfigError(yaml: string, message: RegExp): void {
  try {
    load(yaml)
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError)
    expect((err as Error).message).toMatch(message)
    return
  }
  throw new Error('expected a ConfigError')
}

let cert = ''
let key = ''
beforeAll(() => {
  execFileSync(
    'openssl',
    ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'k.pem', '-out', 'c.pem', '-days', '1', '-subj', '/CN=notify test'],
    { cwd: dir, stdio: 'pipe' },
  )
  chmodSync(join(dir, 'k.pem'), 0o600)
  cert = join(dir, 'c.pem')
  key = join(dir, 'k.pem')
})
afterAll(() => rmSync(dir, { recursive: true, force: true }))

describe('notify', () => {
  it('is off unless configured', () => {
    expect(load('').notify).toEqual({ mqtt: undefined, vallumdTopics: [] })
  })

  it('parses the URL (default port by scheme), the default topic, and reads the password file', () => {
    const pw = file('mqtt-password', 's3cret\n')
    const cfg = load(
      `notify:\n  mqtt:\n    url: mqtts://broker.example.org\n    username: web-1\n    passwordFile: ${pw}\n    tls:\n      ca: ${cert}\n      cert: ${cert}\n      key: ${key}\n  vallumd:\n    topics: [blacklist]\n`,
    )
    expect(cfg.notify.mqtt).toMatchObject({
      url: 'mqtts://broker.example.org:8883',
      host: 'broker.example.org',
      port: 8883,
      tls: true,
      username: 'web-1',
      password: 's3cret',
      topic: 'f2b-central',
    })
    expect(cfg.notify.mqtt?.ca).toMatch(/BEGIN CERTIFICATE/)
    expect(cfg.notify.vallumdTopics).toEqual(['blacklist'])
    expect(load('notify:\n  mqtt:\n    url: mqtt://[2001:db8::1]\n').notify.mqtt).toMatchObject({ host: '2001:db8::1', port: 1883, tls: false })
  })

  it('refuses a password file others can read, as every secret file', () => {
    const pw = file('loose-password', 'x\n', 0o644)
    expectConfigError(
      `notify:\n  mqtt:\n    url: mqtt://127.0.0.1\n    username: u\n    passwordFile: ${pw}\n`,
      /notify\.mqtt\.passwordFile .*loose-password is accessible to other users \(mode 644\)/,
    )
  })

  it.each([
    ['url: http://broker', /notify\.mqtt\.url: unsupported scheme "http:"; expected mqtt: or mqtts:/],
    ['url: mqtt://user:pw@broker', /notify\.mqtt\.url: holds credentials/],
    ['url: mqtt://broker/topic', /notify\.mqtt\.url: expected only a host and port; the topic goes in notify\.mqtt\.topic/],
    ['url: mqtt://broker\n    topic: fleet/#', /notify\.mqtt\.topic: must be a topic without \+, # or empty levels/],
    ['url: mqtt://broker\n    topic: /fleet', /notify\.mqtt\.topic: must be a topic/],
    ['url: mqtt://broker\n    passwordFile: /x', /passwordFile needs a username/],
    ['url: mqtt://broker\n    tls:\n      ca: /x', /notify\.mqtt\.tls: TLS settings need an mqtts:\/\/ URL/],
  ])('refuses %s', (yaml, message) => {
    expectConfigError(`notify:\n  mqtt:\n    ${yaml}\n`, message)
  })

  it('vallumd needs the broker, and topics without wildcards', () => {
    expectConfigError('notify:\n  vallumd:\n    topics: [blacklist]\n', /notify\.vallumd: needs notify\.mqtt/)
    expectConfigError('notify:\n  mqtt:\n    url: mqtt://broker\n  vallumd:\n    topics: [black+list]\n', /notify\.vallumd\.topics\.0: must be a topic/)
    expectConfigError('notify:\n  mqtt:\n    url: mqtt://broker\n  vallumd:\n    topics: []\n', /notify\.vallumd\.topics/)
  })
})
