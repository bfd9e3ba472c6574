import { UsageError } from '@f2b-central/core/errors'

export interface Add2dbArgs {
  jail?: string
  ip?: string
  protocol?: string
  port?: string
  bantime?: string
  config?: string
  help: boolean
}

type Key = Exclude<keyof Add2dbArgs, 'help'>

// `-j -pr -p -i` are the old Python add2db.py's flags, kept so an existing action line works unchanged.
const FLAGS: Record<string, Key> = {
  '--jail': 'jail',
  '-j': 'jail',
  '--ip': 'ip',
  '-i': 'ip',
  '--protocol': 'protocol',
  '-pr': 'protocol',
  '--port': 'port',
  '-p': 'port',
  '--bantime': 'bantime',
  '--config': 'config',
}

export const USAGE = `usage: add2db --jail JAIL --ip IP [--protocol tcp] [--port PORTS] [--bantime SECONDS] [--config FILE]
       add2db -j JAIL -pr PROTOCOL -p PORT -i IP     (the old add2db.py's flags)
Stores one ban in the fleet's database as this host's report. Run by fail2ban's action.
Exit: 0 stored, 2 invalid input or usage (nothing stored), 1 anything else.`

/** Parse add2db's argv strictly: unknown, repeated or value-less flags are usage errors. */
export function parseAdd2dbArgs(argv: readonly string[]): Add2dbArgs {
  const args: Add2dbArgs = { help: false }
  for (let i = 0; i < argv.length; i++) {
    const token = argv[i] ?? ''
    if (token === '--help' || token === '-h') {
      args.help = true
      continue
    }
    const eq = token.startsWith('--') ? token.indexOf('=') : -1
    const flag = eq > 0 ? token.slice(0, eq) : token
    const key = FLAGS[flag]
    if (!key) throw new UsageError(`unknown argument ${JSON.stringify(token.slice(0, 60))}`, 'run `add2db --help`')
    if (args[key] !== undefined) throw new UsageError(`${flag} given twice`, 'run `add2db --help`')
    const value = eq > 0 ? token.slice(eq + 1) : argv[++i]
    if (value === undefined) throw new UsageError(`${flag} needs a value`, 'run `add2db --help`')
    args[key] = value
  }
  if (!args.help) {
    if (args.jail === undefined) throw new UsageError('missing --jail', 'run `add2db --help`')
    if (args.ip === undefined) throw new UsageError('missing --ip', 'run `add2db --help`')
  }
  return args
}
