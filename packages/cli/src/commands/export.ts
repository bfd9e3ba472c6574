import { quote } from '@f2b-central/core/errors'
import { ExitCode } from '@f2b-central/core/exit-codes'
import { ExportTally, jsonAddressFormat, readListClock, streamActiveAddresses } from '@f2b-central/core/fleet/export-addresses'
import { parseTableName, plainFormat, renderList, setNames } from '@f2b-central/core/fleet/firewall-script'
import { configGuard, firewallLoadBackend, readFirewallLoad } from '@f2b-central/core/firewall/firewall-load'
import { argValue, usage } from '../arg-value.js'
import { plural, print, warn } from '../output.js'
import { COMMON_OPTIONS, parseCommandArgs, withDatabase } from '../command-context.js'

const USAGE = `usage: f2b-central export [--format plain|ipset|nft|json] [--set NAME] [--table NAME] [--forward] [--config FILE]
Prints the fleet's active ban list, every address validated again first:
  plain  one address a line (what Maltrail's /fail2ban endpoint serves)
  ipset  exactly what readdb's firewall mode loads with \`ipset restore -exist\`: hash:net sets with
         timeout (default f2b-central-v4, f2b-central-v6), flushed, then every entry with the fleet
         ban's remaining time (0: permanent)
  nft    exactly what readdb's firewall mode loads with \`nft -f\`: table inet TABLE (default
         f2b_central) with sets bans_v4/bans_v6 (flags interval, timeout), the input chain that drops
         them (and forward with --forward), the sets flushed, then every entry with its timeout
  json   every address with its version and when its last ban expires, then the counts
plain and json: IPv4 first, then IPv6, each in the order of the stored text. Set and table names
(and forward) come from the config's firewall section when it names the same backend.
  --set NAME    set base name: NAME-v4 and NAME-v6
  --table NAME  nftables table
  --forward     nft: drop in the forward hook too (firewall.forward)
  --json        the same as --format json
e.g. f2b-central export --format ipset | ipset restore -exist`

const FORMATS = ['plain', 'ipset', 'nft', 'json'] as const
type Format = (typeof FORMATS)[number]

export async function run(argv: string[]): Promise<ExitCode> {
  const { values } = parseCommandArgs('export', argv, {
    format: { type: 'string', default: 'plain' },
    set: { type: 'string' },
    table: { type: 'string' },
    forward: { type: 'boolean', default: false },
    ...COMMON_OPTIONS,
  })
  if (values.help) {
    print(USAGE)
    return ExitCode.Ok
  }
  const format = (values.json ? 'json' : values.format) as Format
  if (!FORMATS.includes(format)) throw usage('export', `invalid --format ${JSON.stringify(values.format.slice(0, 40))}: expected ${FORMATS.join(', ')}`)
  // Checked whatever the format: a bad name is a usage error, not something ignored.
  if (values.set !== undefined) argValue('export', () => setNames(values.set ?? '', '--set'))
  if (values.table !== undefined) argValue('export', () => parseTableName(values.table ?? '', '--table'))
  if (format === 'nft' || format === 'ipset') return exportFirewall(format, values)
  const tally = new ExportTally()
  const listFormat = format === 'json' ? jsonAddressFormat(tally) : plainFormat()
  // Written as it is read (the same code as `serve`'s lists), so a long list never sits in memory.
  await withDatabase(values.config, async (central) => {
    const asOf = await readListClock(central)
    for await (const text of renderList(listFormat, streamActiveAddresses(central, asOf, {}, tally, { expiry: format === 'json' }))) await write(text)
  })
  if (tally.rejected > 0) {
    const samples = [...tally.rejectedSamples].sort().slice(0, 5)
    warn(
      `export: left out ${plural(tally.rejected, 'stored value')} that ${tally.rejected === 1 ? 'is' : 'are'} not a valid address: ${samples.map((r) => quote(r, 60)).join(', ')}`,
    )
  }
  return ExitCode.Ok
}

/**
 * The firewall formats: the load script of readdb's firewall mode for the fleet's desired
 * entries, from the same code as serve's /v1/bans.nft and /v1/bans.ipset (readFirewallLoad).
 * The config's own allowlist and infrastructure are left out as readdb leaves them out.
 */
async function exportFirewall(
  format: 'nft' | 'ipset',
  values: { set?: string | undefined; table?: string | undefined; forward?: boolean | undefined; config?: string | undefined },
): Promise<ExitCode> {
  const sets = values.set === undefined ? undefined : argValue('export', () => setNames(values.set ?? '', '--set'))
  const table = values.table === undefined ? undefined : argValue('export', () => parseTableName(values.table ?? '', '--table'))
  const load = await withDatabase(values.config, async (central, config) => {
    const backend = firewallLoadBackend({ backend: format === 'nft' ? 'nftables' : 'ipset', sets, table, forward: values.forward }, config.firewall)
    return readFirewallLoad(central, backend, await configGuard(config))
  })
  await write(load.script)
  if (load.rejected > 0) {
    const samples = [...load.rejectedSamples].sort().slice(0, 5)
    warn(
      `export: left out ${plural(load.rejected, 'stored value')} that ${load.rejected === 1 ? 'is' : 'are'} not a valid address or bannable network: ${samples.map((r) => quote(r, 60)).join(', ')}`,
    )
  }
  return ExitCode.Ok
}

// stdout with its back-pressure: a slow pipe (`| ipset restore`) slows the reading down instead of filling memory.
function write(text: string): Promise<void> {
  return new Promise((resolve, reject) => {
    process.stdout.write(text, (err) => (err ? reject(err) : resolve()))
  })
}
