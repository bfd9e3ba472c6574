// Figure 1: propagation latency. A failure line written to host A's monitored log → A's
// fail2ban bans it and runs the f2b-central action (the built add2db) → B's `readdb --daemon`
// (default schedule, every 5 s) appends it to B's shared log → B's fail2ban bans it. The end
// is the millisecond time in B's fail2ban log (`[f2b-central-shared] Ban IP`); the start is
// taken here, right after the line is written.
import { spawn, type ChildProcess } from 'node:child_process'
import { appendFileSync, writeFileSync } from 'node:fs'
import { Fail2banServer } from '../test/setup/fail2ban-server.js'
import { BIN, writeHostConfig } from '../test/setup/programs.js'
import { reportingJail } from '../test/setup/jails.js'
import { openTracked, type BenchDb } from './central.js'
import { banTimes, checkInterrupted, dbTimeMs, jailBackends, defer, localStamp, median, percentile, progress, round, sleep } from './util.js'

const SHARED = 'f2b-central-shared'
const SCHEDULE_MS = 5000

// As in test/fleet.test.ts: fail2ban cuts the date off before the failregex sees the line.
const AUTH_FILTER = `[Definition]
failregex = ^ auth failure from <HOST>$
datepattern = {^LN-BEG}%%Y-%%m-%%d %%H:%%M:%%S
`

export interface PropagationOptions {
  attacks: number
  minGapMs: number
  maxGapMs: number
}

interface Sample {
  ip: string
  /** Epoch ms: failure line written (bench clock). */
  written: number
  /** A's fail2ban `[auth] Ban`. */
  bannedOnA: number
  /** bans.created_at: add2db's insert (database clock, same machine). */
  stored: number
  /** B's ban_status row: written by B's readdb right after it appended the line. */
  appliedByB: number
  /** B's fail2ban `[f2b-central-shared] Ban`. */
  bannedOnB: number
  latencyMs: number
}

/** Start fail2ban servers side by side; any that started are stopped at cleanup even if another failed. */
export async function startServers(specs: Parameters<typeof Fail2banServer.start>[0][]): Promise<{ servers: Fail2banServer[]; stops: (() => Promise<void>)[] }> {
  const settled = await Promise.allSettled(specs.map((s) => Fail2banServer.start(s)))
  const servers: Fail2banServer[] = []
  const stops: (() => Promise<void>)[] = []
  for (const r of settled) {
    if (r.status === 'fulfilled') {
      servers.push(r.value)
      stops.push(defer(`stop fail2ban ${r.value.name}`, () => r.value.stop()))
    }
  }
  const failed = settled.find((r) => r.status === 'rejected')
  if (failed) throw (failed as PromiseRejectedResult).reason
  return { servers, stops }
}

/** `readdb --daemon` as a child; stopped with SIGTERM (then SIGKILL) at cleanup or when asked. */
export function startDaemon(config: string): { child: ChildProcess; output: () => string; stop: () => Promise<void> } {
  const child = spawn(process.execPath, [BIN.readdb, '--daemon', '--config', config], { stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()))
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()))
  const exited = new Promise<void>((r) => child.once('exit', () => r()))
  const stop = defer(`stop readdb --daemon (pid ${child.pid})`, async () => {
    if (child.exitCode !== null || child.signalCode !== null) return
    child.kill('SIGTERM')
    const done = await Promise.race([exited.then(() => true), sleep(10_000).then(() => false)])
    if (!done) {
      child.kill('SIGKILL')
      await exited
    }
  })
  return { child, output: () => out, stop }
}

export async function propagation(db: BenchDb, dir: string, o: PropagationOptions) {
  const cfgA = writeHostConfig({ dir, name: 'bench-a', dbUrl: db.url })
  progress('figure 1: starting fail2ban on host A (jail auth → f2b-central action) and host B (shared jail)')
  const { servers, stops } = await startServers([
    {
      name: 'bench-a',
      shippedFiles: true,
      filters: { 'bench-auth': AUTH_FILTER },
      // backend auto: fail2ban's stock default (the test harness's jail.conf says polling).
      jails: (d) => reportingJail({ logpath: `${d}/auth.log`, config: cfgA, filter: 'bench-auth', maxretry: 1, backend: 'auto' }),
      beforeStart: (s) => writeFileSync(s.path('auth.log'), ''),
    },
    {
      name: 'bench-b',
      shippedFiles: true,
      // The shipped jail as README says to enable it: only enabled and the log path are set here.
      jails: (d) => `[${SHARED}]\nenabled = true\nlogpath = ${d}/shared.log\n`,
      beforeStart: (s) => writeFileSync(s.path('shared.log'), ''),
    },
  ])
  const [a, b] = servers as [Fail2banServer, Fail2banServer]
  const cfgB = writeHostConfig({
    dir,
    name: 'bench-b',
    dbUrl: db.url,
    sharedLog: b.path('shared.log'),
    fail2ban: { client: b.clientArgv(), database: b.dbFile, sharedJail: SHARED },
  })
  const central = await openTracked(db)
  const daemon = startDaemon(cfgB)
  // The daemon polls once at start: that registers B.
  const bId = await waitFor(
    'readdb --daemon on B to register',
    15_000,
    async () => {
      const row = await central.db.selectFrom('hosts').select('id').where('name', '=', 'bench-b').executeTakeFirst()
      return row ? Number(row.id) : undefined
    },
    daemon,
  )

  progress(`figure 1: ${o.attacks} attacks on A, ${o.minGapMs}–${o.maxGapMs} ms apart at random`)
  const written = new Map<string, number>()
  const authLog = a.path('auth.log')
  for (let i = 0; i < o.attacks; i++) {
    if (i > 0) await sleep(o.minGapMs + Math.random() * (o.maxGapMs - o.minGapMs))
    checkInterrupted()
    const ip = `203.0.${113 + Math.floor(i / 200)}.${10 + (i % 200)}`
    appendFileSync(authLog, `${localStamp(new Date())} auth failure from ${ip}\n`)
    written.set(ip, Date.now())
    if (daemon.child.exitCode !== null) throw new Error(`readdb --daemon on B exited: ${daemon.output()}`)
  }
  const deadline = Date.now() + SCHEDULE_MS + 20_000
  let onB = banTimes(b.logFile, SHARED)
  while ([...written.keys()].some((ip) => !onB.has(ip)) && Date.now() < deadline) {
    await sleep(200)
    checkInterrupted()
    onB = banTimes(b.logFile, SHARED)
  }
  const onA = banTimes(a.logFile, 'auth')
  const rows = await central.db
    .selectFrom('bans as x')
    .leftJoin('ban_status as s', (j) => j.onRef('s.ban_id', '=', 'x.id').on('s.host_id', '=', bId))
    .select(['x.ip', 'x.created_at', 's.updated_at'])
    .execute()
  const byIp = new Map(rows.map((r) => [r.ip, r]))
  const backends = { a: jailBackends(a.logFile).auth ?? 'unknown', b: jailBackends(b.logFile)[SHARED] ?? 'unknown' }
  await daemon.stop()
  const daemonOut = daemon.output()
  await Promise.all(stops.map((s) => s()))
  await central.close()

  const samples: Sample[] = []
  const missing: string[] = []
  for (const [ip, t0] of written) {
    const end = onB.get(ip)
    if (end === undefined) {
      missing.push(ip)
      continue
    }
    const row = byIp.get(ip)
    samples.push({
      ip,
      written: t0,
      bannedOnA: onA.get(ip) ?? NaN,
      stored: dbTimeMs(row?.created_at),
      appliedByB: dbTimeMs(row?.updated_at),
      bannedOnB: end,
      latencyMs: end - t0,
    })
  }
  const lat = samples.map((s) => s.latencyMs)
  const stage = (f: (s: Sample) => number) => {
    const xs = samples.map(f).filter(Number.isFinite)
    return { p50: round(median(xs), 0), p99: round(percentile(xs, 99), 0), max: round(Math.max(...xs), 0) }
  }
  const polls = daemonOut
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as { msg?: string; ms?: number; level?: number; time?: number; examined?: number })
  const pollMs = polls.filter((p) => p.msg === 'poll' && typeof p.ms === 'number').map((p) => p.ms!)
  const daemonErrors = polls.filter((p) => (p.level ?? 0) >= 50).length
  return {
    attacks: o.attacks,
    banned: samples.length,
    missing,
    schedule: '*/5 * * * * * (default)',
    banStateSource: 'fail2ban.database (bips table)',
    fail2banBackends: { 'A auth': backends.a, [`B ${SHARED}`]: backends.b },
    p50Ms: round(percentile(lat, 50), 0),
    p99Ms: round(percentile(lat, 99), 0),
    maxMs: round(Math.max(...lat), 0),
    minMs: round(Math.min(...lat), 0),
    targetP99Ms: SCHEDULE_MS + 1000,
    stagesMs: {
      'line written → A banned (A fail2ban pickup)': stage((s) => s.bannedOnA - s.written),
      'A banned → row stored (add2db run)': stage((s) => s.stored - s.bannedOnA),
      'row stored → B readdb applied (schedule wait + poll)': stage((s) => s.appliedByB - s.stored),
      'B readdb applied → B banned (B fail2ban pickup)': stage((s) => s.bannedOnB - s.appliedByB),
    },
    daemon: {
      pollsThatDidWork: pollMs.length,
      pollMsMedian: round(median(pollMs), 0),
      pollMsMax: round(Math.max(...pollMs), 0),
      errors: daemonErrors,
      // when each poll that did work logged (its end), to line up with the samples
      polls: polls.filter((p) => p.msg === 'poll').map((p) => ({ at: p.time, examined: p.examined, ms: p.ms })),
    },
    // per attack, ms after the line was written: A's ban, the row's insert time, B's status row, B's ban
    samples: samples.map((s) => ({
      ip: s.ip,
      writtenAt: s.written,
      latencyMs: s.latencyMs,
      aBanMs: s.bannedOnA - s.written,
      storedMs: s.stored - s.written,
      appliedMs: s.appliedByB - s.written,
    })),
  }
}

async function waitFor<T>(what: string, timeoutMs: number, check: () => Promise<T | undefined>, daemon: { child: ChildProcess; output: () => string }): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const v = await check()
    if (v !== undefined) return v
    checkInterrupted()
    if (daemon.child.exitCode !== null) throw new Error(`readdb --daemon exited (${daemon.child.exitCode}): ${daemon.output()}`)
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: ${daemon.output()}`)
    await sleep(100)
  }
}
