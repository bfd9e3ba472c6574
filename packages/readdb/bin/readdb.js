#!/usr/bin/env node
// Thin launcher. The one-shot readdb (cron, the timer) starts once a minute, so it starts as
// add2db's full path does: one CommonJS bundle run with a V8 code cache kept beside it
// (packages/core/launch/code-cache.cjs says how the cache is trusted).
import { createRequire } from 'node:module'
import { fileURLToPath } from 'node:url'

const require = createRequire(import.meta.url)
require('../../core/launch/code-cache.cjs').loadCached(fileURLToPath(new URL('../dist/readdb.cjs', import.meta.url)))
