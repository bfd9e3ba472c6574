// The launchers' code cache (add2db's full path, readdb): a bundle, one CommonJS file, runs
// through node:vm with a V8 code cache kept beside it. Most of what a short run costs is Node
// compiling the bundle (the MySQL driver, the YAML parser, the query builder): the first run
// that exits 0 writes the cache, later runs skip the compiling (Node 20 has no compile cache
// of its own; on 22+ this does the same job as module.enableCompileCache()).
//
// The cache is machine code-like input to V8, so it is trusted exactly as far as the bundle:
// it lives in the bundle's directory, is written there only by that directory's owner, and is
// read only when nobody else could have written it. It starts with the SHA-256 of the bundle
// it was made from and is used only for exactly those bytes: V8 itself compares only the
// source's length, and a deploy that keeps mtimes (rsync -a, tar, a reproducible build) must
// not keep running the old code. Hashing the ~700 kB bundle costs about a millisecond. V8
// rejects a cache made by another Node or V8 version; either way the run compiles as usual
// and writes a fresh cache.
'use strict'
const fs = require('node:fs')
const { createHash } = require('node:crypto')
const { createRequire } = require('node:module')
const path = require('node:path')
const { Script } = require('node:vm')

// The cache file: the bundle's SHA-256 (32 bytes), then V8's cached data.
const DIGEST_BYTES = 32

function readTrustedCache(cacheFile, bundleStat, digest) {
  let fd
  try {
    fd = fs.openSync(cacheFile, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW)
    const st = fs.fstatSync(fd)
    const writableByOthers = (st.mode & 0o022) !== 0
    const ownerTrusted = st.uid === bundleStat.uid || st.uid === 0
    if (!st.isFile() || writableByOthers || !ownerTrusted) return undefined
    const data = fs.readFileSync(fd)
    if (data.length <= DIGEST_BYTES || !data.subarray(0, DIGEST_BYTES).equals(digest)) return undefined
    return data.subarray(DIGEST_BYTES)
  } catch {
    return undefined
  } finally {
    if (fd !== undefined) fs.closeSync(fd)
  }
}

// Written to a private temporary name, then renamed: several runs may finish at once, and a
// reader sees either no cache or a whole one.
function writeCache(bundle, cacheFile, script, digest) {
  const dir = path.dirname(bundle)
  const tmp = `${cacheFile}.${process.pid}.tmp`
  try {
    const st = fs.statSync(dir)
    if (typeof process.getuid === 'function' && st.uid !== process.getuid()) return
    fs.writeFileSync(tmp, Buffer.concat([digest, script.createCachedData()]), { mode: 0o644, flag: 'wx' })
    fs.renameSync(tmp, cacheFile)
  } catch {
    // A read-only install (ProtectSystem=strict, a read-only /usr) runs without a cache.
    fs.rmSync(tmp, { force: true })
  }
}

/** Run a CommonJS bundle with its code cache (`<bundle>.v8-cache`); returns its exports. */
function loadCached(bundle) {
  const cacheFile = `${bundle}.v8-cache`
  const bundleStat = fs.statSync(bundle)
  // The bytes hashed are the bytes compiled: read once.
  const bundleBytes = fs.readFileSync(bundle)
  const digest = createHash('sha256').update(bundleBytes).digest()
  const cachedData = readTrustedCache(cacheFile, bundleStat, digest)
  // CommonJS's own wrapper, written out rather than taken from Module.wrap, which Node does not document.
  const source = `(function (exports, require, module, __filename, __dirname) { ${bundleBytes.toString('utf8')}\n})`
  const script = new Script(source, { filename: bundle, cachedData })
  if (cachedData === undefined || script.cachedDataRejected) {
    // At exit the cache holds every function the run compiled, not only the top level.
    process.once('exit', (code) => code === 0 && writeCache(bundle, cacheFile, script, digest))
  }
  const bundleModule = { exports: {} }
  script.runInThisContext()(bundleModule.exports, createRequire(bundle), bundleModule, bundle, path.dirname(bundle))
  return bundleModule.exports
}

module.exports = { loadCached }
