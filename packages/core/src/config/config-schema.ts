// zod/mini rather than classic zod: the same validation and messages at a tenth of the code
// that add2db has to load at every ban (classic zod was most of its bundle).
import { isIP } from 'node:net'
import * as z from 'zod/mini'
import en from 'zod/v4/locales/en.js'

// Only the English messages: `z.locales` would pull in every language.
z.config(en())

const seconds = z.number().check(z.positive(), z.maximum(3600))
const filePath = z.string().check(z.minLength(1))
const DNS_NAME = /^(?=.{1,253}\.?$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?$/

const fail2banDefaults = {
  client: ['fail2ban-client'],
  sharedJail: 'f2b-central-shared',
  sharedLog: '/var/log/f2b-central/shared.log',
  recentBanFraction: 0.4,
  allPortsJails: ['recidive'],
  timeoutSeconds: 10,
  unbanAllJails: false,
  endWithFleetBan: true,
}
const readdbDefaults = { schedule: '*/5 * * * * *', batchSize: 1000, lockFile: '/run/f2b-central/readdb.lock', maxBackoffSeconds: 60 }

/**
 * The YAML config file, as written by the admin. Unknown keys are errors, so a typo
 * (`sharedlog:`) is reported instead of silently ignored.
 */
export const configFileSchema = z.strictObject({
  database: z.strictObject({
    /** `mysql://user@host:port/database` or `sqlite:/path/to/file.sqlite`. */
    url: z.string().check(z.minLength(1)),
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
            z.string().check(
              z.refine((s) => isIP(s) === 0 && DNS_NAME.test(s), 'must be a DNS name such as db.example.org (an address in database.url is checked as is)'),
            ),
          ),
        })
        .check(z.refine((t) => (t.cert === undefined) === (t.key === undefined), 'cert and key go together: give both or neither')),
    ),
  }),
  host: z._default(
    z.strictObject({
      /** This host's name in the fleet. Default: the machine's hostname. */
      name: z.optional(z.string().check(z.minLength(1))),
      /** Never report or apply a ban of one of this machine's own addresses. */
      allowOwnAddresses: z._default(z.boolean(), true),
      /** Register this machine's addresses with the fleet, and never report or apply a ban of any registered host's. */
      allowFleetAddresses: z._default(z.boolean(), true),
    }),
    { allowOwnAddresses: true, allowFleetAddresses: true },
  ),
  fail2ban: z._default(
    z.strictObject({
      /** argv prefix for fail2ban-client, e.g. `[fail2ban-client, -s, /run/fail2ban/fail2ban.sock]`. */
      client: z._default(z.array(z.string().check(z.minLength(1))).check(z.minLength(1)), fail2banDefaults.client),
      /** fail2ban's own SQLite database; when set, ban state is read from its `bips` table. */
      database: z.optional(z.string().check(z.minLength(1))),
      /** The jail that follows the shared log. */
      sharedJail: z._default(z.string().check(z.minLength(1)), fail2banDefaults.sharedJail),
      /** The log file readdb appends to and the shared jail follows. */
      sharedLog: z._default(z.string().check(z.minLength(1)), fail2banDefaults.sharedLog),
      /** A fleet ban held locally by an all-ports jail with more than this fraction of the fleet ban's ban time left counts as "already banned" (status 2). */
      recentBanFraction: z._default(z.number().check(z.minimum(0), z.maximum(1)), fail2banDefaults.recentBanFraction),
      /** Local jails besides the shared one that ban on every port: only a ban in one of these (or the shared jail) can make a fleet ban "already banned". */
      allPortsJails: z._default(z.array(z.string().check(z.minLength(1))), fail2banDefaults.allPortsJails),
      /** Deadline for one fail2ban-client call, seconds. */
      timeoutSeconds: z._default(seconds, fail2banDefaults.timeoutSeconds),
      /** On an operator's unban, take the address out of every local jail, not only the shared one. */
      unbanAllJails: z._default(z.boolean(), fail2banDefaults.unbanAllJails),
      /** Take an address out of the shared jail when its fleet ban runs out, whatever the jail's own bantime. */
      endWithFleetBan: z._default(z.boolean(), fail2banDefaults.endWithFleetBan),
    }),
    fail2banDefaults,
  ),
  bans: z._default(
    z.strictObject({
      /** Ban time stored when add2db is not given `--bantime`, seconds (-1: permanent). */
      defaultBantime: z._default(
        z.number().check(
          z.int(),
          z.refine((n) => n !== 0, 'must not be 0'),
        ),
        86400,
      ),
      /** Flood guard: most bans one host may report in a minute; past it add2db refuses them. */
      maxPerMinute: z._default(z.number().check(z.int(), z.minimum(1)), 120),
    }),
    { defaultBantime: 86400, maxPerMinute: 120 },
  ),
  /** Addresses and networks this host never reports or applies (its own, the admin's office), on top of the central allowlist. */
  allowlist: z._default(z.array(z.string()), []),
  spool: z._default(
    z.strictObject({
      /** Where add2db keeps bans it could not store (database down); shipped by the next add2db or readdb that reaches it. */
      dir: z._default(z.string().check(z.minLength(1)), '/var/spool/f2b-central'),
      /** Most bans kept in the spool; past it add2db fails loudly instead of filling the disk. */
      maxEntries: z._default(z.number().check(z.int(), z.minimum(1)), 10000),
    }),
    { dir: '/var/spool/f2b-central', maxEntries: 10000 },
  ),
  readdb: z._default(
    z.strictObject({
      /** node-cron expression for `readdb --daemon` (six fields: seconds first). */
      schedule: z._default(z.string().check(z.minLength(1)), readdbDefaults.schedule),
      /** Pending bans fetched per query; a poll loops batches until nothing is pending. */
      batchSize: z._default(z.number().check(z.int(), z.minimum(1), z.maximum(50000)), readdbDefaults.batchSize),
      /** Lock file: one readdb per host, daemon or one-shot (so cron runs never overlap). */
      lockFile: z._default(z.string().check(z.minLength(1)), readdbDefaults.lockFile),
      /** Longest pause between retries while the database or fail2ban is unreachable, seconds. */
      maxBackoffSeconds: z._default(z.number().check(z.int(), z.minimum(1), z.maximum(3600)), readdbDefaults.maxBackoffSeconds),
    }),
    readdbDefaults,
  ),
})

export type ConfigFile = z.infer<typeof configFileSchema>
