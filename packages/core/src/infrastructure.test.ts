import { describe, expect, it } from 'vitest'
import { NetworkSet, parseNetwork } from './ban/network.js'
import type { Config } from './config/config-schema.js'
import { resolveInfrastructure } from './infrastructure.js'

// Only the fields resolveInfrastructure reads; nothing here connects anywhere.
const config = (host: string | string[], neverBan: string[] = [], broker?: string) =>
  ({
    database: { target: { kind: 'mysql', servers: [host].flat().map((h) => ({ host: h, port: 3306 })), user: 'u', database: 'd' }, timeoutMs: 1000 },
    neverBan: new NetworkSet(neverBan.map((n) => parseNetwork(n))),
    notify: { mqtt: broker === undefined ? undefined : { host: broker }, vallumdTopics: [] },
  }) as unknown as Config

describe('resolveInfrastructure', () => {
  it('protects the database server named by address, in its canonical form', async () => {
    expect((await resolveInfrastructure(config('192.0.2.10'))).has('192.0.2.10')).toBe(true)
    expect((await resolveInfrastructure(config('2001:DB8:0:0::10'))).has('2001:db8::10')).toBe(true)
    expect((await resolveInfrastructure(config('192.0.2.10'))).has('192.0.2.11')).toBe(false)
  })

  it('looks a name up (getaddrinfo), and says which names it could not resolve', async () => {
    expect((await resolveInfrastructure(config('localhost'))).has('127.0.0.1')).toBe(true)
    const missing = await resolveInfrastructure(config('no-such-host.invalid'))
    expect(missing.unresolved).toEqual(['no-such-host.invalid'])
  })

  it('protects every server of a list (issue 15)', async () => {
    const infra = await resolveInfrastructure(config(['192.0.2.10', 'localhost', '192.0.2.12']))
    expect(['192.0.2.10', '127.0.0.1', '192.0.2.12'].map((ip) => infra.has(ip))).toEqual([true, true, true])
  })

  it('adds host.neverBan, networks included', async () => {
    const infra = await resolveInfrastructure(config('192.0.2.10', ['198.51.100.0/24', '2001:db8:1::5']))
    expect(infra.has('198.51.100.77')).toBe(true)
    expect(infra.has('2001:db8:1::5')).toBe(true)
    expect(infra.has('203.0.113.1')).toBe(false)
  })

  it('protects the MQTT broker of notify.mqtt.url, by address or by name', async () => {
    expect((await resolveInfrastructure(config('192.0.2.10', [], '192.0.2.20'))).has('192.0.2.20')).toBe(true)
    expect((await resolveInfrastructure(config('192.0.2.10', [], 'localhost'))).has('127.0.0.1')).toBe(true)
    expect((await resolveInfrastructure(config('192.0.2.10'))).has('192.0.2.20')).toBe(false)
  })
})
