#!/usr/bin/env -S node --max-semi-space-size=4 --heap-growing-percent=20
// Thin launcher. The one-shot readdb (cron, the timer) starts once a minute, so it starts as
// add2db's full path does: one CommonJS bundle run with a V8 code cache kept beside it
// (packages/core/launch/code-cache.cjs says how the cache is trusted).
// The V8 flags keep the heap near what a poll holds: the young generation capped at 4 MB
// semi-spaces (default 16) and the old one grown by 20 % steps (V8 otherwise grows it up to
// 4x at once). A new host catching up on 100,000 bans peaks at about 88 MB instead of 110 MB
// for about the same CPU (README, Performance; --optimize-for-size got 81 MB for 40 % more
// CPU). V8 takes --heap-growing-percent only on node's command line (not NODE_OPTIONS, not
// v8.setFlagsFromString once running), hence here; `env -S` is GNU coreutils 8.30+.
import { createRequire } from 'node:module'
import { fileURLToPath } from 'node:url'

const require = createRequire(import.meta.url)
require('../../core/launch/code-cache.cjs').loadCached(fileURLToPath(new URL('../dist/readdb.cjs', import.meta.url)))
