#!/usr/bin/env node
// Thin launcher: cache compiled code where Node can (22+), then run the bundle.
import * as nodeModule from 'node:module'

if (typeof nodeModule.enableCompileCache === 'function') nodeModule.enableCompileCache()
await import('../dist/readdb.mjs')
