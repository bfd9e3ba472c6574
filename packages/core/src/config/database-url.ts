import { ConfigError } from '../errors.js'

/** One MySQL/MariaDB server: a host name or address, and its port. */
export interface MysqlServer {
  readonly host: string
  readonly port: number
}

export type DatabaseTarget =
  | {
      readonly kind: 'mysql'
      /**
       * The servers of database.url, in the order given (never empty). Every program uses the
       * first that answers and moves to the next when it fails: the nodes of one cluster
       * (Galera), sharing the account and the database.
       */
      readonly servers: readonly [MysqlServer, ...MysqlServer[]]
      readonly user: string
      readonly database: string
      readonly password: string | undefined
      /** Set from `database.tls`: connect over TLS and verify the server's certificate. */
      readonly tls?: MysqlTls
    }
  | { readonly kind: 'sqlite'; readonly path: string }

/**
 * `database.tls`, resolved: the PEM files are read when the config is loaded, so a missing
 * or unreadable file is a config error rather than a connection failure at the first ban.
 */
export interface MysqlTls {
  /** CA bundle (PEM) the server's certificate must chain to; undefined: Node's bundled public CAs. */
  readonly ca: string | undefined
  /** Client certificate and key (PEM), for accounts that `REQUIRE X509`; both or neither. */
  readonly cert: string | undefined
  readonly key: string | undefined
  /** false accepts any certificate (still encrypted, but open to a man in the middle): for testing only. */
  readonly rejectUnauthorized: boolean
  /** The name the server's certificate must carry (and the SNI sent), when it is not the URL's host. */
  readonly serverName: string | undefined
}

/**
 * Parse `database.url`. A password inside the URL is accepted for compatibility, but
 * `database.passwordFile` is the documented place for it.
 */
export function parseDatabaseUrl(url: string, key = 'database.url'): DatabaseTarget {
  if (url.startsWith('sqlite:')) {
    const path = url.slice('sqlite:'.length).replace(/^\/\/(?=\/)/, '')
    if (path === '') throw new ConfigError(`${key}: "sqlite:" needs a file path, e.g. sqlite:/var/lib/f2b-central/bans.sqlite`)
    return { kind: 'sqlite', path }
  }
  let u: URL
  try {
    u = new URL(url)
  } catch {
    throw new ConfigError(`${key}: not a URL; expected mysql://user@host:3306/database or sqlite:/path/file.sqlite`)
  }
  if (u.protocol !== 'mysql:' && u.protocol !== 'mariadb:') {
    throw new ConfigError(`${key}: unsupported scheme "${u.protocol}"; expected mysql: or sqlite:`)
  }
  const decode = (part: string, what: string): string => {
    try {
      return decodeURIComponent(part)
    } catch {
      throw new ConfigError(`${key}: the ${what} has a malformed %-escape; write a literal % as %25`)
    }
  }
  const database = decode(u.pathname.replace(/^\//, ''), 'database name')
  if (!u.hostname || !u.username || !database) {
    throw new ConfigError(`${key}: expected mysql://user@host:3306/database (user, host and database are required)`)
  }
  return {
    kind: 'mysql',
    servers: [{ host: u.hostname.replace(/^\[|\]$/g, ''), port: u.port ? Number(u.port) : 3306 }],
    user: decode(u.username, 'user'),
    database,
    password: u.password ? decode(u.password, 'password') : undefined,
  }
}

/**
 * `url` as it may be shown: a password in it (after the user's `:`, up to the last `@`)
 * becomes `***`; anything else is left as it is, malformed or not. The last `@` anywhere, not
 * only before the path: a password with an unescaped `/` or `#` must not show either, at the
 * price of taking a `:` before an `@` in a database name for one.
 *
 * ```ts
 * redactPassword('mysql://f2b:s3cret@db/fleet') // 'mysql://f2b:***@db/fleet'
 * ```
 */
export function redactPassword(url: string): string {
  const m = /^([A-Za-z][A-Za-z0-9+.-]*:\/\/)(.*)@(.*)$/s.exec(url)
  if (!m) return url
  const [, scheme, userinfo = '', rest] = m
  const colon = userinfo.indexOf(':')
  return colon < 0 ? url : `${scheme}${userinfo.slice(0, colon)}:***@${rest}`
}

/**
 * Parse `database.url` given as one URL or a list of them. A list names the servers of one
 * cluster: every URL must be a mysql one with the same user, password and database, and
 * each server appears once. Problems name the list entry (`database.url.1`).
 */
export function parseDatabaseUrls(urls: string | readonly string[], key = 'database.url'): DatabaseTarget {
  if (typeof urls === 'string') return parseDatabaseUrl(urls, key)
  const [first, ...rest] = urls.map((url, i) => ({ key: `${key}.${i}`, target: parseDatabaseUrl(url, `${key}.${i}`) }))
  if (first === undefined) throw new ConfigError(`${key}: an empty list; give one URL or several servers of one cluster`)
  if (first.target.kind === 'sqlite' && rest.length > 0) throw new ConfigError(`${first.key}: a SQLite file cannot be one of several servers; give it alone`)
  if (first.target.kind === 'sqlite') return first.target
  const head = first.target
  const servers = [...head.servers]
  for (const { key: at, target } of rest) {
    if (target.kind !== 'mysql') throw new ConfigError(`${at}: a SQLite file cannot be one of several servers; give it alone`)
    const differs = target.user !== head.user ? 'user' : target.database !== head.database ? 'database' : target.password !== head.password ? 'password' : undefined
    if (differs !== undefined) {
      throw new ConfigError(`${at}: names another ${differs} than ${first.key}; every server of the list holds the same database with the same account`, {
        hint: 'list the nodes of one cluster, with the same user and database (and the password in database.passwordFile)',
      })
    }
    const server = target.servers[0]
    if (servers.some((s) => s.host === server.host && s.port === server.port)) throw new ConfigError(`${at}: ${server.host}:${server.port} is already in the list`)
    servers.push(server)
  }
  return { ...head, servers: [servers[0]!, ...servers.slice(1)] }
}
