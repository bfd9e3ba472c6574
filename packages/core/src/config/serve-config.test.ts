// The serve section of the config (issue 14): defaults, the listen address, the explicit
// opening of endpoints, and the warnings for a service reachable from the network.
import { describe, expect, it } from 'vitest'
import { parseConfig } from './parse-config.js'

const parse = (serve: string) => parseConfig(`database:\n  url: sqlite:/x.sqlite\nhost:\n  allowOwnAddresses: false\n${serve}`, { path: '/etc/f2b-central/serve.yml' })

describe('serve config', () => {
  it('defaults: loopback, port 8700, no TLS, nothing open, stale after 5 minutes', () => {
    const r = parse('')
    expect(r.errors).toEqual([])
    expect(r.warnings).toEqual([])
    expect(r.config?.serve).toEqual({
      listen: { host: '127.0.0.1', port: 8700, loopback: true },
      tokensFile: '/etc/f2b-central/serve-tokens',
      open: [],
      staleAfterSeconds: 300,
    })
  })

  it('refuses a listen address that is a name or malformed, an unknown endpoint in open, a lone TLS file', () => {
    expect(parse('serve:\n  listen: localhost:8700\n').errors.map((e) => e.path)).toEqual(['serve.listen'])
    expect(parse('serve:\n  listen: localhost:8700\n').errors[0]!.message).toMatch(/^invalid serve\.listen "localhost:8700": expected ADDRESS:PORT/)
    expect(parse('serve:\n  open: [/v1/bans.txt, /admin]\n').errors.map((e) => e.path)).toEqual(['serve.open.1'])
    expect(parse('serve:\n  tls:\n    cert: /x.pem\n').errors.map((e) => e.path)).toEqual(['serve.tls.key'])
    expect(parse('serve:\n  listen: 127.0.0.1:8700\n  extra: 1\n').errors.map((e) => e.path)).toEqual(['serve'])
  })

  it('warns when it is reachable from the network without TLS, and when a list is open to it', () => {
    const r = parse('serve:\n  listen: 0.0.0.0:8700\n  open: [/healthz, /metrics, /v1/bans.txt]\n')
    expect(r.errors).toEqual([])
    expect(r.warnings.map((w) => w.message)).toEqual([
      'serve.listen: 0.0.0.0:8700 is reachable from the network without serve.tls: tokens and ban lists travel in clear text',
      'serve.open: /v1/bans.txt is answered without a token to anyone who can reach 0.0.0.0:8700',
    ])
    expect(parse('serve:\n  listen: "[::1]:8700"\n  open: [/v1/bans.txt]\n').warnings).toEqual([])
  })
})
