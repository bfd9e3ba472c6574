// add2db's fast path: the first thing the launcher runs, a bundle of its own kept tiny (no
// database driver, no YAML parser, no query builder: see scripts/build.mjs). When
// `readdb --daemon` runs on this host with the same config, the report goes to it over its
// socket and add2db exits once the daemon has it durably. Anything else (help, bad input,
// no daemon, a daemon that does not answer at once or gives up) loads the full path
// (main.ts), which does everything exactly as before, under the same report key.
import { parseBanReport } from '@f2b-central/core/ban/ban-report'
import { configPath } from '@f2b-central/core/config/config-path'
import { handOver } from '@f2b-central/core/report/handover/client'
import { randomUuid } from '@f2b-central/core/report/handover/no-crypto'
import { configIdentity, handoverDir, handoverSocketPath, type HandoverRequest } from '@f2b-central/core/report/handover/protocol'
import type { ReportIdentity } from '@f2b-central/core/report/report-ban'
import { parseAdd2dbArgs } from './args.js'
import { reportLines } from './report-lines.js'

/** The full path's bundle, as the launcher loads it (with its code cache). */
export interface FullAdd2db {
  runAdd2db(argv: string[], report?: ReportIdentity): void
}

export function runFast(argv: string[], loadFull: () => FullAdd2db): void {
  const attempt = prepare(argv)
  if (attempt === undefined) {
    loadFull().runAdd2db(argv)
    return
  }
  const { ip, socketPath, request, report } = attempt
  void handOver(socketPath, request).then((result) => {
    if (result.kind === 'fallback') {
      loadFull().runAdd2db(argv, report)
      return
    }
    const { lines, code } = reportLines(ip, result.summary)
    for (const line of lines) process.stderr.write(`${line}\n`)
    process.exit(code)
  })
}

/** The hand-over to try, or undefined when the full path must run (it prints what is wrong). */
function prepare(argv: string[]): { ip: string; socketPath: string; request: HandoverRequest; report: ReportIdentity } | undefined {
  try {
    const args = parseAdd2dbArgs(argv)
    if (args.help || args.ip === undefined || args.jail === undefined) return undefined
    const ban = { ip: args.ip, jail: args.jail, protocol: args.protocol, port: args.port, bantime: args.bantime }
    // Checked here too: an invalid ban never costs a round trip, and is refused with the full path's message.
    const parsed = parseBanReport(ban)
    const identity = configIdentity(configPath({ path: args.config, env: process.env }), process.env)
    const report = { key: randomUuid(), reportedAt: new Date() }
    const request: HandoverRequest = { v: 1, config: identity.path, file: identity.file, env: identity.env, key: report.key, reportedAt: report.reportedAt.toISOString(), ban }
    return { ip: parsed.ip, socketPath: handoverSocketPath(handoverDir(process.env), identity), request, report }
  } catch {
    return undefined
  }
}
