import { join, resolve } from 'node:path'

export const ROOT = resolve(import.meta.dirname, '..', '..')
export const BIN = {
  add2db: join(ROOT, 'packages/add2db/bin/add2db.cjs'),
  readdb: join(ROOT, 'packages/readdb/bin/readdb.js'),
  cli: join(ROOT, 'packages/cli/bin/f2b-central.js'),
}
