import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { F2bError } from '../errors.js'
import { addToken, hashToken, matchToken, parseTokensFile, presentedToken, readTokensFile, removeToken, TokenStore, type TokenFileEvent } from './tokens.js'

const dir = mkdtempSync(join(tmpdir(), 'f2b-tokens-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))
let n = 0
const file = () => join(dir, `tokens-${n++}`)

describe('serve tokens', () => {
  it('add prints a fresh 32-byte token once and stores only its SHA-256, mode 0600', () => {
    const path = file()
    const a = addToken(path, 'router-1')
    const b = addToken(path, 'prometheus')
    expect(a).toMatch(/^f2bc_[A-Za-z0-9_-]{43}$/)
    expect(b).not.toBe(a)
    const text = readFileSync(path, 'utf8')
    expect(text).not.toContain(a.slice(5))
    expect(text).toContain(`router-1 sha256:${hashToken(a).toString('hex')} `)
    expect(statSync(path).mode & 0o777).toBe(0o600)
    expect(readTokensFile(path).map((e) => e.name)).toEqual(['router-1', 'prometheus'])
    expect(() => addToken(path, 'router-1')).toThrow(/a token named router-1 exists/)
    expect(() => addToken(path, 'bad name')).toThrow(/invalid NAME "bad name"/)
  })

  it('matches a token to its name, whichever entry it is, and nothing else', () => {
    const path = file()
    const tokens = ['one', 'two', 'three'].map((name) => addToken(path, name))
    const entries = readTokensFile(path)
    expect(tokens.map((t) => matchToken(entries, t))).toEqual(['one', 'two', 'three'])
    for (const wrong of [undefined, '', `${tokens[0]}x`, tokens[0]!.slice(0, -1), tokens[0]!.toUpperCase(), 'x'.repeat(300)]) expect(matchToken(entries, wrong)).toBeUndefined()
    expect(matchToken([], tokens[0])).toBeUndefined()
  })

  it('remove takes one out; the file is replaced, never through a planted file', () => {
    const path = file()
    addToken(path, 'a')
    const kept = addToken(path, 'b')
    expect(removeToken(path, 'a')).toBe(true)
    expect(removeToken(path, 'a')).toBe(false)
    expect(matchToken(readTokensFile(path), kept)).toBe('b')
  })

  it('refuses a tokens file others may read, and a malformed one, naming the line', () => {
    const loose = file()
    addToken(loose, 'a')
    chmodSync(loose, 0o644)
    expect(() => readTokensFile(loose)).toThrow(/accessible to other users \(mode 644\)/)
    expect(() => addToken(loose, 'b')).toThrow(F2bError)
    expect(() => parseTokensFile('# comment\n\nname sha256:abc\n', '/x')).toThrow('serve.tokensFile /x line 3: expected "NAME sha256:HASH [CREATED]", found "name sha256:abc"')
    const h = 'a'.repeat(64)
    expect(() => parseTokensFile(`x sha256:${h}\nx sha256:${h}\n`, '/x')).toThrow(/line 2: the name x is there twice/)
    expect(parseTokensFile(`x sha256:${h}\n`, '/x')).toEqual([{ name: 'x', hash: Buffer.from(h, 'hex'), created: '' }])
  })

  it('reads the token from Bearer, or from Basic as the password (a browser login)', () => {
    expect(presentedToken('Bearer f2bc_abc-_')).toBe('f2bc_abc-_')
    expect(presentedToken('bearer   f2bc_abc')).toBe('f2bc_abc')
    expect(presentedToken(`Basic ${Buffer.from('me:f2bc_abc').toString('base64')}`)).toBe('f2bc_abc')
    expect(presentedToken(`Basic ${Buffer.from('no-colon').toString('base64')}`)).toBeUndefined()
    for (const h of [undefined, '', 'f2bc_abc', 'Bearer', 'Bearer a b', 'Token f2bc_abc', `Bearer ${'a'.repeat(2000)}`]) expect(presentedToken(h)).toBeUndefined()
  })

  it('a store re-reads a changed file (at most once a second) and fails closed on a bad one', async () => {
    const path = file()
    const events: TokenFileEvent['kind'][] = []
    const store = new TokenStore(path, (e) => events.push(e.kind))
    store.load()
    expect(events).toEqual(['missing'])
    const t = addToken(path, 'a')
    expect(store.match(t)).toBeUndefined() // within the second: not looked at yet
    await new Promise((r) => setTimeout(r, 1050))
    expect(store.match(t)).toBe('a')
    writeFileSync(path, 'garbage\n', { mode: 0o600 })
    await new Promise((r) => setTimeout(r, 1050))
    expect(store.match(t)).toBeUndefined()
    expect(events).toEqual(['missing', 'loaded', 'refused'])
  })
})
