// Figure 9: readdb's firewall mode (issue 13) with 100,000 active bans, for each backend
// (nftables, ipset), in a network namespace made for it:
//   - `readdb --resync` loading all 100,000 into empty sets: the built program's wall time and
//     peak RSS (/usr/bin/time), and the nft or ipset process's peak RSS;
//   - the same resync again with the sets already right (the list and compare of a scheduled
//     resync that finds no drift);
//   - one poll of the 100,000 (a new host's first poll: they are already in the sets), then a
//     poll adding 10,000 new bans to the set of 100,000.
// readdb runs in this namespace (so it reaches the database as any test does); nft, ipset and
// iptables are shims on its PATH that run the real tools inside the bench namespace.
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { execFileSync } from 'node:child_process'
import { join } from 'node:path'
import { stringify } from 'yaml'
import { BIN } from '../test/setup/programs.js'
import { findProgram } from '../scripts/test-machine.mjs'
import { insertPendingBans, openTracked, stampAll, type BenchDb } from './central.js'
import { defer, haveTimeBin, progress, round, runTimed, TIME_BIN } from './util.js'

export interface FirewallBenchOptions {
  bans: number
  added: number
}

interface Run {
  ms: number
  peakRssMb: number | null
  toolPeakRssMb: number | null
  line: Record<string, unknown> | undefined
}

const ip = (i: number) => `11.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`

export async function firewallBench(db: BenchDb, dir: string, o: FirewallBenchOptions) {
  const ns = `f2bbench-${process.pid}-fw`
  execFileSync('ip', ['netns', 'add', ns])
  defer(`delete namespace ${ns}`, () => void execFileSync('ip', ['netns', 'del', ns]))
  const central = await openTracked(db)
  const reporter = await central.db.insertInto('hosts').values({ name: 'bench-reporter', cursor_seq: 0 }).executeTakeFirstOrThrow()
  progress(`figure 9: loading ${o.bans.toLocaleString('en')} active bans`)
  await insertPendingBans(
    central,
    Number(reporter.insertId),
    Array.from({ length: o.bans }, (_, i) => ip(i)),
  )
  await stampAll(central)
  const out: Record<string, unknown> = { bans: o.bans, added: o.added, targetResyncMs: 2000, targetRssMb: 150 }
  for (const backend of ['nftables', 'ipset'] as const) {
    const shims = join(dir, `fw-shims-${backend}`)
    mkdirSync(shims, { recursive: true })
    const toolRss = join(dir, `fw-tool-rss-${backend}`)
    for (const tool of ['nft', 'ipset', 'iptables', 'ip6tables', 'conntrack']) {
      const real = findProgram(tool)
      if (!real) throw new Error(`${tool} not found`)
      const time = haveTimeBin() && (tool === 'nft' || tool === 'ipset') ? `${TIME_BIN} -a -o '${toolRss}' -f '%M' ` : ''
      writeFileSync(join(shims, tool), `#!/bin/sh\nexec ${time}ip netns exec ${ns} '${real}' "$@"\n`)
      chmodSync(join(shims, tool), 0o755)
    }
    const config = join(dir, `fw-${backend}.yml`)
    writeFileSync(
      config,
      stringify({
        database: { url: db.url, timeoutSeconds: 30 },
        host: { name: `bench-${backend}`, allowFleetAddresses: false },
        firewall: { backend, forward: true },
        readdb: { lockFile: join(dir, `fw-${backend}.lock`), pollTimeoutSeconds: 600, batchSize: 5000 },
        spool: { dir: join(dir, `fw-${backend}-spool`) },
      }),
      { mode: 0o600 },
    )
    const env = { ...process.env, PATH: `${shims}:${process.env.PATH}` }
    const run = async (args: string[]): Promise<Run> => {
      writeFileSync(toolRss, '')
      // As the units start it: the launcher itself, so its V8 flags (bin/readdb.js) apply.
      const r = await runTimed([BIN.readdb, '--config', config, ...args], { env, timeoutMs: 600_000 })
      if (r.code !== 0) throw new Error(`readdb ${args.join(' ')} (${backend}) exited ${r.code}: ${r.stderr.slice(0, 400)}`)
      const tool = readFileSync(toolRss, 'utf8').split('\n').filter(Boolean).map(Number)
      progress(`figure 9 (${backend}): readdb ${args.join(' ')}: ${round(r.ms, 0)} ms, peak RSS ${r.maxRssKb === null ? '?' : round(r.maxRssKb / 1024)} MB`)
      const lines = r.stdout
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as Record<string, unknown>)
      return {
        ms: round(r.ms, 0),
        peakRssMb: r.maxRssKb === null ? null : round(r.maxRssKb / 1024),
        toolPeakRssMb: tool.length > 0 ? round(Math.max(...tool) / 1024) : null,
        line: lines.find((l) => l.msg === 'firewall resync') ?? lines.find((l) => l.msg === 'poll'),
      }
    }
    progress(`figure 9 (${backend}): resync of ${o.bans.toLocaleString('en')} into empty sets`)
    const load = await run(['--resync'])
    const inSync = await run(['--resync'])
    progress(`figure 9 (${backend}): first poll of ${o.bans.toLocaleString('en')}, then ${o.added.toLocaleString('en')} new`)
    const first = await run([])
    const start = o.bans + (backend === 'ipset' ? o.added : 0)
    await insertPendingBans(
      central,
      Number(reporter.insertId),
      Array.from({ length: o.added }, (_, i) => ip(start + i)),
    )
    const added = await run([])
    const entries = backend === 'nftables' ? countNft(ns) : countIpset(ns)
    out[backend] = { load, inSync, firstPoll: first, pollAdding: added, entriesAfter: entries }
    execFileSync('ip', ['netns', 'exec', ns, 'nft', 'flush', 'ruleset'])
    execFileSync('ip', ['netns', 'exec', ns, 'ipset', 'destroy'])
  }
  await central.close()
  return out as unknown as FirewallBenchResult
}

function countNft(ns: string): number {
  const text = execFileSync('ip', ['netns', 'exec', ns, 'nft', '-j', 'list', 'set', 'inet', 'f2b_central', 'bans_v4_addr'], { maxBuffer: 1 << 28 }).toString()
  return (JSON.parse(text) as { nftables: { set?: { elem?: unknown[] } }[] }).nftables.find((x) => x.set)?.set?.elem?.length ?? 0
}

function countIpset(ns: string): number {
  return execFileSync('ip', ['netns', 'exec', ns, 'ipset', 'save', 'f2b-central-v4'], { maxBuffer: 1 << 28 })
    .toString()
    .split('\n')
    .filter((l) => l.startsWith('add ')).length
}

export interface FirewallBenchResult {
  bans: number
  added: number
  targetResyncMs: number
  targetRssMb: number
  nftables: { load: Run; inSync: Run; firstPoll: Run; pollAdding: Run; entriesAfter: number }
  ipset: { load: Run; inSync: Run; firstPoll: Run; pollAdding: Run; entriesAfter: number }
}
