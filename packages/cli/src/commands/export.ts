import { quote } from '@f2b-central/core/errors'
import { ExitCode } from '@f2b-central/core/exit-codes'
import { collectActiveAddresses } from '@f2b-central/core/fleet/export-addresses'
import { parseTableName, renderIpsetScript, renderNftScript, renderPlainList, setNames } from '@f2b-central/core/fleet/firewall-script'
import { argValue, usage } from '../arg-value.js'
import { plural, print, printJson, warn } from '../output.js'
import { COMMON_OPTIONS, parseCommandArgs, withDatabase } from '../command-context.js'

const USAGE = `usage: f2b-central export [--format plain|ipset|nft|json] [--set NAME] [--table NAME] [--config FILE]
Prints the fleet's active ban list, every address validated again first:
  plain  one address a line (what Maltrail's /fail2ban endpoint serves)
  ipset  an \`ipset restore\` script: sets NAME-v4 (inet) and NAME-v6 (inet6), created with -exist
  nft    an \`nft -f\` script: table inet TABLE with sets NAME-v4 (ipv4_addr) and NAME-v6 (ipv6_addr)
  json   every address with its version and when its last ban expires
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
  const list = await withDatabase(values.config, (central) => collectActiveAddresses(central))
  if (list.rejected.length > 0) {
    warn(`export: left out ${plural(list.rejected.length, 'stored value')} that ${list.rejected.length === 1 ? 'is' : 'are'} not a valid address: ${list.rejected.slice(0, 5).map((r) => quote(r, 60)).join(', ')}`)
  }
  if (format === 'json') printJson({ count: list.addresses.length, allowlisted: list.allowlisted, rejected: list.rejected.length, addresses: list.addresses })
  else if (format === 'plain') process.stdout.write(renderPlainList(list.addresses))
  else if (format === 'ipset') process.stdout.write(renderIpsetScript(list.addresses, sets))
  else process.stdout.write(renderNftScript(list.addresses, table, sets))
  return ExitCode.Ok
}
