import { describe, expect, it } from 'vitest'
import { fingerprint, randomUuid } from './no-crypto.js'

describe('add2db fast path without node:crypto', () => {
  it('fingerprint is FNV-1a 64 (the published test vectors), over UTF-8 bytes', () => {
    expect(fingerprint('')).toBe('cbf29ce484222325')
    expect(fingerprint('a')).toBe('af63dc4c8601ec8c')
    expect(fingerprint('foobar')).toBe('85944171f73967e8')
    expect(fingerprint('é')).not.toBe(fingerprint('e'))
  })

  it('randomUuid makes version 4 UUIDs, as the spool and the database expect, never the same twice', () => {
    const seen = new Set<string>()
    for (let i = 0; i < 2000; i++) {
      const id = randomUuid()
      expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/)
      seen.add(id)
    }
    expect(seen.size).toBe(2000)
  })
})
