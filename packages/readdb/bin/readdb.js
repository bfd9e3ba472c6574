#!/usr/bin/env -S node --max-semi-space-size=4 --heap-growing-percent=20
// Thin launcher: cache compiled code where Node can (22+), then run the bundle.
// The V8 flags keep the heap near what a poll holds: the young generation capped at 4 MB
// semi-spaces (default 16) and the old one grown by 20 % steps (V8 otherwise grows it up to
// 4x at once). A new host catching up on 100,000 bans peaks at about 88 MB instead of 110 MB
// for about the same CPU (README, Performance; --optimize-for-size got 81 MB for 40 % more
// CPU). V8 takes --heap-growing-percent only on node's command line (not NODE_OPTIONS, not
// v8.setFlagsFromString once running), hence here; `env -S` is GNU coreutils 8.30+.
import * as nodeModule from 'node:module'

if (typeof nodeModule.enableCompileCache === 'function') nodeModule.enableCompileCache()
await import('../dist/readdb.mjs')
