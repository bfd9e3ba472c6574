import { createPrivateKey, X509Certificate } from 'node:crypto'
import { readFileSync, statSync } from 'node:fs'
import { hostname } from 'node:os'
import { parse as parseYaml } from 'yaml'
import type { $ZodIssue } from 'zod/v4/core'
import { parseHostName, parseJail } from '../ban/names.js'
import { NetworkSet, parseNetwork } from '../ban/network.js'
import { ownAddresses } from '../own-addresses.js'
import { ConfigError, F2bError } from '../errors.js'
import { configFileSchema, type ConfigFile } from './config-schema.js'
import { parseDatabaseUrl, type DatabaseTarget, type MysqlTls } from './database-url.js'

export const DEFAULT_CONFIG_PATH = '/etc/f2b-central/config.yml'

/** The validated, resolved configuration every program works from. */
export interface Config {
  readonly path: string
  readonly database: { readonly target: DatabaseTarget; readonly timeoutMs: number }
  readonly host: { readonly name: string; readonly allowOwnAddresses: boolean; readonly allowFleetAddresses: boolean }
  readonly fail2ban: {
    readonly client: readonly string[]
    readonly database: string | undefined
    readonly sharedJail: string
    readonly sharedLog: string
    readonly recentBanFraction: number
    readonly allPortsJails: readonly string[]
    readonly timeoutMs: number
    readonly unbanAllJails: boolean
    readonly endWithFleetBan: boolean
  }
  readonly bans: { readonly defaultBantime: number; readonly maxPerMinute: number }
  /** The config's local allowlist, plus this machine's own addresses unless host.allowOwnAddresses is false. */
  readonly allowlist: NetworkSet
  readonly spool: { readonly dir: string; readonly maxEntries: number }
  readonly readdb: { readonly schedule: string; readonly batchSize: number; readonly lockFile: string; readonly maxBackoffSeconds: number }
}

export interface LoadConfigOptions {
  /** `--config` from argv, if given. */
  path?: string | undefined
  env?: NodeJS.ProcessEnv
}

/** Which file to read: `--config`, else `F2B_CENTRAL_CONFIG`, else /etc/f2b-central/config.yml. */
export function configPath(options: LoadConfigOptions): string {
  return options.path ?? options.env?.F2B_CENTRAL_CONFIG ?? DEFAULT_CONFIG_PATH
}

/**
 * Read, validate and resolve the config. Environment overrides: `F2B_CENTRAL_DB_URL`
 * (database.url) and `F2B_CENTRAL_HOST` (host.name). Throws ConfigError listing every
 * problem as `key: what is wrong`.
 */
export function loadConfig(options: LoadConfigOptions = {}): Config {
  const env = options.env ?? process.env
  const path = configPath({ ...options, env })
  const raw = readYaml(path)
  const withEnv = applyEnvOverrides(raw, env)
  const parsed = configFileSchema.safeParse(withEnv)
  if (!parsed.success) throw configIssues(path, parsed.error.issues)
  try {
    return resolveConfig(path, parsed.data)
  } catch (err) {
    if (err instanceof F2bError) throw new ConfigError(`${path}: ${err.message}`, { hint: err.hint ?? 'fix the file, then run `f2b-central check`' })
    throw err
  }
}

function readYaml(path: string): unknown {
  let text: string
  try {
    refuseLoosePermissions(path, 0o007, 'the config file')
    text = readFileSync(path, 'utf8')
  } catch (err) {
    if (err instanceof ConfigError) throw err
    const code = (err as NodeJS.ErrnoException).code
    throw new ConfigError(`cannot read config file ${path}: ${code ?? String(err)}`, {
      hint: 'pass --config FILE or set F2B_CENTRAL_CONFIG; see README "Configuration"',
    })
  }
  try {
    return parseYaml(text) ?? {}
  } catch (err) {
    throw new ConfigError(`${path}: not valid YAML: ${(err as Error).message.split('\n')[0]}`)
  }
}

function applyEnvOverrides(raw: unknown, env: NodeJS.ProcessEnv): unknown {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return raw
  const out = { ...(raw as Record<string, unknown>) }
  const section = (key: string): Record<string, unknown> => {
    const v = out[key]
    const s = typeof v === 'object' && v !== null && !Array.isArray(v) ? { ...(v as Record<string, unknown>) } : {}
    out[key] = s
    return s
  }
  if (env.F2B_CENTRAL_DB_URL) section('database').url = env.F2B_CENTRAL_DB_URL
  if (env.F2B_CENTRAL_HOST) section('host').name = env.F2B_CENTRAL_HOST
  return out
}

function configIssues(path: string, issues: $ZodIssue[]): ConfigError {
  const lines = issues.map((i) => `${i.path.length ? i.path.join('.') : '(top level)'}: ${i.message}`)
  return new ConfigError(`${path}: ${lines.join('; ')}`, { hint: 'fix the file; every key is described in README "Configuration"' })
}

function resolveConfig(path: string, file: ConfigFile): Config {
  const parsedTarget = parseDatabaseUrl(file.database.url)
  const password = file.database.passwordFile ? readPasswordFile(file.database.passwordFile) : undefined
  let target: DatabaseTarget = parsedTarget.kind === 'mysql' && password !== undefined ? { ...parsedTarget, password } : parsedTarget
  if (file.database.tls !== undefined) {
    if (target.kind !== 'mysql') throw new ConfigError('database.tls: TLS settings are only for mysql URLs (database.url is a SQLite file)')
    target = { ...target, tls: resolveTls(file.database.tls) }
  }
  return {
    path,
    database: { target, timeoutMs: file.database.timeoutSeconds * 1000 },
    host: { name: parseHostName(file.host.name ?? hostname(), 'host.name'), allowOwnAddresses: file.host.allowOwnAddresses, allowFleetAddresses: file.host.allowFleetAddresses },
    fail2ban: {
      client: file.fail2ban.client,
      database: file.fail2ban.database,
      sharedJail: parseJail(file.fail2ban.sharedJail),
      sharedLog: file.fail2ban.sharedLog,
      recentBanFraction: file.fail2ban.recentBanFraction,
      allPortsJails: file.fail2ban.allPortsJails.map((j) => parseJail(j)),
      timeoutMs: file.fail2ban.timeoutSeconds * 1000,
      unbanAllJails: file.fail2ban.unbanAllJails,
      endWithFleetBan: file.fail2ban.endWithFleetBan,
    },
    bans: { defaultBantime: file.bans.defaultBantime < 0 ? -1 : file.bans.defaultBantime, maxPerMinute: file.bans.maxPerMinute },
    allowlist: new NetworkSet([...file.allowlist.map((n, i) => parseNetwork(n, `allowlist[${i}]`)), ...(file.host.allowOwnAddresses ? ownAddresses() : [])]),
    spool: file.spool,
    readdb: file.readdb,
  }
}

/**
 * Like ssh with a private key: a secret other users can read is refused, not used.
 * `forbidden` are the mode bits that must be clear.
 */
function refuseLoosePermissions(path: string, forbidden: number, what: string): void {
  const mode = statSync(path).mode & 0o777
  if ((mode & forbidden) !== 0) {
    const wanted = (mode & ~forbidden).toString(8).padStart(3, '0')
    throw new ConfigError(`${what} ${path} is accessible to other users (mode ${mode.toString(8).padStart(3, '0')}); refusing to use it`, {
      hint: `chmod ${wanted} ${path}`,
    })
  }
}

function readPasswordFile(file: string): string {
  try {
    refuseLoosePermissions(file, 0o077, 'database.passwordFile')
    return readFileSync(file, 'utf8').replace(/\r?\n$/, '')
  } catch (err) {
    if (err instanceof ConfigError) throw err
    throw new ConfigError(`database.passwordFile: cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`)
  }
}

/**
 * Read `database.tls`'s files now, so a missing, unreadable or malformed one is a config error
 * naming its key (not a TLS failure at the first ban), and check that the key fits the cert.
 */
function resolveTls(tls: NonNullable<ConfigFile['database']['tls']>): MysqlTls {
  const ca = tls.ca === undefined ? undefined : readTlsFile('ca', tls.ca)
  const cert = tls.cert === undefined ? undefined : readTlsFile('cert', tls.cert)
  const key = tls.key === undefined ? undefined : readTlsFile('key', tls.key)
  if (ca !== undefined) parsePem('ca', tls.ca, () => new X509Certificate(ca), 'a PEM certificate (bundle)')
  if (cert !== undefined && key !== undefined) {
    const certificate = parsePem('cert', tls.cert, () => new X509Certificate(cert), 'a PEM certificate')
    const privateKey = parsePem('key', tls.key, () => createPrivateKey(key), 'an unencrypted PEM private key')
    if (!certificate.checkPrivateKey(privateKey)) throw new ConfigError(`database.tls.key: ${tls.key} is not the key of the certificate in database.tls.cert (${tls.cert})`)
  }
  return { ca, cert, key, rejectUnauthorized: tls.rejectUnauthorized, serverName: tls.serverName }
}

function readTlsFile(key: 'ca' | 'cert' | 'key', file: string): string {
  try {
    // The private key is a secret like the password: only its owner may read it.
    if (key === 'key') refuseLoosePermissions(file, 0o077, 'database.tls.key')
    return readFileSync(file, 'utf8')
  } catch (err) {
    if (err instanceof ConfigError) throw err
    throw new ConfigError(`database.tls.${key}: cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`)
  }
}

function parsePem<T>(key: string, file: string | undefined, parse: () => T, what: string): T {
  try {
    return parse()
  } catch {
    throw new ConfigError(`database.tls.${key}: ${file} is not ${what}`)
  }
}
