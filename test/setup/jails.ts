import { BIN } from './programs.js'

export interface ReportingJailOptions {
  /** The failure log the jail follows. */
  logpath: string
  /** The host's f2b-central config, passed to add2db. */
  config: string
  filter: string
  maxretry?: number
  port?: string | number
  /** Unset: the harness's default (polling). */
  backend?: string
}

/**
 * An ordinary jail that reports its bans to the fleet, wired as README tells an admin: the
 * local ban action first, then the shipped f2b-central action running the built add2db with
 * this host's config.
 */
export function reportingJail(o: ReportingJailOptions): string {
  return `[auth]
enabled = true
${o.backend ? `backend = ${o.backend}\n` : ''}filter = ${o.filter}
logpath = ${o.logpath}
maxretry = ${o.maxretry ?? 2}
findtime = 10m
bantime = 600
port = ${o.port ?? 'ssh'}
action = %(action_)s
         f2b-central[port="%(port)s", protocol="%(protocol)s", add2db="${process.execPath} ${BIN.add2db} --config ${o.config}"]
`
}
