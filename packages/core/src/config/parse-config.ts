import { createPrivateKey, X509Certificate } from 'node:crypto'
import { parse as parseYaml } from 'yaml'
import type { $ZodIssue } from 'zod/v4/core'
import { NetworkSet, parseNetwork } from '../ban/network.js'
import { ConfigError, F2bError } from '../errors.js'
import { ownAddresses } from '../own-addresses.js'
import { configFileSchema, configRules, type Config, type ConfigFile, type ConfigIssue, type CronGrammar, type RuleContext } from './config-schema.js'
import { parseDatabaseUrls, type DatabaseTarget, type MysqlTls } from './database-url.js'
import { parseListenAddress } from './listen-address.js'
import { parseMqttUrl, type MqttTarget } from './mqtt-url.js'
import { resolveFirewall } from '../firewall/firewall-config.js'
import { readPasswordFile, readRuledFile, readSecretFile, TRUSTED_FILE_RULE } from './secret-file.js'

export interface ParseConfigOptions {
  /** The file the text was read from, kept as Config.path (messages do not name it; loadConfig prefixes it). */
  readonly path: string
  /** `F2B_CENTRAL_DB_URL` (one URL, or several separated by spaces) and `F2B_CENTRAL_HOST` override database.url and host.name. Default: no overrides. */
  readonly env?: NodeJS.ProcessEnv | undefined
  /** readdb.schedule's grammar (RuleContext.isCronExpression). Default: the schedule is not checked. */
  readonly isCronExpression?: CronGrammar | undefined
}

/**
 * What parseConfig found: a config, or the errors that keep it from being one; warnings
 * either way. Problems are listed in file order within each step, and a step's problems
 * hide the next step's: the schema's first, then the rules', then those of the files the
 * config names (password, TLS).
 */
export type ConfigResult =
  | { readonly config: Config; readonly warnings: readonly ConfigIssue[]; readonly errors: readonly [] }
  | { readonly config: undefined; readonly warnings: readonly ConfigIssue[]; readonly errors: readonly [ConfigIssue, ...ConfigIssue[]] }

/**
 * Parse the YAML text of a config file, validate it (configFileSchema, then configRules) and
 * resolve it: read the password and TLS files it names, add this machine's addresses to the
 * allowlist. Never throws for a problem with the config or the files it names: every problem
 * is in the result, each with its key (an exception is a bug).
 */
export function parseConfig(text: string, options: ParseConfigOptions): ConfigResult {
  const errors: ConfigIssue[] = []
  const warnings: ConfigIssue[] = []
  const done = (config: Config | undefined): ConfigResult =>
    config !== undefined && errors.length === 0 ? { config, warnings, errors: [] } : { config: undefined, warnings, errors: errors as [ConfigIssue, ...ConfigIssue[]] }

  let raw: unknown
  try {
    raw = parseYaml(text) ?? {}
  } catch (err) {
    errors.push({ path: '', message: `not valid YAML: ${(err as Error).message.split('\n')[0]}` })
    return done(undefined)
  }
  const parsed = configFileSchema.safeParse(applyEnvOverrides(raw, options.env ?? {}))
  if (!parsed.success) {
    errors.push(...parsed.error.issues.map(schemaIssue))
    return done(undefined)
  }
  const ctx: RuleContext = {
    error: (issue) => errors.push(issue),
    warn: (issue) => warnings.push(issue),
    attempt: (path, work) => {
      try {
        return work()
      } catch (err) {
        if (!(err instanceof F2bError)) throw err
        errors.push({ path, message: err.message, hint: err.hint })
        return undefined
      }
    },
    isCronExpression: options.isCronExpression,
  }
  for (const rule of configRules) rule(parsed.data, ctx)
  if (errors.length > 0) return done(undefined)
  // A firewall-only host leaves the fail2ban section out (the schema fills it with defaults either way).
  const fail2banEnabled = parsed.data.firewall === undefined || (typeof raw === 'object' && raw !== null && 'fail2ban' in raw)
  return done(resolve(options.path, parsed.data, ctx, fail2banEnabled))
}

/** One ConfigError for all of a result's errors, as loadConfig throws it: `PATH: problem; problem`. */
export function configError(path: string, errors: readonly ConfigIssue[]): ConfigError {
  const hints = [...new Set(errors.flatMap((e) => (e.hint === undefined ? [] : [e.hint])))]
  return new ConfigError(`${path}: ${errors.map((e) => e.message).join('; ')}`, {
    hint: hints.length > 0 ? hints.join('; ') : 'fix the file; every key is described in README "Configuration"',
  })
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
  // Several URLs (the servers of one cluster) are separated by spaces.
  if (env.F2B_CENTRAL_DB_URL) {
    const urls = env.F2B_CENTRAL_DB_URL.trim().split(/\s+/)
    section('database').url = urls.length === 1 ? urls[0] : urls
  }
  if (env.F2B_CENTRAL_HOST) section('host').name = env.F2B_CENTRAL_HOST
  return out
}

function schemaIssue(i: $ZodIssue): ConfigIssue {
  const path = i.path.join('.')
  return { path, message: `${path || '(top level)'}: ${i.message}` }
}

/**
 * Resolve a file every rule accepted. Problems with the files it names go to `ctx`; what is
 * returned then is incomplete, and parseConfig drops it.
 */
function resolve(path: string, file: ConfigFile, ctx: RuleContext, fail2banEnabled: boolean): Config {
  const { passwordFile, tls } = file.database
  const password = passwordFile === undefined ? undefined : ctx.attempt('database.passwordFile', () => readPasswordFile(passwordFile, 'database.passwordFile'))
  // The rules accepted the URL, and tls only with a mysql one.
  let target: DatabaseTarget = parseDatabaseUrls(file.database.url)
  if (target.kind === 'mysql' && password !== undefined) target = { ...target, password }
  if (target.kind === 'mysql' && tls !== undefined) target = { ...target, tls: resolveTls(tls, ctx) }
  const { timeoutSeconds, ...fail2ban } = file.fail2ban
  return {
    path,
    database: { target, timeoutMs: file.database.timeoutSeconds * 1000 },
    host: file.host,
    fail2ban: { ...fail2ban, database: fail2ban.database, timeoutMs: timeoutSeconds * 1000 },
    bans: { ...file.bans, defaultBantime: file.bans.defaultBantime < 0 ? -1 : file.bans.defaultBantime },
    // The rules accepted every entry.
    allowlist: new NetworkSet([...file.allowlist.map((n) => parseNetwork(n)), ...(file.host.allowOwnAddresses ? ownAddresses() : [])]),
    neverBan: new NetworkSet(file.host.neverBan.map((n) => parseNetwork(n))),
    spool: file.spool,
    readdb: file.readdb,
    fail2banEnabled,
    // The rules accepted the names.
    firewall: file.firewall === undefined ? undefined : resolveFirewall(file.firewall),
    // The rules accepted it.
    serve: { ...file.serve, listen: parseListenAddress(file.serve.listen) },
    notify: { mqtt: file.notify.mqtt === undefined ? undefined : resolveMqtt(file.notify.mqtt, ctx), vallumdTopics: file.notify.vallumd?.topics ?? [] },
  }
}

/** notify.mqtt with its password and PEM files read now, so a bad one is a config error naming its key. */
function resolveMqtt(mqtt: NonNullable<ConfigFile['notify']['mqtt']>, ctx: RuleContext): MqttTarget {
  // The rules accepted the URL.
  const url = parseMqttUrl(mqtt.url)
  const password =
    mqtt.passwordFile === undefined ? undefined : ctx.attempt('notify.mqtt.passwordFile', () => readPasswordFile(mqtt.passwordFile ?? '', 'notify.mqtt.passwordFile'))
  const tls = mqtt.tls ?? {}
  const pem = <T>(key: 'ca' | 'cert' | 'key', file: string | undefined, parse: (text: string) => T, what: string) =>
    file === undefined ? undefined : ctx.attempt(`notify.mqtt.tls.${key}`, () => readPem(`notify.mqtt.tls.${key}`, key, file, parse, what))
  const ca = pem('ca', tls.ca, (t) => new X509Certificate(t), 'a PEM certificate (bundle)')
  const cert = pem('cert', tls.cert, (t) => new X509Certificate(t), 'a PEM certificate')
  const key = pem('key', tls.key, (t) => createPrivateKey(t), 'an unencrypted PEM private key')
  if (cert !== undefined && key !== undefined && !cert.parsed.checkPrivateKey(key.parsed)) {
    ctx.error({ path: 'notify.mqtt.tls.key', message: `notify.mqtt.tls.key: ${tls.key} is not the key of the certificate in notify.mqtt.tls.cert (${tls.cert})` })
  }
  return { ...url, username: mqtt.username, password, ca: ca?.text, cert: cert?.text, key: key?.text, topic: mqtt.topic }
}

/**
 * Read `database.tls`'s files now, so a missing, unreadable or malformed one is a config error
 * naming its key (not a TLS failure at the first ban), and check that the key fits the cert.
 */
function resolveTls(tls: NonNullable<ConfigFile['database']['tls']>, ctx: RuleContext): MysqlTls {
  const pem = <T>(key: 'ca' | 'cert' | 'key', file: string | undefined, parse: (text: string) => T, what: string) =>
    file === undefined ? undefined : ctx.attempt(`database.tls.${key}`, () => readPem(`database.tls.${key}`, key, file, parse, what))
  const ca = pem('ca', tls.ca, (t) => new X509Certificate(t), 'a PEM certificate (bundle)')
  const cert = pem('cert', tls.cert, (t) => new X509Certificate(t), 'a PEM certificate')
  const key = pem('key', tls.key, (t) => createPrivateKey(t), 'an unencrypted PEM private key')
  if (cert !== undefined && key !== undefined && !cert.parsed.checkPrivateKey(key.parsed)) {
    ctx.error({ path: 'database.tls.key', message: `database.tls.key: ${tls.key} is not the key of the certificate in database.tls.cert (${tls.cert})` })
  }
  return { ca: ca?.text, cert: cert?.text, key: key?.text, rejectUnauthorized: tls.rejectUnauthorized, serverName: tls.serverName }
}

/** A PEM file of database.tls or notify.mqtt.tls (`name`: its key in the file), read (the private key as a secret) and parsed. */
function readPem<T>(name: string, key: 'ca' | 'cert' | 'key', file: string, parse: (text: string) => T, what: string): { text: string; parsed: T } {
  // The private key is a secret like the password: only its owner may read it. The CA and the
  // certificate decide whom to trust: anyone may read them, nobody else may change them.
  const text = key === 'key' ? readSecretFile(file, name) : readRuledFile(file, { what: name, ...TRUSTED_FILE_RULE })
  try {
    return { text, parsed: parse(text) }
  } catch {
    throw new ConfigError(`${name}: ${file} is not ${what}`)
  }
}
