#!/usr/bin/env node
// add2db's launcher. fail2ban runs add2db once per ban, so it starts in two steps. First the
// fast path (dist/add2db-fast.cjs, a few kB): with `readdb --daemon` on the host it hands the
// report to the daemon and exits, having loaded no database driver and no YAML parser. Only
// when that cannot be done does it load the full path (dist/add2db.cjs), with the V8 code
// cache of packages/core/launch/code-cache.cjs (see there), loaded only then too.
'use strict'
const path = require('node:path')

const dist = path.join(__dirname, '..', 'dist')
const loadFull = () => require(path.join(__dirname, '..', '..', 'core', 'launch', 'code-cache.cjs')).loadCached(path.join(dist, 'add2db.cjs'))

// The fast path is small enough that compiling it costs less than reading a cache would.
require(path.join(dist, 'add2db-fast.cjs')).runFast(process.argv.slice(2), loadFull)
