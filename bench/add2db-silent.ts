// Figure 5: add2db while the database is silent (it accepts connections and never answers: a
// hung server, a network that drops packets). fail2ban runs a jail's actions one after
// another, so what each run waits is how long the jail is held. The first run waits
// database.timeoutSeconds (the shipped default, 5 s) and leaves a note in the spool; the
// following ones spool at once. The silent server is a plain TCP listener, whatever the
// dialect of the other figures.
import { readdirSync } from 'node:fs'
import { createServer, type Socket } from 'node:net'
import { join } from 'node:path'
import { BIN, writeHostConfig } from '../test/setup/programs.js'
import { defer, median, progress, round, runTimed } from './util.js'

export interface Add2dbSilentOptions {
  /** Runs after the first one. */
  runs: number
}

const TIMEOUT_SECONDS = 5

export async function add2dbSilent(dir: string, o: Add2dbSilentOptions) {
  const sockets = new Set<Socket>()
  const server = createServer((s) => {
    sockets.add(s)
    s.on('close', () => sockets.delete(s))
    s.on('error', () => undefined)
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  const stop = defer('close the silent database', async () => {
    for (const s of sockets) s.destroy()
    await new Promise<void>((r) => server.close(() => r()))
  })
  try {
    const port = (server.address() as { port: number }).port
    const name = 'bench-silent'
    const config = writeHostConfig({ dir, name, dbUrl: `mysql://f2b@127.0.0.1:${port}/fleet`, extra: { database: { timeoutSeconds: TIMEOUT_SECONDS } } })
    progress(`figure 5: add2db with a silent database, 1 + ${o.runs} runs one after another`)
    const run = async (i: number) => {
      const r = await runTimed([process.execPath, BIN.add2db, '--config', config, '--jail', 'sshd', '--ip', `203.0.113.${1 + (i % 250)}`, '--port', 'ssh', '--bantime', '3600'])
      if (r.code !== 0 || !r.stderr.startsWith('add2db: warning: ban kept in the local spool')) throw new Error(`add2db did not spool (${r.code}): ${r.stderr}`)
      return r.ms
    }
    const firstMs = await run(0)
    const following: number[] = []
    for (let i = 1; i <= o.runs; i++) following.push(await run(i))
    const spooled = readdirSync(join(dir, `${name}-spool`)).filter((n) => n.endsWith('.ban.json')).length
    if (spooled !== o.runs + 1) throw new Error(`${spooled} bans in the spool, expected ${o.runs + 1}`)
    return {
      timeoutSeconds: TIMEOUT_SECONDS,
      runs: o.runs,
      spooled,
      firstMs: round(firstMs, 0),
      followingMsMedian: round(median(following), 1),
      followingMsMax: round(Math.max(...following), 1),
      targetFollowingMs: 300,
      followingMs: following.map((ms) => round(ms, 1)),
    }
  } finally {
    await stop()
  }
}
