import { loadConfig } from '@f2b-central/core/config/load-config'
import { writeNewSecretFile } from '@f2b-central/core/config/secret-file'
import { F2bError } from '@f2b-central/core/errors'
import { ExitCode } from '@f2b-central/core/exit-codes'
import { addToken, parseTokenName, readTokensFile, removeToken } from '@f2b-central/core/serve/tokens'
import { argValue, usage } from '../arg-value.js'
import { COMMON_OPTIONS, parseCommandArgs } from '../command-context.js'
import { print, printJson, table, warn } from '../output.js'

const USAGE = `usage: f2b-central tokens add NAME [--token-file FILE] [--file TOKENS] [--config FILE]
       f2b-central tokens list [--json] [--file TOKENS] [--config FILE]
       f2b-central tokens remove NAME [--file TOKENS] [--config FILE]
The tokens \`f2b-central serve\` accepts, one per consumer (a router, Prometheus, a person),
kept in serve.tokensFile (mode 0600) as a name and the token's SHA-256: the token itself is
never stored. \`add\` makes a new random token and prints it once, alone on stdout (or writes
it to --token-file FILE, mode 0600, which must not exist yet); \`remove\` revokes one. serve
picks up a change within a second, without a restart. The file is replaced at once, keeping
its owner (serve's user).
  --file TOKENS  this tokens file instead of serve.tokensFile (the config is then not read)`

export async function run(argv: string[]): Promise<ExitCode> {
  const { values, positionals } = parseCommandArgs('tokens', argv, { 'token-file': { type: 'string' }, file: { type: 'string' }, ...COMMON_OPTIONS }, true)
  if (values.help) {
    print(USAGE)
    return ExitCode.Ok
  }
  const [verb, nameArg, ...extra] = positionals
  if (extra.length > 0) throw usage('tokens', `unexpected argument ${JSON.stringify(extra[0]?.slice(0, 40))}`)
  if (verb !== 'add' && verb !== 'list' && verb !== 'remove') throw usage('tokens', 'expected `add NAME`, `list` or `remove NAME`')
  if (verb === 'list' ? nameArg !== undefined : nameArg === undefined) throw usage('tokens', verb === 'list' ? '`tokens list` takes no NAME' : `\`tokens ${verb}\` needs a NAME`)
  if (verb !== 'add' && values['token-file'] !== undefined) throw usage('tokens', '--token-file goes with `tokens add`')
  const name = nameArg === undefined ? '' : argValue('tokens', () => parseTokenName(nameArg))
  const file = values.file ?? loadConfig({ path: values.config }).serve.tokensFile

  if (verb === 'list') {
    const entries = readTokensFile(file).map((e) => ({ name: e.name, created: e.created || null }))
    if (values.json) printJson(entries)
    else if (entries.length === 0) print(`no tokens in ${file}`)
    else
      print(
        table(
          ['NAME', 'CREATED (UTC)'],
          entries.map((e) => [e.name, e.created?.slice(0, 19).replace('T', ' ') ?? '-']),
        ),
      )
    return ExitCode.Ok
  }
  if (verb === 'remove') {
    if (!removeToken(file, name)) throw new F2bError(`tokens: no token named ${name} in ${file}`, { hint: '`f2b-central tokens list` shows them' })
    warn(`tokens: ${name} removed from ${file}; serve refuses it from the next second`)
    return ExitCode.Ok
  }
  const tokenFile = values['token-file']
  const token = addToken(file, name)
  if (tokenFile === undefined) {
    process.stdout.write(`${token}\n`)
    warn(`tokens: ${name} added to ${file}; the token above is shown this once (only its SHA-256 is kept). Give it to ${name}: Authorization: Bearer TOKEN`)
    return ExitCode.Ok
  }
  try {
    writeNewSecretFile(tokenFile, token)
  } catch (err) {
    // The file holds a token nobody has: take it out again.
    removeToken(file, name)
    throw new F2bError(`tokens: cannot write --token-file ${tokenFile}: ${(err as NodeJS.ErrnoException).code ?? String(err)}; ${name} was not added`, {
      hint: 'name a file that does not exist yet',
    })
  }
  warn(`tokens: ${name} added to ${file}; its token is in ${tokenFile} (mode 0600), nowhere else`)
  return ExitCode.Ok
}
