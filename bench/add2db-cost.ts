// Figure 2: what one add2db costs fail2ban (it runs once per ban), next to a bare `node -e 0`
// on the same machine: add2db storing the ban itself (no daemon on the host) and add2db
// handing it to `readdb --daemon` over its socket (issue 12 section 3). Interleaved (node,
// add2db, add2db via the daemon, node, …) so the ratios hold on a noisy machine; peak RSS
// from /usr/bin/time.
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { createFail2banStateDb } from '../scripts/fail2ban-state-db.mjs'
import { BIN, startDaemon, writeHostConfig } from '../test/setup/programs.js'
import type { BenchDb } from './central.js'
import { haveTimeBin, median, progress, round, runTimed, sleep } from './util.js'

export interface Add2dbCostOptions {
  warmup: number
  runs: number
}

export async function add2dbCost(db: BenchDb, dir: string, o: Add2dbCostOptions) {
  const f2bDb = join(dir, 'bench-add2db-fail2ban.sqlite3')
  createFail2banStateDb(f2bDb)
  // An hourly schedule: the daemon only takes add2db's hand-overs while this runs.
  const config = writeHostConfig({ dir, name: 'bench-add2db', dbUrl: db.url, fail2ban: { database: f2bDb }, extra: { readdb: { schedule: '0 0 * * * *' } } })
  // Each series its own socket directory (F2B_CENTRAL_SOCKET_DIR, for tests): one with the daemon, one empty.
  const withDaemon = { ...process.env, F2B_CENTRAL_SOCKET_DIR: join(dir, 'bench-add2db-run') }
  const noDaemon = { ...process.env, F2B_CENTRAL_SOCKET_DIR: join(dir, 'bench-add2db-none') }
  mkdirSync(noDaemon.F2B_CENTRAL_SOCKET_DIR, { recursive: true, mode: 0o700 })
  const daemon = startDaemon(config, withDaemon)
  try {
    for (let waited = 0; !daemon.output().includes('"handover":"/'); waited += 50) {
      if (waited > 30_000 || daemon.child.exitCode !== null) throw new Error(`readdb --daemon did not start its hand-over: ${daemon.output()}`)
      await sleep(50)
    }
    progress(`figure 2: add2db (alone, and via the daemon) vs node -e 0, ${o.warmup} warm-up + ${o.runs} interleaved rounds`)
    const node: { ms: number; rss: number | null }[] = []
    const add2db: { ms: number; rss: number | null }[] = []
    const viaDaemon: { ms: number; rss: number | null }[] = []
    const add = (ip: string, env: NodeJS.ProcessEnv) =>
      runTimed([process.execPath, BIN.add2db, '--config', config, '--jail', 'sshd', '--ip', ip, '--port', 'ssh', '--bantime', '3600'], { env })
    for (let i = 0; i < o.warmup + o.runs; i++) {
      const bare = await runTimed([process.execPath, '-e', '0'])
      const run = await add(`192.0.2.${1 + (i % 250)}`, noDaemon)
      const handed = await add(`198.18.0.${1 + (i % 250)}`, withDaemon)
      if (bare.code !== 0) throw new Error(`node -e 0 failed: ${bare.stderr}`)
      if (run.code !== 0) throw new Error(`add2db failed (${run.code}): ${run.stderr}`)
      if (handed.code !== 0) throw new Error(`add2db via the daemon failed (${handed.code}): ${handed.stderr}`)
      if (i < o.warmup) continue
      node.push({ ms: bare.ms, rss: bare.maxRssKb })
      add2db.push({ ms: run.ms, rss: run.maxRssKb })
      viaDaemon.push({ ms: handed.ms, rss: handed.maxRssKb })
    }
    const handedOver = daemon
      .output()
      .split('\n')
      .filter((l) => l.includes('"msg":"stored a ban from add2db"')).length
    return await summary(db, o, node, add2db, viaDaemon, handedOver)
  } finally {
    daemon.child.kill('SIGTERM')
    await Promise.race([daemon.exited, sleep(20_000)])
    daemon.child.kill('SIGKILL')
  }
}

type Sample = { ms: number; rss: number | null }

async function summary(db: BenchDb, o: Add2dbCostOptions, node: Sample[], add2db: Sample[], viaDaemon: Sample[], handedOver: number) {
  const stored = await db.query<{ n: number }>(`SELECT COUNT(*) AS n FROM bans`)
  const nodeMs = median(node.map((x) => x.ms))
  const addMs = median(add2db.map((x) => x.ms))
  const daemonMs = median(viaDaemon.map((x) => x.ms))
  // Pair by pair (each round's add2db against its own node -e 0), as farm-bench does.
  const pairRatio = (xs: Sample[]) => median(xs.map((x, i) => x.ms / (node[i]?.ms ?? Number.NaN)))
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
    daemonMsMedian: round(daemonMs, 1),
    daemonRatio: round(daemonMs / nodeMs, 2),
    daemonPairRatio: round(pairRatio(viaDaemon), 2),
    pairRatio: round(pairRatio(add2db), 2),
    /** Of the runs via the daemon (warm-up included), how many it stored (the others fell back). */
    handedOver,
    daemonTargetRatio: 1.2,
    daemonRssMbMedian: rssMb(viaDaemon),
    add2dbRssMbMedian: rssMb(add2db),
    add2dbRssMbMax: maxRssMb(add2db),
    nodeRssMbMedian: rssMb(node),
    rssSource: haveTimeBin() ? '/usr/bin/time %M (KiB, shown as MiB)' : 'unavailable: /usr/bin/time missing (apt-get install time)',
    targetRatio: 1.5,
    targetRssMb: 60,
    add2dbMs: add2db.map((x) => round(x.ms, 1)),
    nodeMs: node.map((x) => round(x.ms, 1)),
    daemonMs: viaDaemon.map((x) => round(x.ms, 1)),
  }
}
