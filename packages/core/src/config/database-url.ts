import { ConfigError } from '../errors.js'

export type DatabaseTarget =
  | {
      readonly kind: 'mysql'
      readonly host: string
      readonly port: number
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
    host: u.hostname.replace(/^\[|\]$/g, ''),
    port: u.port ? Number(u.port) : 3306,
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
