// zod/mini rather than classic zod: the same validation and messages at a tenth of the code
// that add2db has to load at every ban (classic zod was most of its bundle).
import { isIP } from 'node:net'
import { hostname } from 'node:os'
import * as z from 'zod/mini'
import en from 'zod/v4/locales/en.js'
import { parseHostName, parseJail } from '../ban/names.js'
import { parseNetwork, type NetworkSet } from '../ban/network.js'
import { SERVE_ENDPOINTS } from '../serve/endpoints.js'
import { parseDatabaseUrls, type DatabaseTarget } from './database-url.js'
import { parseListenAddress, type ListenAddress } from './listen-address.js'
import { parseMqttUrl, validTopic, type MqttTarget } from './mqtt-url.js'
import { parseFirewallNames, type FirewallConfig } from '../firewall/firewall-config.js'

// Only the English messages: `z.locales` would pull in every language.
z.config(en())

const seconds = z.number().check(z.positive(), z.maximum(3600))
const filePath = z.string().check(z.minLength(1))
const DNS_NAME = /^(?=.{1,253}\.?$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?$/

/**
 * The YAML config file, as written by the admin. Unknown keys are errors, so a typo
 * (`sharedlog:`) is reported instead of silently ignored. Each default is declared once, beside
 * its key: a section the file leaves out is parsed as `{}` (`z.prefault`), so its keys get
 * those same defaults.
 */
export const configFileSchema = z.strictObject({
  database: z.strictObject({
    /**
     * `mysql://user@host:port/database` or `sqlite:/path/to/file.sqlite`; or a list of mysql
     * URLs, the servers of one cluster (same user and database): the first that answers is used.
     */
    url: z.union([z.string().check(z.minLength(1)), z.array(z.string().check(z.minLength(1))).check(z.minLength(1))], {
      error: (issue) => `Invalid input: expected a URL or a list of URLs, received ${issue.input === undefined ? 'undefined' : typeof issue.input}`,
    }),
    /** File holding the database password (mode 0600); keeps the secret off command lines and out of the config. */
    passwordFile: z.optional(z.string().check(z.minLength(1))),
    /** Connect and query deadline in seconds. add2db runs inside fail2ban and must never hang it. */
    timeoutSeconds: z._default(seconds, 5),
    /** TLS to a MySQL server, verifying its certificate. Only for mysql: URLs. */
    tls: z.optional(
      z
        .strictObject({
          /** PEM CA bundle the server's certificate must chain to. Default: Node's bundled public CAs. */
          ca: z.optional(filePath),
          /** Client certificate and its key (PEM, key mode 0600), for accounts that `REQUIRE X509`. */
          cert: z.optional(filePath),
          key: z.optional(filePath),
          /** false: accept any server certificate. Encrypted but unauthenticated: for testing only. */
          rejectUnauthorized: z._default(z.boolean(), true),
          /** The DNS name the server's certificate must carry (and the SNI sent) when database.url names it by IP or by another name. */
          serverName: z.optional(
            z.string().check(z.refine((s) => isIP(s) === 0 && DNS_NAME.test(s), 'must be a DNS name such as db.example.org (an address in database.url is checked as is)')),
          ),
        })
        .check(z.refine((t) => (t.cert === undefined) === (t.key === undefined), 'cert and key go together: give both or neither')),
    ),
  }),
  host: z.prefault(
    z.strictObject({
      /** This host's name in the fleet. Default: the machine's hostname. */
      name: z._default(z.string().check(z.minLength(1)), () => hostname()),
      /** Never report or apply a ban of one of this machine's own addresses. */
      allowOwnAddresses: z._default(z.boolean(), true),
      /** Register this machine's addresses with the fleet, and never report or apply a ban of any registered host's. */
      allowFleetAddresses: z._default(z.boolean(), true),
      /**
       * Infrastructure this host never reports or applies a ban of, whatever a report or a
       * database row says: the bastion, monitoring, a DNS resolver. The database server's own
       * addresses (from database.url) are always added.
       */
      neverBan: z._default(z.array(z.string()), []),
    }),
    {},
  ),
  fail2ban: z.prefault(
    z.strictObject({
      /** argv prefix for fail2ban-client, e.g. `[fail2ban-client, -s, /run/fail2ban/fail2ban.sock]`. */
      client: z._default(z.array(z.string().check(z.minLength(1))).check(z.minLength(1)), ['fail2ban-client']),
      /** fail2ban's own SQLite database; when set, ban state is read from its `bips` table. */
      database: z.optional(z.string().check(z.minLength(1))),
      /** The jail that follows the shared log. */
      sharedJail: z._default(z.string().check(z.minLength(1)), 'f2b-central-shared'),
      /** The log file readdb appends to and the shared jail follows. */
      sharedLog: z._default(z.string().check(z.minLength(1)), '/var/log/f2b-central/shared.log'),
      /** A fleet ban held locally by an all-ports jail with more than this fraction of the fleet ban's ban time left counts as "already banned" (status 2). */
      recentBanFraction: z._default(z.number().check(z.minimum(0), z.maximum(1)), 0.4),
      /** Local jails besides the shared one that ban on every port: only a ban in one of these (or the shared jail) can make a fleet ban "already banned". */
      allPortsJails: z._default(z.array(z.string().check(z.minLength(1))), ['recidive']),
      /** Deadline for one fail2ban-client call, seconds. */
      timeoutSeconds: z._default(seconds, 10),
      /** On an operator's unban, take the address out of every local jail, not only the shared one. */
      unbanAllJails: z._default(z.boolean(), false),
      /** Take an address out of the shared jail when its fleet ban runs out, whatever the jail's own bantime. */
      endWithFleetBan: z._default(z.boolean(), true),
    }),
    {},
  ),
  /**
   * Fleet bans straight into kernel sets (routers, load balancers, hosts without fail2ban).
   * With it, the fail2ban section is optional: left out, readdb feeds only the sets; given,
   * both the shared jail and the sets.
   */
  firewall: z.optional(
    z.strictObject({
      /** nftables: table `inet <table>` with interval+timeout sets; ipset: hash:net sets with timeout and iptables rules. */
      backend: z.enum(['nftables', 'ipset']),
      /** Drop the banned sources in FORWARD too (a router or NAT gateway), not only in INPUT. */
      forward: z._default(z.boolean(), false),
      /** Make the sets equal to the fleet's active bans this often (also at start and on `readdb --resync`), minutes. */
      resyncMinutes: z._default(z.number().check(z.int(), z.minimum(1), z.maximum(1440)), 10),
      /** Also delete the established connections (conntrack) of newly banned addresses: a set only stops new packets. */
      killConnections: z._default(z.boolean(), false),
      /** nftables table name (family inet). Ignored by ipset. */
      table: z._default(z.string(), 'f2b_central'),
      /** The IPv4 set's name. Default: bans_v4 (nftables), f2b-central-v4 (ipset). */
      setV4: z.optional(z.string()),
      /** The IPv6 set's name. Default: bans_v6 (nftables), f2b-central-v6 (ipset). */
      setV6: z.optional(z.string()),
      /** Deadline of one nft, ipset, iptables or conntrack call, seconds. */
      timeoutSeconds: z._default(seconds, 30),
    }),
  ),
  bans: z.prefault(
    z.strictObject({
      /** Ban time stored when add2db is not given `--bantime`, seconds (-1: permanent). */
      defaultBantime: z._default(
        z.number().check(
          z.int(),
          z.refine((n) => n !== 0, 'must not be 0'),
        ),
        86400,
      ),
      /** No longer read: the flood limit is the fleet's, kept in the database (`f2b-central bans limit`). */
      maxPerMinute: z.optional(z.number()),
    }),
    {},
  ),
  /** Addresses and networks this host never reports or applies (its own, the admin's office), on top of the central allowlist. */
  allowlist: z._default(z.array(z.string()), []),
  spool: z.prefault(
    z.strictObject({
      /** Where add2db keeps bans it could not store (database down); shipped by the next add2db or readdb that reaches it. */
      dir: z._default(z.string().check(z.minLength(1)), '/var/spool/f2b-central'),
      /** Most bans kept in the spool; past it add2db fails loudly instead of filling the disk. */
      maxEntries: z._default(z.number().check(z.int(), z.minimum(1)), 10000),
    }),
    {},
  ),
  readdb: z.prefault(
    z.strictObject({
      /** node-cron expression for `readdb --daemon` (six fields: seconds first). */
      schedule: z._default(z.string().check(z.minLength(1)), '*/5 * * * * *'),
      /** Pending bans fetched per query; a poll loops batches until nothing is pending. */
      batchSize: z._default(z.number().check(z.int(), z.minimum(1), z.maximum(50000)), 1000),
      /** Lock file: one readdb per host, daemon or one-shot (so cron runs never overlap). */
      lockFile: z._default(z.string().check(z.minLength(1)), '/run/f2b-central/readdb.lock'),
      /** Longest pause between retries while the database or fail2ban is unreachable, seconds. */
      maxBackoffSeconds: z._default(z.number().check(z.int(), z.minimum(1), z.maximum(3600)), 60),
      /**
       * Deadline of one whole poll (shipping the spool included), seconds; also the longest a
       * statement of readdb's may run on a MySQL server. Past it the poll fails and its
       * database connections are dropped. A poll that is only slow (a long catch-up) keeps
       * what it committed, and the next one goes on from there.
       */
      pollTimeoutSeconds: z._default(seconds, 30),
    }),
    {},
  ),
  /** Push: wake-ups over MQTT, and vallumd's topics. Read by add2db, readdb and the operator commands that change bans. */
  notify: z.prefault(
    z.strictObject({
      /** The MQTT broker the fleet's wake-ups go through. Without it: no push, readdb polls on its schedule only. */
      mqtt: z.optional(
        z
          .strictObject({
            /** `mqtt://host[:port]` or `mqtts://host[:port]` (TLS, the server's certificate verified). */
            url: z.string().check(z.minLength(1)),
            username: z.optional(z.string().check(z.minLength(1))),
            /** File holding the broker password (mode 0600, like database.passwordFile); never logged. */
            passwordFile: z.optional(filePath),
            /** For mqtts: the CA the broker's certificate must chain to (default: Node's public CAs), and a client certificate with its key (mode 0600). */
            tls: z.optional(
              z
                .strictObject({ ca: z.optional(filePath), cert: z.optional(filePath), key: z.optional(filePath) })
                .check(z.refine((t) => (t.cert === undefined) === (t.key === undefined), 'cert and key go together: give both or neither')),
            ),
            /** Topic prefix: wake-ups go to `<topic>/bans`. */
            topic: z._default(z.string().check(z.refine(validTopic, 'must be a topic without +, # or empty levels, e.g. f2b-central')), 'f2b-central'),
          })
          .check(z.refine((m) => m.username !== undefined || m.passwordFile === undefined, 'passwordFile needs a username')),
      ),
      /** Routers running vallumd: each fleet ban's address goes to `<topic>/add`, each unban and expiry to `<topic>/del`, for every topic here (readdb's poll on this host publishes them; see README). */
      vallumd: z.optional(
        z.strictObject({
          topics: z.array(z.string().check(z.refine(validTopic, 'must be a topic without +, # or empty levels, e.g. blacklist'))).check(z.minLength(1)),
        }),
      ),
    }),
    {},
  ),
  /** `f2b-central serve`: the ban list over HTTP, Prometheus metrics and the status page. Read by serve and `tokens` only. */
  serve: z.prefault(
    z.strictObject({
      /** ADDRESS:PORT or [IPV6]:PORT to listen on. Loopback by default: opening it to a network is a decision (with serve.tls). */
      listen: z._default(z.string().check(z.minLength(1)), '127.0.0.1:8700'),
      /** HTTPS with this PEM certificate (chain) and its private key (mode 0600, read as a secret). Without it: plain HTTP. */
      tls: z.optional(z.strictObject({ cert: filePath, key: filePath })),
      /** The consumers' tokens, one per line with its name, stored as hashes (`f2b-central tokens add NAME`); mode 0600. */
      tokensFile: z._default(filePath, '/etc/f2b-central/serve-tokens'),
      /** Endpoints answered without a token, e.g. [/healthz, /metrics]. Every other endpoint needs one: opening one is the admin's explicit choice. */
      open: z._default(z.array(z.enum(SERVE_ENDPOINTS)), []),
      /** The status page and the metrics call a host stale when it has not been seen for longer, seconds. */
      staleAfterSeconds: z._default(z.number().check(z.int(), z.minimum(1), z.maximum(30 * 86400)), 300),
    }),
    {},
  ),
})

/** The file as the schema parsed it: every default filled in. */
export type ConfigFile = z.infer<typeof configFileSchema>

/**
 * The validated, resolved configuration every program works from: the file's sections as
 * parsed, except where loading resolves them (the database target with its secrets read,
 * seconds as milliseconds, the allowlist as a set).
 */
export interface Config {
  /** The file it was read from. */
  readonly path: string
  /** database.url with the password from passwordFile and the PEM files of tls read; timeoutSeconds in milliseconds. */
  readonly database: { readonly target: DatabaseTarget; readonly timeoutMs: number }
  readonly host: Readonly<ConfigFile['host']>
  /** fail2ban.timeoutSeconds in milliseconds; database always present, undefined when not set. */
  readonly fail2ban: Readonly<Omit<ConfigFile['fail2ban'], 'timeoutSeconds' | 'database'>> & { readonly database: string | undefined; readonly timeoutMs: number }
  /** false when the file has a firewall section and no fail2ban section: readdb then feeds only the sets. */
  readonly fail2banEnabled: boolean
  /** The firewall section with its set names resolved; undefined without one. */
  readonly firewall: FirewallConfig | undefined
  /** Any negative bans.defaultBantime is -1 (permanent). */
  readonly bans: Readonly<ConfigFile['bans']>
  /** The config's local allowlist, plus this machine's own addresses unless host.allowOwnAddresses is false. */
  readonly allowlist: NetworkSet
  /** host.neverBan as a set; the database server's addresses are added where the database is opened. */
  readonly neverBan: NetworkSet
  readonly spool: Readonly<ConfigFile['spool']>
  readonly readdb: Readonly<ConfigFile['readdb']>
  /** serve.listen parsed; the TLS and tokens files are read by serve when it starts, not by every program that loads the config. */
  readonly serve: Readonly<Omit<ConfigFile['serve'], 'listen'>> & { readonly listen: ListenAddress }
  /** notify.mqtt with its URL parsed and its password and TLS files read; undefined: no push. */
  readonly notify: { readonly mqtt: MqttTarget | undefined; readonly vallumdTopics: readonly string[] }
}

/**
 * One problem with a config. `path` is its key in dot form (`fail2ban.sharedJail`,
 * `allowlist.2`; '' for the file as a whole). `message` is the line an admin reads, and
 * names the key itself: `database.url: unsupported scheme "postgres:"; expected mysql: or
 * sqlite:`, `invalid host.name "bad host": …`. `hint` says what to do, when more than "fix
 * the file" can be said.
 */
export interface ConfigIssue {
  readonly path: string
  readonly message: string
  readonly hint?: string | undefined
}

/** Whether a string is a valid cron expression: node-cron's `validate`. */
export type CronGrammar = (expression: string) => boolean

/** What a rule reports to, and what it may need from outside the file. */
export interface RuleContext {
  /** A problem: the config is not used. */
  error(issue: ConfigIssue): void
  /** A setting that works but should change: the config is still used. */
  warn(issue: ConfigIssue): void
  /**
   * Run `work` (one of the domain's parsers, a file read): an F2bError it throws becomes an
   * error at `path`, with the error's message and hint as they are, and undefined is returned.
   */
  attempt<T>(path: string, work: () => T): T | undefined
  /**
   * node-cron's grammar, for readdb.schedule; undefined leaves the schedule unchecked.
   * readdb and `f2b-central check` pass `isCronExpression` (cron-expression.ts); add2db does
   * not, so that it never loads node-cron.
   */
  readonly isCronExpression: CronGrammar | undefined
}

/**
 * A rule zod does not state: a value checked by the domain's own parser (the one that will
 * use it, so they never disagree), one key against another, or a warning.
 */
export type ConfigRule = (file: ConfigFile, ctx: RuleContext) => void

/** Every rule on a file the schema accepted, in the order their problems are listed. */
export const configRules: readonly ConfigRule[] = [
  function databaseUrl({ database }, ctx) {
    const target = ctx.attempt('database.url', () => parseDatabaseUrls(database.url))
    if (target?.kind !== 'mysql' || target.password === undefined) return
    // Still accepted (the old scripts' URLs carry one), but anyone who may read the config reads it.
    ctx.warn(
      database.passwordFile === undefined
        ? { path: 'database.url', message: 'database.url: holds the database password', hint: 'move it to database.passwordFile, a file only its owner can read' }
        : { path: 'database.url', message: 'database.url: holds a password, which database.passwordFile overrides', hint: 'remove the password from database.url' },
    )
  },
  function tlsOnlyForMysql({ database }, ctx) {
    if (database.tls === undefined || typeof database.url !== 'string' || !database.url.startsWith('sqlite:')) return
    ctx.error({ path: 'database.tls', message: 'database.tls: TLS settings are only for mysql URLs (database.url is a SQLite file)' })
  },
  function tlsVerifiesTheServer({ database }, ctx) {
    if (database.tls?.rejectUnauthorized !== false) return
    ctx.warn({
      path: 'database.tls.rejectUnauthorized',
      message: 'database.tls.rejectUnauthorized: false accepts any server certificate: encrypted, but open to a man in the middle',
      hint: 'for testing only; give database.tls.ca instead',
    })
  },
  function hostName({ host }, ctx) {
    ctx.attempt('host.name', () => parseHostName(host.name, 'host.name'))
  },
  function sharedJail({ fail2ban }, ctx) {
    ctx.attempt('fail2ban.sharedJail', () => parseJail(fail2ban.sharedJail))
  },
  function allPortsJails({ fail2ban }, ctx) {
    fail2ban.allPortsJails.forEach((j, i) => ctx.attempt(`fail2ban.allPortsJails.${i}`, () => parseJail(j)))
  },
  function allowlist(file, ctx) {
    file.allowlist.forEach((n, i) => ctx.attempt(`allowlist.${i}`, () => parseNetwork(n, `allowlist[${i}]`)))
  },
  function neverBan({ host }, ctx) {
    host.neverBan.forEach((n, i) => ctx.attempt(`host.neverBan.${i}`, () => parseNetwork(n, `host.neverBan[${i}]`)))
  },
  function floodLimitMoved({ bans }, ctx) {
    if (bans.maxPerMinute === undefined) return
    ctx.warn({
      path: 'bans.maxPerMinute',
      message: "bans.maxPerMinute: no longer used: the flood limit is the fleet's, kept in the database where a host cannot change it",
      hint: 'remove it; an operator sets the limit with `f2b-central bans limit N`',
    })
  },
  function serveListen({ serve }, ctx) {
    const listen = ctx.attempt('serve.listen', () => parseListenAddress(serve.listen))
    if (listen === undefined || listen.loopback) return
    if (serve.tls === undefined) {
      ctx.warn({
        path: 'serve.listen',
        message: `serve.listen: ${serve.listen} is reachable from the network without serve.tls: tokens and ban lists travel in clear text`,
        hint: 'set serve.tls.cert and serve.tls.key, or listen on 127.0.0.1 behind a TLS proxy',
      })
    }
    const lists = serve.open.filter((e) => e !== '/healthz' && e !== '/metrics')
    if (lists.length > 0) {
      ctx.warn({
        path: 'serve.open',
        message: `serve.open: ${lists.join(', ')} ${lists.length === 1 ? 'is' : 'are'} answered without a token to anyone who can reach ${serve.listen}`,
        hint: 'give each consumer a token (`f2b-central tokens add NAME`) instead',
      })
    }
  },
  function mqttUrl({ notify }, ctx) {
    if (notify.mqtt === undefined) return
    const url = ctx.attempt('notify.mqtt.url', () => parseMqttUrl(notify.mqtt?.url ?? ''))
    if (url !== undefined && !url.tls && notify.mqtt.tls !== undefined) {
      ctx.error({ path: 'notify.mqtt.tls', message: 'notify.mqtt.tls: TLS settings need an mqtts:// URL', hint: `use mqtts://${url.host}:8883 in notify.mqtt.url` })
    }
    if (url !== undefined && !url.tls && notify.mqtt.passwordFile !== undefined) {
      ctx.warn({
        path: 'notify.mqtt.url',
        message: 'notify.mqtt.url: the broker password travels in clear text over mqtt://',
        hint: "use mqtts:// with the broker's CA in notify.mqtt.tls.ca",
      })
    }
  },
  function vallumdNeedsMqtt({ notify }, ctx) {
    if (notify.vallumd === undefined || notify.mqtt !== undefined) return
    ctx.error({ path: 'notify.vallumd', message: 'notify.vallumd: needs notify.mqtt (the broker vallumd listens to)' })
  },
  function firewallNames({ firewall }, ctx) {
    if (firewall === undefined) return
    ctx.attempt('firewall', () => parseFirewallNames(firewall))
  },
  function readdbSchedule({ readdb }, ctx) {
    if (ctx.isCronExpression === undefined || ctx.isCronExpression(readdb.schedule)) return
    ctx.error({
      path: 'readdb.schedule',
      message: `readdb.schedule: ${JSON.stringify(readdb.schedule)} is not a valid cron expression`,
      hint: 'e.g. "*/5 * * * * *" for every 5 seconds',
    })
  },
]
