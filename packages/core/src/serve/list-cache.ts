import { createHash } from 'node:crypto'
import { createWriteStream, mkdtempSync, rmSync } from 'node:fs'
import { open, rename, rm, stat, type FileHandle } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'

interface Entry {
  readonly list: string
  readonly path: string
  readonly ready: Promise<number>
  done: boolean
  usedAt: number
}

/** An opened rendering of a list: read it from the start, then close it. */
export interface CachedList {
  readonly file: FileHandle
  readonly size: number
}

/**
 * Rendered lists on disk, one file per ETag, so that a list is read from the database once
 * per change however many consumers pull it, and never held in memory: a full pull of an
 * unchanged list is a file read (the page cache), not a thousand queries.
 *
 * - Requests for an ETag being rendered wait for that one rendering (single flight).
 * - When a list (a format with its parameters) has a newer rendering, the older files of
 *   it are deleted; at most `maxFiles` files are kept, the least recently used go first
 *   (a file being read is deleted only from the directory: readers keep their open file).
 * - A rendering that fails leaves nothing behind; the next request renders again.
 *
 * The directory is private (mkdtemp, mode 0700) and removed by close().
 */
export class ListCache {
  readonly #dir: string
  readonly #maxFiles: number
  readonly #entries = new Map<string, Entry>()

  constructor(options: { dir?: string; maxFiles?: number } = {}) {
    this.#dir = mkdtempSync(join(options.dir ?? tmpdir(), 'f2b-central-serve-'))
    this.#maxFiles = options.maxFiles ?? 16
  }

  /** How many renderings are on disk or being written. */
  get size(): number {
    return this.#entries.size
  }

  /**
   * The rendering named `etag` of the list `list`, opened: made from `render()` if no file
   * holds it yet. Throws what rendering threw.
   */
  async open(list: string, etag: string, render: () => AsyncIterable<string>): Promise<CachedList> {
    for (let attempt = 0; ; attempt++) {
      const entry = this.#entries.get(etag) ?? this.#start(list, etag, render)
      entry.usedAt = Date.now()
      const size = await entry.ready
      try {
        return { file: await open(entry.path, 'r'), size }
      } catch (err) {
        // Evicted between its rendering and this open: render it again, once.
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT' || attempt > 0) throw err
      }
    }
  }

  /** Remove every file and the directory. */
  close(): void {
    this.#entries.clear()
    rmSync(this.#dir, { recursive: true, force: true })
  }

  #start(list: string, etag: string, render: () => AsyncIterable<string>): Entry {
    const name = createHash('sha256').update(etag).digest('hex').slice(0, 32)
    const path = join(this.#dir, name)
    const tmp = `${path}.part`
    const entry: Entry = {
      list,
      path,
      done: false,
      usedAt: Date.now(),
      ready: (async () => {
        try {
          await pipeline(Readable.from(render()), createWriteStream(tmp, { mode: 0o600 }))
          await rename(tmp, path)
          return (await stat(path)).size
        } catch (err) {
          this.#entries.delete(etag)
          await rm(tmp, { force: true })
          throw err
        }
      })(),
    }
    this.#entries.set(etag, entry)
    void entry.ready.then(
      () => {
        entry.done = true
        this.#evict(etag, entry)
      },
      () => {},
    )
    return entry
  }

  // A newer rendering of the same list replaces the older ones; past maxFiles the least recently used go.
  #evict(etag: string, fresh: Entry): void {
    for (const [other, e] of this.#entries) {
      if (other !== etag && e.done && e.list === fresh.list) this.#drop(other, e)
    }
    const done = [...this.#entries].filter(([, e]) => e.done).sort((a, b) => a[1].usedAt - b[1].usedAt)
    while (this.#entries.size > this.#maxFiles && done.length > 0) {
      const [other, e] = done.shift()!
      if (other !== etag) this.#drop(other, e)
    }
  }

  #drop(etag: string, e: Entry): void {
    this.#entries.delete(etag)
    void rm(e.path, { force: true })
  }
}
