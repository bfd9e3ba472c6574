import { describeError, F2bError, UsageError } from '@f2b-central/core/errors'
import { ExitCode } from '@f2b-central/core/exit-codes'

const USAGE = `usage: f2b-central <command> [options]

commands:
  migrate [--status] [--config FILE]   apply database migrations (--status: list applied and pending)
  unban ADDRESS|CIDR [--allow]         end an address's bans across the fleet (--allow: and allowlist it)
  allow add|remove|list [ADDRESS|CIDR] the central allowlist
  status [--stale-after 5m]            every host: last seen, pending bans, errors (exit 1: stale or errors)
  bans [--ip A|CIDR] [--jail J] …      active bans; \`bans show IP\`: an address's history on every host
  expire                               mark timed-out bans expired (5) for hosts that never applied them
  purge --older-than DURATION          delete bans expired longer ago than DURATION (under 1d: --force)
  import FILE|- [--jail J] [--as H]    store a list of addresses as bans (--legacy: the old scripts' MySQL table)
  export [--format F]                  the active ban list for firewalls: plain, ipset, nft or json
  check [--filter PATH]                this host's setup, one line each (exit 1 on a problem)
  simulate IP | --clean IP             record (or remove) a test ban as this host
  hosts add|list|remove|rotate-password  one database account per host, bound to it (MySQL)
  serve                                the ban list over HTTP, Prometheus metrics, the status page
  tokens add|list|remove [NAME]        the tokens serve accepts (stored hashed)

Every command has --help; those that print data take --json.
Every command takes --config FILE (default: $F2B_CENTRAL_CONFIG, else /etc/f2b-central/config.yml).
Exit: 0 done, 1 failure, 2 usage.`

// Each command module is imported only when chosen, so one command's dependencies never slow another.
const COMMANDS: Record<string, () => Promise<{ run(argv: string[]): Promise<ExitCode> }>> = {
  migrate: () => import('./commands/migrate.js'),
  unban: () => import('./commands/unban.js'),
  allow: () => import('./commands/allow.js'),
  status: () => import('./commands/status.js'),
  bans: () => import('./commands/bans.js'),
  expire: () => import('./commands/expire.js'),
  purge: () => import('./commands/purge.js'),
  import: () => import('./commands/import.js'),
  export: () => import('./commands/export.js'),
  check: () => import('./commands/check.js'),
  simulate: () => import('./commands/simulate.js'),
  hosts: () => import('./commands/hosts.js'),
  serve: () => import('./commands/serve.js'),
  tokens: () => import('./commands/tokens.js'),
}

async function main(argv: string[]): Promise<ExitCode> {
  const [name, ...rest] = argv
  if (name === undefined) throw new UsageError('missing command', 'run `f2b-central --help`')
  if (name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(`${USAGE}\n`)
    return ExitCode.Ok
  }
  const load = COMMANDS[name]
  if (!load) throw new UsageError(`unknown command ${JSON.stringify(name.slice(0, 40))}`, 'run `f2b-central --help`')
  return (await load()).run(rest)
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`f2b-central: ${describeError(err)}\n`)
    process.exit(err instanceof F2bError ? err.exitCode : ExitCode.Failure)
  },
)
