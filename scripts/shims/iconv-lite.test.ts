import { createRequire } from 'node:module'
import iconv from 'iconv-lite'
import { describe, expect, it } from 'vitest'

// The shim must agree with the real iconv-lite on the one encoding it implements.
const shim = createRequire(import.meta.url)('./iconv-lite.cjs') as typeof iconv

describe('iconv-lite shim (bundles only)', () => {
  it.each(['plain ascii', 'héllo wörld', '日本語', 'emoji 😀 and 𝄞', '\u0000\u007f\u0080\u07ff\u0800\uffff'])('CESU-8 round trip of %j matches iconv-lite', (text) => {
    const real = iconv.encode(text, 'cesu8')
    expect(shim.encode(text, 'cesu8')).toEqual(real)
    expect(shim.decode(real, 'cesu8')).toBe(iconv.decode(real, 'cesu8'))
    expect(shim.getDecoder('CESU-8').write(real)).toBe(text)
  })
  it('refuses any other encoding loudly', () => {
    expect(() => shim.getDecoder('koi8-r')).toThrow(/character set koi8-r is not supported/)
  })
})
