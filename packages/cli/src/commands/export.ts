import { quote } from '@f2b-central/core/errors'
import { ExitCode } from '@f2b-central/core/exit-codes'
import { ExportTally, jsonAddressFormat, readListClock, streamActiveAddresses } from '@f2b-central/core/fleet/export-addresses'
import { ipsetFormat, nftFormat, parseTableName, plainFormat, renderList, setNames } from '@f2b-central/core/fleet/firewall-script'
import { argValue, usage } from '../arg-value.js'
import { plural, print, warn } from '../output.js'
import { COMMON_OPTIONS, parseCommandArgs, withDatabase } from '../command-context.js'

const USAGE = `usage: f2b-central export [--format plain|ipset|nft|json] [--set NAME] [--table NAME] [--config FILE]
Prints the fleet's active ban list, every address validated again first:
  plain  one address a line (what Maltrail's /fail2ban endpoint serves)
  ipset  an \`ipset restore\` script: sets NAME-v4 (inet) and NAME-v6 (inet6), created with -exist
  nft    an \`nft -f\` script: table inet TABLE with sets NAME-v4 (ipv4_addr) and NAME-v6 (ipv6_addr)
  json   every address with its version and when its last ban expires, then the counts
IPv4 first, then IPv6, each in the order of the stored text.
  --set NAME    set base name (default f2b-central)
  --table NAME  nftables table (default f2b-central)
  --json        the same as --format json
e.g. f2b-central export --format ipset | ipset restore`

const FORMATS = ['plain', 'ipset', 'nft', 'json'] as const
type Format = (typeof FORMATS)[number]

export async function run(argv: string[]): Promise<ExitCode> {
  const { values } = parseCommandArgs('export', argv, {
    format: { type: 'string', default: 'plain' },
    set: { type: 'string', default: 'f2b-central' },
    table: { type: 'string', default: 'f2b-central' },
    ...COMMON_OPTIONS,
  })
  if (values.help) {
    print(USAGE)
    return ExitCode.Ok
  }
  const format = (values.json ? 'json' : values.format) as Format
  if (!FORMATS.includes(format)) throw usage('export', `invalid --format ${JSON.stringify(values.format.slice(0, 40))}: expected ${FORMATS.join(', ')}`)
  const sets = argValue('export', () => setNames(values.set, '--set'))
  const table = argValue('export', () => parseTableName(values.table, '--table'))
  const tally = new ExportTally()
  const listFormat = format === 'json' ? jsonAddressFormat(tally) : format === 'plain' ? plainFormat() : format === 'ipset' ? ipsetFormat(sets) : nftFormat(table, sets)
  // Written as it is read (the same code as `serve`'s lists), so a long list never sits in memory.
  await withDatabase(values.config, async (central) => {
    const asOf = await readListClock(central)
    for await (const text of renderList(listFormat, streamActiveAddresses(central, asOf, {}, tally, { expiry: format === 'json' }))) await write(text)
  })
  if (tally.rejected > 0) {
    const samples = [...tally.rejectedSamples].sort().slice(0, 5)
    warn(`export: left out ${plural(tally.rejected, 'stored value')} that ${tally.rejected === 1 ? 'is' : 'are'} not a valid address: ${samples.map((r) => quote(r, 60)).join(', ')}`)
  }
  return ExitCode.Ok
}

// stdout with its back-pressure: a slow pipe (`| ipset restore`) slows the reading down instead of filling memory.
function write(text: string): Promise<void> {
  return new Promise((resolve, reject) => {
    process.stdout.write(text, (err) => (err ? reject(err) : resolve()))
  })
}
