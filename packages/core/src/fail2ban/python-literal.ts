import { Fail2banError } from '../errors.js'

/** A value of the Python literals `fail2ban-client -d` prints: str, int, float, bool, None, list, tuple. */
export type PythonValue = string | number | boolean | null | PythonValue[]

const SIMPLE_ESCAPES: Record<string, string> = { '\\': '\\', "'": "'", '"': '"', n: '\n', r: '\r', t: '\t', a: '\x07', b: '\b', f: '\f', v: '\v', '0': '\0' }

/**
 * Parse one Python literal as `repr()` writes it (`['set', 'jail', 'addfailregex', '^ x\\.y']`).
 * Enough for fail2ban's config dump; anything else throws Fail2banError.
 */
export function parsePythonLiteral(text: string): PythonValue {
  let i = 0
  const fail = (what: string): never => {
    throw new Fail2banError(`cannot read fail2ban-client -d output: ${what} at ${i} in ${JSON.stringify(text.slice(0, 120))}`)
  }
  const skip = () => {
    while (i < text.length && /\s/.test(text[i]!)) i++
  }
  const value = (): PythonValue => {
    skip()
    const c = text[i]
    if (c === '[' || c === '(') return sequence(c === '[' ? ']' : ')')
    if (c === "'" || c === '"') return string(c)
    const word = /^(True|False|None|-?[0-9]+(?:\.[0-9]+)?)/.exec(text.slice(i))
    if (!word) return fail('unexpected character')
    i += word[0].length
    return word[0] === 'True' ? true : word[0] === 'False' ? false : word[0] === 'None' ? null : Number(word[0])
  }
  const sequence = (close: string): PythonValue[] => {
    i++
    const items: PythonValue[] = []
    for (;;) {
      skip()
      if (text[i] === close) {
        i++
        return items
      }
      items.push(value())
      skip()
      if (text[i] === ',') i++
      else if (text[i] !== close) fail(`expected , or ${close}`)
    }
  }
  const string = (quoteChar: string): string => {
    i++
    let out = ''
    for (;;) {
      const c = text[i]
      if (c === undefined) return fail('unterminated string')
      i++
      if (c === quoteChar) return out
      if (c !== '\\') {
        out += c
        continue
      }
      const e = text[i++] ?? ''
      if (e in SIMPLE_ESCAPES) out += SIMPLE_ESCAPES[e]
      else if (e === 'x' || e === 'u' || e === 'U') {
        const len = e === 'x' ? 2 : e === 'u' ? 4 : 8
        const hex = text.slice(i, i + len)
        if (!/^[0-9a-fA-F]+$/.test(hex) || hex.length !== len) fail('bad escape')
        out += String.fromCodePoint(parseInt(hex, 16))
        i += len
      } else out += `\\${e}`
    }
  }
  const result = value()
  skip()
  if (i !== text.length) fail('trailing text')
  return result
}
