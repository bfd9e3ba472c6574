// Figure 8 (issue 12): sub-second bans across three hosts, push and no push side by side.
// Host A's fail2ban bans an attacker and runs the built add2db; every host runs `readdb
// --daemon` as the shipped units do, so A's add2db hands its report to A's daemon, which
// stores it and, with push, wakes B and C over MQTT (the machine's Mosquitto, a topic of this
// run's own) on its open link; the schedule is then 60 s, so nearly nothing comes by a tick; without push they poll every
// second (issue 12's baseline). Both ends are fail2ban's own millisecond log times: A's
// `[auth] Ban IP` to B's and C's `[f2b-central-shared] Ban IP`, and from the attack's last
// log line (written here, the bench's clock: the same machine) to B's and C's ban.
// Also measured: what one fail2ban-client call costs against the same request on fail2ban's
// socket (readdb hands each poll's bans to the shared jail with one request, on the socket).
// B and C read ban state from fail2ban's database, as figure 1 does.
import { execFile } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { appendFileSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { sendCommand } from '@f2b-central/core/fail2ban/fail2ban-socket'
import type { Fail2banServer } from '../test/setup/fail2ban-server.js'
import { reportingJail } from '../test/setup/jails.js'
import { writeHostConfig } from '../test/setup/programs.js'
import { openTracked, type BenchDb } from './central.js'
import { startDaemon, startServers } from './propagation.js'
import { banTimes, checkInterrupted, dbTimeMs, jailBackends, localStamp, median, percentile, progress, round, sleep } from './util.js'

const SHARED = 'f2b-central-shared'
const BROKER = 'mqtt://127.0.0.1:1883'
const AUTH_FILTER = `[Definition]
failregex = ^ auth failure from <HOST>$
datepattern = {^LN-BEG}%%Y-%%m-%%d %%H:%%M:%%S
`

export interface PushBenchOptions {
  attacks: number
  minGapMs: number
  maxGapMs: number
}

interface Mode {
  readonly name: 'push' | 'no push'
  readonly schedule: string
  readonly push: boolean
}

const MODES: readonly Mode[] = [
  { name: 'push', schedule: '0 * * * * *', push: true },
  { name: 'no push', schedule: '* * * * * *', push: false },
]

const stats = (xs: number[]) => ({ n: xs.length, p50: round(percentile(xs, 50), 0), p99: round(percentile(xs, 99), 0), max: round(Math.max(...xs), 0) })

export async function pushBench(db: BenchDb, dir: string, o: PushBenchOptions) {
  const topic = `f2b-bench/${process.pid}-${randomBytes(4).toString('hex')}`
  const cfgA = join(dir, 'push-a.yml')
  progress('figure 7: starting fail2ban on A (jail auth → f2b-central action), B and C (shared jail)')
  const shared = (d: string) => `[${SHARED}]\nenabled = true\nlogpath = ${d}/shared.log\n`
  const { servers, stops } = await startServers([
    {
      name: 'push-a',
      shippedFiles: true,
      filters: { 'bench-auth': AUTH_FILTER },
      jails: (d) => reportingJail({ logpath: `${d}/auth.log`, config: cfgA, filter: 'bench-auth', maxretry: 1, backend: 'auto' }) + shared(d),
      beforeStart: (s) => {
        writeFileSync(s.path('auth.log'), '')
        writeFileSync(s.path('shared.log'), '')
      },
    },
    ...['push-b', 'push-c'].map((name) => ({ name, shippedFiles: true, jails: shared, beforeStart: (s: Fail2banServer) => writeFileSync(s.path('shared.log'), '') })),
  ])
  const [a, b, c] = servers as [Fail2banServer, Fail2banServer, Fail2banServer]
  try {
    const client = await clientCost(b)
    const results: Record<string, ReturnType<typeof summarise>> = {}
    let block = 0
    for (const mode of MODES) {
      const notify = mode.push ? { notify: { mqtt: { url: BROKER, topic } } } : {}
      // Every host runs readdb --daemon, A too: A's add2db hands its report to A's daemon
      // (issue 12 §3), which stores it and wakes the others on its open broker link.
      const daemons = [a, b, c].map((s) => {
        const cfg = writeHostConfig({
          dir,
          name: s.name,
          dbUrl: db.url,
          sharedLog: s.path('shared.log'),
          fail2ban: { client: s.clientArgv(), database: s.dbFile, sharedJail: SHARED },
          extra: { ...notify, readdb: { schedule: mode.schedule } },
        })
        return startDaemon(cfg)
      })
      for (const d of daemons) await waitForOutput(d, mode.push ? `subscribed to ${topic}/bans` : '"msg":"started"')
      await sleep(1500)
      progress(`figure 7 (${mode.name}, schedule ${mode.schedule}): ${o.attacks} attacks on A, ${o.minGapMs}–${o.maxGapMs} ms apart`)
      const written = new Map<string, number>()
      for (let i = 0; i < o.attacks; i++) {
        if (i > 0) await sleep(o.minGapMs + Math.random() * (o.maxGapMs - o.minGapMs))
        checkInterrupted()
        const ip = `198.18.${block}.${10 + i}`
        appendFileSync(a.path('auth.log'), `${localStamp(new Date())} auth failure from ${ip}\n`)
        written.set(ip, Date.now())
      }
      const deadline = Date.now() + 90_000
      const all = () => [b, c].every((s) => [...written.keys()].every((ip) => banTimes(s.logFile, SHARED).has(ip)))
      while (!all() && Date.now() < deadline) {
        await sleep(250)
        checkInterrupted()
      }
      await Promise.all(daemons.map((d) => d.stop()))
      const central = await openTracked(db)
      const rows = await central.db
        .selectFrom('bans')
        .select(['ip', 'created_at'])
        .where('ip', 'in', [...written.keys()])
        .execute()
      await central.close()
      const stored = new Map(rows.map((r) => [r.ip, dbTimeMs(r.created_at)]))
      results[mode.name] = summarise(
        written,
        stored,
        a,
        [b, c],
        daemons.slice(1).map((d) => d.output()),
        daemons[0]!.output(),
      )
      block++
    }
    return {
      attacks: o.attacks,
      hosts: 3,
      broker: BROKER,
      modes: MODES.map((m) => ({ name: m.name, schedule: m.schedule })),
      results,
      fail2banClient: client,
      targets: { banToBanP99Ms: 500, lineToBanP99Ms: 1500 },
    }
  } finally {
    await Promise.all(stops.map((s) => s()))
  }
}

function summarise(written: Map<string, number>, stored: Map<string, number>, a: Fail2banServer, receivers: Fail2banServer[], outputs: string[], outputOfA: string) {
  const onA = banTimes(a.logFile, 'auth')
  const banToBan: number[] = []
  const lineToBan: number[] = []
  const lineToABan: number[] = []
  const aBanToStored: number[] = []
  const storedToBan: number[] = []
  for (const [ip, t0] of written) {
    const banned = onA.get(ip)
    const at = stored.get(ip)
    if (banned !== undefined) lineToABan.push(banned - t0)
    if (banned !== undefined && at !== undefined && Number.isFinite(at)) aBanToStored.push(at - banned)
  }
  let missing = 0
  for (const r of receivers) {
    const on = banTimes(r.logFile, SHARED)
    for (const [ip, t0] of written) {
      const end = on.get(ip)
      const start = onA.get(ip)
      if (end === undefined || start === undefined) {
        missing++
        continue
      }
      banToBan.push(end - start)
      lineToBan.push(end - t0)
      const at = stored.get(ip)
      if (at !== undefined && Number.isFinite(at)) storedToBan.push(end - at)
    }
  }
  const polls = outputs.flatMap((out) =>
    out
      .split('\n')
      .filter((l) => l.startsWith('{"') && l.includes('"msg":"poll"'))
      .map((l) => JSON.parse(l) as { ms: number; handedOver?: number }),
  )
  // One Ban per address per receiver: the hand-over and the log line never ban twice.
  const doubleBans = receivers.reduce((n, r) => n + [...written.keys()].filter((ip) => countBans(r.logFile, ip) > 1).length, 0)
  return {
    samples: banToBan.length,
    missing,
    doubleBans,
    banToBanMs: stats(banToBan),
    lineToBanMs: stats(lineToBan),
    stagesMs: {
      "line written → A's fail2ban banned (A's file watcher)": stats(lineToABan),
      "A banned → row stored (fail2ban's action thread, add2db)": stats(aBanToStored),
      'row stored → B/C banned (wake-up or tick, poll, hand-over)': stats(storedToBan),
    },
    // add2db's fast path (issue 12 §3): how many of A's reports its daemon took, the rest
    // having fallen back to add2db's full path.
    takenByDaemonOnA: outputOfA.split('\n').filter((l) => l.includes('"msg":"stored a ban from add2db"')).length,
    aJailBackend: jailBackends(a.logFile).auth ?? 'unknown',
    pollsThatDidWork: polls.length,
    pollMsMedian: round(median(polls.map((p) => p.ms)), 0),
  }
}

function countBans(logFile: string, ip: string): number {
  try {
    return readFileSync(logFile, 'utf8')
      .split('\n')
      .filter((l) => l.endsWith(`[${SHARED}] Ban ${ip}`)).length
  } catch {
    return 0
  }
}

/** Median wall time of one `fail2ban-client … set JAIL banip IP` (a Python start and a socket round trip), and of `ping`. */
async function clientCost(server: Fail2banServer) {
  const [cmd, ...prefix] = server.clientArgv() as [string, ...string[]]
  const time = (args: string[]) =>
    new Promise<number>((resolve, reject) => {
      const t = performance.now()
      execFile(cmd, [...prefix, ...args], (err) => (err ? reject(err) : resolve(performance.now() - t)))
    })
  const ban: number[] = []
  const ping: number[] = []
  const socket: number[] = []
  for (let i = 0; i < 15; i++) {
    ban.push(await time(['set', SHARED, 'banip', `198.18.255.${i + 1}`]))
    ping.push(await time(['ping']))
    const t = performance.now()
    await sendCommand(server.socket, ['set', SHARED, 'banip', `198.18.254.${i + 1}`], 10_000)
    socket.push(performance.now() - t)
  }
  await time(['set', SHARED, 'unbanip', ...Array.from({ length: 15 }, (_, i) => [`198.18.255.${i + 1}`, `198.18.254.${i + 1}`]).flat()])
  return {
    banipMsMedian: round(median(ban), 0),
    banipMsMax: round(Math.max(...ban), 0),
    pingMsMedian: round(median(ping), 0),
    socketBanipMsMedian: round(median(socket), 1),
    socketBanipMsMax: round(Math.max(...socket), 1),
  }
}

async function waitForOutput(d: ReturnType<typeof startDaemon>, text: string): Promise<void> {
  const deadline = Date.now() + 20_000
  while (!d.output().includes(text)) {
    if (d.child.exitCode !== null) throw new Error(`readdb --daemon exited: ${d.output()}`)
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${text}: ${d.output()}`)
    await sleep(100)
  }
}
