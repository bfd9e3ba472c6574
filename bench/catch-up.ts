// Figure 7: a new host catching up on a large fleet's active bans (issue 15), against what its
// fail2ban alone takes for the same number of lines, both measured in this run:
//   a) direct: N shared-log lines (distinct addresses, readdb's own line format) appended at
//      once to the log that fail2ban server D's shared jail follows; the time until D has
//      banned every one of them (its log says `[f2b-central-shared] Ban ADDRESS`);
//   b) readdb: a central database holding N active bans stamped long ago (a fleet that has
//      been running) and a new host C (no row yet: its cursor starts at 0); the built one-shot
//      `readdb` on C, started as the units and cron start it (its launcher executed, whose
//      `#!/usr/bin/env -S node …` line sets the V8 flags that bound its heap), under
//      /usr/bin/time for its peak RSS and CPU time, with the default batchSize; the time from
//      its start until C's fail2ban has banned every one;
//   c) the same one-shot readdb on host E (nothing follows its log) run as `node readdb.js`,
//      with V8's defaults, for what the launcher's flags save and cost;
//   d) the same poll in-process on host F, every host routine call timed: each call is one
//      transaction, so the longest is the longest a batch holds one open.
// Both fail2ban servers use the shipped filter and shared jail with a no-op ban action (what
// is measured is fail2ban reading and banning, not a firewall). They run one after the other,
// so they never compete for the CPUs. Targets: b within 1.2× of a, readdb's peak RSS at most
// 100 MB, no long transaction.
import { closeSync, existsSync, openSync, readSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { registerHost } from '@f2b-central/core/db/queries/hosts'
import { appendLines } from '@f2b-central/core/fail2ban/shared-log'
import { formatBanLine } from '@f2b-central/core/fail2ban/shared-log-line'
import { pollOnce, type PollResult } from '@f2b-central/core/poll/poll'
import { createFail2banStateDb } from '../scripts/fail2ban-state-db.mjs'
import type { Fail2banServer } from '../test/setup/fail2ban-server.js'
import { BIN, writeHostConfig } from '../test/setup/programs.js'
import { createBenchDb, insertPendingBans, openTracked, type Dialect } from './central.js'
import { startServers } from './propagation.js'
import { checkInterrupted, median, percentile, progress, round, runTimed, sleep } from './util.js'

const SHARED = 'f2b-central-shared'

export async function catchUp(dialect: Dialect, dir: string, o: { bans: number }) {
  progress(`figure 7: starting fail2ban on hosts C and D (shared jail), loading ${o.bans.toLocaleString('en')} active bans`)
  const jail = (d: string) => `[${SHARED}]\nenabled = true\nlogpath = ${d}/shared.log\n`
  const { servers, stops } = await startServers(
    ['bench-catchup-c', 'bench-catchup-d'].map((name) => ({ name, shippedFiles: true, jails: jail, beforeStart: (s: Fail2banServer) => writeFileSync(s.path('shared.log'), '') })),
  )
  const [c, d] = servers as [Fail2banServer, Fail2banServer]
  const address = (octet: number, i: number) => `100.${octet + (i >> 16)}.${(i >> 8) & 255}.${i & 255}`

  // The central database: N bans from another host, stamped as pollers stamped them long ago.
  const db = await createBenchDb(dialect, 'catchup', dir)
  const central = await openTracked(db)
  const reporter = await registerHost(central.db, central.adapter, 'bench-reporter', null)
  const set = Array.from({ length: o.bans }, (_, i) => address(90, i))
  await insertPendingBans(central, reporter.id, set, 5000)
  await db.exec('UPDATE bans SET seq = id')
  await db.exec('UPDATE ban_sequence SET value = (SELECT MAX(id) FROM bans) WHERE id = 1')
  const cfgC = writeHostConfig({
    dir,
    name: 'bench-catchup-c',
    dbUrl: db.url,
    sharedLog: c.path('shared.log'),
    fail2ban: { client: c.clientArgv(), database: c.dbFile, sharedJail: SHARED },
  })

  // a) fail2ban alone: the same number of lines, written straight to D's log.
  progress(`figure 7a: ${o.bans.toLocaleString('en')} lines straight into D's shared log`)
  const lines = Array.from({ length: o.bans }, (_, i) => formatBanLine({ ip: address(80, i), jail: 'sshd', reporter: 'bench-reporter', banId: i + 1 }, new Date()))
  const watchD = new BanWatch(d.logFile)
  const directStart = Date.now()
  appendLines(d.path('shared.log'), lines)
  const direct = await watchD.until(o.bans, 600_000)

  // b) the new host: one readdb, every batch in its own short transaction.
  progress(`figure 7b: a new host's one-shot readdb catching up on ${o.bans.toLocaleString('en')} bans`)
  const watchC = new BanWatch(c.logFile)
  const readdbStart = Date.now()
  const r = await runTimed([BIN.readdb, '--config', cfgC], { timeoutMs: 600_000 })
  const readdbExit = Date.now()
  if (r.code !== 0) throw new Error(`readdb on C failed (${r.code}): ${r.stderr}`)
  const logged = JSON.parse(r.stdout.trim().split('\n').pop() ?? '{}') as Partial<PollResult> & { ms?: number }
  if (logged.added !== o.bans) throw new Error(`readdb on C added ${logged.added}, expected ${o.bans}: ${r.stdout.slice(-500)}`)
  const viaReaddb = await watchC.until(o.bans, 600_000)

  // c) The same catch-up on host E (nothing follows its log, ban state from an empty
  // fail2ban-format file) with node's defaults, for what the launcher's flags save and cost.
  progress('figure 7c: the same readdb on host E as `node readdb.js` (V8 defaults), for its peak RSS and CPU')
  const stateE = join(dir, 'bench-catchup-e-fail2ban.sqlite3')
  createFail2banStateDb(stateE)
  const cfgE = writeHostConfig({ dir, name: 'bench-catchup-e', dbUrl: db.url, fail2ban: { database: stateE } })
  const e = await runTimed([process.execPath, BIN.readdb, '--config', cfgE], { timeoutMs: 600_000 })
  if (e.code !== 0) throw new Error(`readdb on E failed (${e.code}): ${e.stderr}`)

  // d) Once more in-process on host F, timing every routine call: each is one transaction,
  // so the longest is the longest a batch holds one open (plus a round trip).
  progress('figure 7d: the same poll in-process on host F, timing each transaction')
  const calls = new Map<string, number[]>()
  const timed = await openTracked(db, (q, ms) => {
    const name = /^\s*call\s+(\w+)/i.exec(q)?.[1]
    if (name) calls.set(name, [...(calls.get(name) ?? []), ms])
  })
  const f = await pollOnce({
    central: timed,
    hostName: 'bench-catchup-f',
    machineId: null,
    banState: { read: async () => new Map() },
    sharedLog: join(dir, 'bench-catchup-f-shared.log'),
    recentBanFraction: 0.4,
    batchSize: 1000,
  })
  await timed.close()
  if (f.added !== o.bans) throw new Error(`the in-process poll on F added ${f.added}, expected ${o.bans}`)
  const transactions = Object.fromEntries(
    [...calls].map(([name, ms]) => [name, { count: ms.length, maxMs: round(Math.max(...ms), 0), p99Ms: round(percentile(ms, 99), 0), medianMs: round(median(ms), 0) }]),
  )
  await central.close()
  await db.drop()
  await Promise.all(stops.map((s) => s()))

  const directMs = direct - directStart
  const readdbMs = viaReaddb - readdbStart
  return {
    bans: o.bans,
    batchSize: 1000,
    direct: { allBannedMs: directMs },
    readdb: {
      allBannedMs: readdbMs,
      processMs: round(r.ms, 0),
      pollMs: logged.ms ?? null,
      fail2banAfterExitMs: viaReaddb - readdbExit,
      peakRssMb: r.maxRssKb === null ? null : round(r.maxRssKb / 1024, 1),
      cpuMs: r.cpuMs,
    },
    /** The same catch-up run as `node readdb.js`: V8's defaults, without the launcher's flags. */
    v8Defaults: { processMs: round(e.ms, 0), peakRssMb: e.maxRssKb === null ? null : round(e.maxRssKb / 1024, 1), cpuMs: e.cpuMs },
    /** Per host routine: how many calls (transactions) the catch-up made and how long they took, ms. */
    transactions,
    longestTransactionMs: Math.max(...Object.values(transactions).map((t) => t.maxMs)),
    ratio: round(readdbMs / directMs, 2),
    targetRatio: 1.2,
    targetRssMb: 100,
  }
}

/**
 * Follows a fail2ban log from where it is now, counting `[shared jail] Ban` lines as they
 * come (reading only what was added, so that watching costs little while fail2ban works),
 * and gives the time of the n-th one: fail2ban's own timestamp, local time to the millisecond.
 */
class BanWatch {
  readonly #file: string
  #offset: number
  #count = 0
  #last = 0
  #rest = ''

  constructor(file: string) {
    this.#file = file
    this.#offset = existsSync(file) ? statSync(file).size : 0
  }

  async until(n: number, timeoutMs: number): Promise<number> {
    const deadline = Date.now() + timeoutMs
    for (;;) {
      this.#read()
      if (this.#count >= n) return this.#last
      checkInterrupted()
      if (Date.now() > deadline) throw new Error(`fail2ban banned ${this.#count} of ${n} within ${timeoutMs / 1000} s (${this.#file})`)
      await sleep(500)
    }
  }

  #read(): void {
    if (!existsSync(this.#file)) return
    const fd = openSync(this.#file, 'r')
    try {
      const buf = Buffer.alloc(1 << 20)
      for (;;) {
        const n = readSync(fd, buf, 0, buf.length, this.#offset)
        if (n === 0) break
        this.#offset += n
        const text = this.#rest + buf.subarray(0, n).toString('utf8')
        const cut = text.lastIndexOf('\n')
        this.#rest = text.slice(cut + 1)
        for (const line of text.slice(0, cut + 1).split('\n')) {
          const m = BAN.exec(line)
          if (!m) continue
          this.#count++
          this.#last = new Date(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6]), Number(m[7])).getTime()
        }
      }
    } finally {
      closeSync(fd)
    }
  }
}

const BAN = new RegExp(`^(\\d{4})-(\\d\\d)-(\\d\\d) (\\d\\d):(\\d\\d):(\\d\\d),(\\d{3}) .*\\[${SHARED}\\] Ban \\S+\\s*$`)
