// Figure 2: what one add2db costs fail2ban (it runs once per ban), next to a bare `node -e 0`
// on the same machine. Interleaved (node, add2db, node, add2db, …) so the ratio holds on a
// noisy machine; peak RSS from /usr/bin/time.
import { BIN, writeHostConfig } from '../test/setup/programs.js'
import type { BenchDb } from './central.js'
import { haveTimeBin, median, progress, round, runTimed } from './util.js'

export interface Add2dbCostOptions {
  warmup: number
  runs: number
}

export async function add2dbCost(db: BenchDb, dir: string, o: Add2dbCostOptions) {
  const config = writeHostConfig({ dir, name: 'bench-add2db', dbUrl: db.url })
  progress(`figure 2: add2db vs node -e 0, ${o.warmup} warm-up + ${o.runs} interleaved pairs`)
  const node: { ms: number; rss: number | null }[] = []
  const add2db: { ms: number; rss: number | null }[] = []
  for (let i = 0; i < o.warmup + o.runs; i++) {
    const bare = await runTimed([process.execPath, '-e', '0'])
    const ip = `192.0.2.${1 + (i % 250)}`
    const run = await runTimed([process.execPath, BIN.add2db, '--config', config, '--jail', 'sshd', '--ip', ip, '--port', 'ssh', '--bantime', '3600'])
    if (bare.code !== 0) throw new Error(`node -e 0 failed: ${bare.stderr}`)
    if (run.code !== 0) throw new Error(`add2db failed (${run.code}): ${run.stderr}`)
    if (i < o.warmup) continue
    node.push({ ms: bare.ms, rss: bare.maxRssKb })
    add2db.push({ ms: run.ms, rss: run.maxRssKb })
  }
  const stored = await db.query<{ n: number }>(`SELECT COUNT(*) AS n FROM bans`)
  const nodeMs = median(node.map((x) => x.ms))
  const addMs = median(add2db.map((x) => x.ms))
  const rssMb = (xs: { rss: number | null }[]) => (haveTimeBin() ? round(median(xs.map((x) => x.rss!)) / 1024, 1) : null)
  const maxRssMb = (xs: { rss: number | null }[]) => (haveTimeBin() ? round(Math.max(...xs.map((x) => x.rss!)) / 1024, 1) : null)
  return {
    runs: o.runs,
    warmup: o.warmup,
    command: `node ${BIN.add2db} --config FILE --jail sshd --ip IP --port ssh --bantime 3600`,
    bansStored: Number(stored[0]?.n ?? 0),
    add2dbMsMedian: round(addMs, 1),
    nodeMsMedian: round(nodeMs, 1),
    ratio: round(addMs / nodeMs, 2),
    add2dbRssMbMedian: rssMb(add2db),
    add2dbRssMbMax: maxRssMb(add2db),
    nodeRssMbMedian: rssMb(node),
    rssSource: haveTimeBin() ? '/usr/bin/time %M (KiB, shown as MiB)' : 'unavailable: /usr/bin/time missing (apt-get install time)',
    targetRatio: 1.5,
    targetRssMb: 60,
    add2dbMs: add2db.map((x) => round(x.ms, 1)),
    nodeMs: node.map((x) => round(x.ms, 1)),
  }
}
