import { parsePythonLiteral, type PythonValue } from './python-literal.js'

/** A jail's filter as fail2ban's configuration defines it (from `fail2ban-client -d`). */
export interface JailFilterDefinition {
  readonly failregex: readonly string[]
  readonly ignoreregex: readonly string[]
  readonly prefregex: string | undefined
  readonly datepattern: string | undefined
  readonly maxlines: number | undefined
}

/**
 * Read one jail's filter from `fail2ban-client -d` output (one Python list per line, such as
 * `['set', 'sshd', 'addfailregex', '^…$']`): regexes with their tags (`<HOST>`, `<F-…>`) still
 * in, as a filter file holds them. Undefined when the dump has no such jail.
 */
export function readJailFilter(dump: string, jail: string): JailFilterDefinition | undefined {
  let found = false
  const failregex: string[] = []
  const ignoreregex: string[] = []
  let prefregex: string | undefined
  let datepattern: string | undefined
  let maxlines: number | undefined
  for (const line of dump.split('\n')) {
    if (!line.startsWith('[')) continue
    const cmd = parsePythonLiteral(line.trim())
    if (!Array.isArray(cmd) || cmd[1] !== jail) continue
    const [verb, , key, value] = cmd as [PythonValue, PythonValue, PythonValue, PythonValue]
    if (verb === 'add') found = true
    if (verb !== 'set') continue
    if (key === 'addfailregex' && typeof value === 'string') failregex.push(value)
    else if (key === 'addignoreregex' && typeof value === 'string') ignoreregex.push(value)
    else if (key === 'prefregex' && typeof value === 'string') prefregex = value
    else if (key === 'datepattern' && typeof value === 'string') datepattern = value
    else if (key === 'maxlines' && typeof value === 'number') maxlines = value
  }
  return found ? { failregex, ignoreregex, prefregex, datepattern, maxlines } : undefined
}

/**
 * A filter.d file holding `filter`, for fail2ban-regex. Values are written as fail2ban reads
 * them back: `%` doubled (the files go through Python's interpolation), one regex a line.
 */
export function renderFilterFile(filter: JailFilterDefinition): string {
  const esc = (v: string) => v.replace(/%/g, '%%')
  const multi = (key: string, values: readonly string[]) => (values.length === 0 ? `${key} =` : `${key} = ${values.map(esc).join('\n    ')}`)
  const lines = ['[Definition]', multi('failregex', filter.failregex), multi('ignoreregex', filter.ignoreregex)]
  if (filter.prefregex !== undefined) lines.push(`prefregex = ${esc(filter.prefregex)}`)
  if (filter.datepattern !== undefined) lines.push(`datepattern = ${esc(filter.datepattern)}`)
  if (filter.maxlines !== undefined) lines.push('[Init]', `maxlines = ${filter.maxlines}`)
  return `${lines.join('\n')}\n`
}
