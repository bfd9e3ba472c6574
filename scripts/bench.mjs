// npm run bench: bundle bench/bench.ts (which reuses core and test/setup helpers) into one
// ESM file, then run it. The bundle is a build output (bench/dist/, git-ignored).
import { build } from 'esbuild'
import { join, resolve } from 'node:path'
import { pathToFileURL } from 'node:url'

const root = resolve(import.meta.dirname, '..')
const outfile = join(root, 'bench/dist/bench.mjs')
await build({
  entryPoints: [join(root, 'bench/bench.ts')],
  outfile,
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  // Native better-sqlite3 and CommonJS mysql2 load from node_modules as they are.
  external: ['better-sqlite3', 'mysql2', 'mysql2/*'],
  banner: { js: "import { createRequire as __f2bCreateRequire } from 'node:module'; const require = __f2bCreateRequire(import.meta.url);" },
  sourcemap: true,
  legalComments: 'none',
  logLevel: 'warning',
})
process.setSourceMapsEnabled(true)
await import(pathToFileURL(outfile).href)
