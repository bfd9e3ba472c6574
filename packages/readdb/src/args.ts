import { parseArgs } from 'node:util'
import { UsageError } from '@f2b-central/core/errors'

export interface ReaddbArgs {
  config: string | undefined
  daemon: boolean
  /** Resync the firewall sets now (firewall mode), then poll. */
  resync: boolean
  help: boolean
}

export const USAGE = `usage: readdb [--config FILE]            one poll, then exit (cron, systemd timer)
       readdb --daemon [--config FILE]   poll on readdb.schedule until SIGTERM/SIGINT
       readdb --resync [--config FILE]   firewall mode: make the kernel sets equal to the fleet's bans now, then exit
                                         (a running daemon does the same on SIGHUP)
Applies bans other hosts reported to this host's fail2ban through the shared jail's log
(and, with a firewall section, to nftables or ipset sets), and records this host's status for each. Exit: 0 done, 1 failure, 2 usage, 3 another readdb holds this host's lock (readdb.lockFile).`

export function parseReaddbArgs(argv: string[]): ReaddbArgs {
  try {
    const { values } = parseArgs({
      args: argv,
      options: {
        config: { type: 'string' },
        daemon: { type: 'boolean', default: false },
        resync: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
      strict: true,
      allowPositionals: false,
    })
    return { config: values.config, daemon: values.daemon ?? false, resync: values.resync ?? false, help: values.help ?? false }
  } catch (err) {
    throw new UsageError((err as Error).message.split('\n')[0] ?? 'bad arguments', 'run `readdb --help`')
  }
}
