import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { ListCache } from './list-cache.js'

const dir = mkdtempSync(join(tmpdir(), 'f2b-list-cache-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

async function read(cache: ListCache, list: string, etag: string, render: () => AsyncIterable<string>): Promise<string> {
  const { file, size } = await cache.open(list, etag, render)
  try {
    const text = (await file.readFile()).toString('utf8')
    expect(text.length).toBe(size)
    return text
  } finally {
    await file.close()
  }
}

describe('the list cache', () => {
  it('renders a version once, however many ask at the same time, and replaces it by the next', async () => {
    const cache = new ListCache({ dir })
    let renders = 0
    const render = (text: string) =>
      async function* () {
        renders++
        await new Promise((r) => setTimeout(r, 20))
        yield text.slice(0, 3)
        yield text.slice(3)
      }
    const texts = await Promise.all(Array.from({ length: 5 }, () => read(cache, 'txt', '"a"', render('a list\n'))))
    expect(texts).toEqual(Array(5).fill('a list\n'))
    expect(renders).toBe(1)
    expect(await read(cache, 'txt', '"a"', render('never'))).toBe('a list\n')
    expect(await read(cache, 'txt', '"b"', render('b list\n'))).toBe('b list\n')
    expect(await read(cache, 'nft', '"c"', render('c list\n'))).toBe('c list\n')
    await new Promise((r) => setTimeout(r, 20))
    // "a" was replaced by "b" (the same list); "c" is another list
    expect(cache.size).toBe(2)
    expect(renders).toBe(3)
    const [sub] = readdirSync(dir).filter((d) => d.startsWith('f2b-central-serve-'))
    cache.close()
    expect(existsSync(join(dir, sub!))).toBe(false)
  })

  it('a failed rendering leaves nothing behind, and the next request renders again', async () => {
    const cache = new ListCache({ dir })
    const failing = async function* () {
      yield 'half'
      throw new Error('database gone')
    }
    await expect(cache.open('txt', '"x"', failing)).rejects.toThrow('database gone')
    expect(cache.size).toBe(0)
    expect(
      await read(cache, 'txt', '"x"', async function* () {
        yield 'whole\n'
      }),
    ).toBe('whole\n')
    cache.close()
  })

  it('keeps at most maxFiles renderings, the least recently used go first', async () => {
    const cache = new ListCache({ dir, maxFiles: 2 })
    const once = (t: string) =>
      async function* () {
        yield t
      }
    await read(cache, 'l1', '"1"', once('1'))
    await read(cache, 'l2', '"2"', once('2'))
    await read(cache, 'l1', '"1"', once('never'))
    await read(cache, 'l3', '"3"', once('3'))
    await new Promise((r) => setTimeout(r, 20))
    expect(cache.size).toBe(2)
    expect(await read(cache, 'l1', '"1"', once('again'))).toBe('1')
    expect(await read(cache, 'l2', '"2"', once('2 again'))).toBe('2 again')
    cache.close()
  })
})
