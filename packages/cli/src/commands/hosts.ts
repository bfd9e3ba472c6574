import { parseHostName } from '@f2b-central/core/ban/names'
import { describeTarget } from '@f2b-central/core/db/open-database'
import { ExitCode } from '@f2b-central/core/exit-codes'
import { readFleetStatus } from '@f2b-central/core/fleet/fleet-status'
import { addHost, defaultAccountName, listHostAccounts, parseAccountHost, parseAccountName, removeHostAccounts, rotateHostPassword } from '@f2b-central/core/fleet/host-accounts'
import { argValue, usage } from '../arg-value.js'
import { COMMON_OPTIONS, parseCommandArgs, withDatabase } from '../command-context.js'
import { plural, print, printJson, shown, shownTime, table } from '../output.js'

const USAGE = `usage: f2b-central hosts add NAME --password-file FILE [--account USER] [--from HOSTPATTERN] [--require-ssl] [--config FILE]
       f2b-central hosts list [--json] [--config FILE]
       f2b-central hosts remove NAME [--config FILE]
       f2b-central hosts rotate-password NAME --password-file FILE [--config FILE]
One database account per host (MySQL/MariaDB; run with the operator account). \`add\` registers
the host, creates its account (default f2b_NAME, from '%'), writes a fresh random password to
FILE (mode 0600) unless FILE exists (then its password is used), binds the account to the host
and grants exactly what a host needs: SELECT, and EXECUTE on the host routines, which take the
host from the account. A stolen host password can then only report bans as that host (within
the flood limit), record that host's statuses and move that host's cursor.
\`remove\` drops the host's accounts and keeps its history; \`rotate-password\` writes a new
password to FILE and sets it.`

export async function run(argv: string[]): Promise<ExitCode> {
  const { values, positionals } = parseCommandArgs(
    'hosts',
    argv,
    { 'password-file': { type: 'string' }, account: { type: 'string' }, from: { type: 'string' }, 'require-ssl': { type: 'boolean', default: false }, ...COMMON_OPTIONS },
    true,
  )
  if (values.help) {
    print(USAGE)
    return ExitCode.Ok
  }
  const [verb, nameArg, ...extra] = positionals
  if (extra.length > 0) throw usage('hosts', `unexpected argument ${JSON.stringify(extra[0]?.slice(0, 40))}`)
  if (verb === 'list') {
    if (nameArg !== undefined) throw usage('hosts', '`hosts list` takes no NAME')
    return list(values.json, values.config)
  }
  if (verb !== 'add' && verb !== 'remove' && verb !== 'rotate-password') throw usage('hosts', 'expected `add NAME`, `list`, `remove NAME` or `rotate-password NAME`')
  if (nameArg === undefined) throw usage('hosts', `\`hosts ${verb}\` needs a host NAME`)
  const name = argValue('hosts', () => parseHostName(nameArg, 'NAME'))
  const passwordFile = values['password-file']
  if (verb !== 'remove' && passwordFile === undefined) throw usage('hosts', `\`hosts ${verb}\` needs --password-file FILE (the password never goes on a command line)`)
  if (verb !== 'add' && (values.account !== undefined || values.from !== undefined || values['require-ssl']))
    throw usage('hosts', '--account, --from and --require-ssl go with `hosts add`')

  if (verb === 'add') {
    const account = argValue('hosts', () => ({ user: parseAccountName(values.account ?? defaultAccountName(name)), from: parseAccountHost(values.from ?? '%') }))
    return withDatabase(values.config, async (central, config) => {
      const added = await addHost(central, { name, account, passwordFile: passwordFile ?? '', requireSsl: values['require-ssl'] })
      const target = config.database.target
      const url = target.kind === 'mysql' ? describeTarget({ ...target, user: account.user }) : describeTarget(target)
      print(`host ${added.host}: account '${account.user}'@'${account.from}', ${added.passwordWritten ? 'new password written to' : 'password taken from'} ${passwordFile}`)
      print(`put this in the host's /etc/f2b-central/config.yml (and copy ${passwordFile} there, mode 0600):`)
      print(`database:\n  url: ${url}\n  passwordFile: /etc/f2b-central/db-password\nhost:\n  name: ${added.host}`)
      return ExitCode.Ok
    })
  }
  if (verb === 'remove') {
    return withDatabase(values.config, async (central) => {
      const dropped = await removeHostAccounts(central, name)
      print(
        `host ${name}: ${plural(dropped.length, 'account')} dropped${dropped.length ? ` (${dropped.map((a) => `'${a.user}'@'${a.from}'`).join(', ')})` : ''}; its bans and statuses stay`,
      )
      return ExitCode.Ok
    })
  }
  return withDatabase(values.config, async (central) => {
    const accounts = await rotateHostPassword(central, name, passwordFile ?? '')
    print(`host ${name}: new password for ${accounts.map((a) => `'${a.user}'@'${a.from}'`).join(', ')} written to ${passwordFile}; copy it to the host`)
    return ExitCode.Ok
  })
}

async function list(json: boolean, config: string | undefined): Promise<ExitCode> {
  const { status, accounts } = await withDatabase(config, async (central) => ({
    status: await readFleetStatus(central, { staleAfterSeconds: 300 }),
    accounts: central.adapter.accounts ? await listHostAccounts(central) : [],
  }))
  const byHost = new Map<string, string[]>()
  for (const a of accounts) byHost.set(a.host, [...(byHost.get(a.host) ?? []), `${a.user}@${a.from}`])
  const rows = status.hosts.map((h) => ({ name: h.name, lastSeen: h.lastSeen, stale: h.stale, pending: h.pending, accounts: byHost.get(h.name) ?? [] }))
  if (json) printJson(rows)
  else
    print(
      table(
        ['HOST', 'LAST SEEN (UTC)', 'PENDING', 'ACCOUNT'],
        rows.map((r) => [shown(r.name), `${shownTime(r.lastSeen)}${r.stale ? ' (stale)' : ''}`, String(r.pending), r.accounts.join(', ') || '-']),
      ),
    )
  return ExitCode.Ok
}
