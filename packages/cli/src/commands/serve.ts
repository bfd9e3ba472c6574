import pino from 'pino'
import { loadConfig } from '@f2b-central/core/config/load-config'
import { formatListenAddress } from '@f2b-central/core/config/listen-address'
import { asDatabaseError } from '@f2b-central/core/db/database-error'
import { describeTarget, openDatabase } from '@f2b-central/core/db/open-database'
import { assertSchemaCurrent } from '@f2b-central/core/db/schema-version'
import { F2bError, SchemaError } from '@f2b-central/core/errors'
import { configGuard } from '@f2b-central/core/firewall/firewall-load'
import { ExitCode } from '@f2b-central/core/exit-codes'
import { startServe } from '@f2b-central/core/serve/serve-http'
import { readServeTls } from '@f2b-central/core/serve/serve-tls'
import { TokenStore } from '@f2b-central/core/serve/tokens'
import { COMMON_OPTIONS, parseCommandArgs } from '../command-context.js'
import { print } from '../output.js'

const USAGE = `usage: f2b-central serve [--config FILE]
Serves the fleet over HTTP (HTTPS with serve.tls) on serve.listen (default 127.0.0.1:8700):
  GET /v1/bans.txt    active bans, one address a line (also at /fail2ban, as Maltrail serves it)
  GET /v1/bans.ipset  an \`ipset restore\` script     GET /v1/bans.nft   an \`nft -f\` script
      (the firewall mode's load, as \`export --format ipset|nft\` prints it; ?set=NAME, nft ?table=NAME)
  GET /v1/bans.json   every active ban with jail, reporter, reported and expiry times
      bans.txt and bans.json take ?jail=JAIL and ?family=4|6;
      each has an ETag: If-None-Match answers 304 while nothing changed
  GET /metrics        Prometheus metrics          GET /healthz   database reachable and migrated
  GET /               the status page
Every endpoint needs a token (Authorization: Bearer TOKEN, or a browser's login with the token
as password) unless serve.open lists it; tokens: \`f2b-central tokens add NAME\`. Reads with
an account that only needs SELECT (sql/serve-grants.sql). One JSON line per request on stdout.
Stops on SIGTERM or SIGINT: requests in flight finish (at most 20 s).`

const GRACE_MS = 20_000

export async function run(argv: string[]): Promise<ExitCode> {
  const { values } = parseCommandArgs('serve', argv, { config: COMMON_OPTIONS.config, help: COMMON_OPTIONS.help })
  if (values.help) {
    print(USAGE)
    return ExitCode.Ok
  }
  // JSON lines on stdout for the journal; written synchronously, so nothing is lost at exit.
  const log = pino({ base: { program: 'f2b-central-serve' } }, pino.destination({ dest: 1, sync: true }))
  const config = loadConfig({ path: values.config, onWarning: (w) => log.warn({ key: w.path, hint: w.hint }, w.message) })
  const tls = config.serve.tls === undefined ? undefined : readServeTls(config.serve.tls)
  const tokensFile = config.serve.tokensFile
  const tokens = new TokenStore(tokensFile, (e) => {
    if (e.kind === 'loaded') log.info({ tokensFile, tokens: e.count }, 'tokens loaded')
    else if (e.kind === 'missing') log.warn({ tokensFile }, 'no tokens file yet: endpoints not in serve.open answer 401 (f2b-central tokens add NAME)')
    else log.error({ tokensFile, err: e.error.message, hint: e.error.hint }, 'tokens file refused: no token is accepted until it is fixed')
  })
  tokens.load()
  const where = `database ${describeTarget(config.database.target)}`
  const central = await openDatabase(config.database.target, { timeoutMs: config.database.timeoutMs, connectionLimit: 8 }).catch((err: unknown) => {
    throw asDatabaseError(err, where)
  })
  try {
    try {
      await assertSchemaCurrent(central)
    } catch (err) {
      // A schema this build cannot read is for an admin to fix; a database that is down may come back.
      if (err instanceof SchemaError) throw err
      log.warn({ err: (asDatabaseError(err, where) as Error).message }, 'database not reachable at start: answering 503 until it is')
    }
    const server = await startServe({
      central,
      listen: config.serve.listen,
      tls,
      tokens,
      open: config.serve.open,
      staleAfterSeconds: config.serve.staleAfterSeconds,
      log,
      // The firewall scripts as `export --format nft|ipset` prints them with this config.
      firewall: { configured: config.firewall, guard: await configGuard(config) },
    }).catch((err: unknown) => {
      const code = (err as NodeJS.ErrnoException).code
      throw new F2bError(`serve.listen ${formatListenAddress(config.serve.listen)}: cannot listen: ${code ?? String(err)}`, {
        hint: code === 'EADDRINUSE' ? 'another program (or serve) listens there' : 'check serve.listen',
      })
    })
    log.info({ url: server.url, tls: tls !== undefined, open: config.serve.open, database: describeTarget(config.database.target) }, 'listening')
    const signal = await new Promise<NodeJS.Signals>((resolve) => {
      process.once('SIGTERM', resolve)
      process.once('SIGINT', resolve)
    })
    log.info({ signal }, 'stopping: finishing requests in flight')
    await server.stop(GRACE_MS)
    log.info({}, 'stopped')
    return ExitCode.Ok
  } finally {
    await central.close()
  }
}
