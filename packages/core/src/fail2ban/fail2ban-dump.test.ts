import { describe, expect, it } from 'vitest'
import { Fail2banError } from '../errors.js'
import { readJailFilter, renderFilterFile } from './fail2ban-dump.js'
import { parsePythonLiteral } from './python-literal.js'

// Lines as fail2ban-client -d prints them (fail2ban 1.0.2).
const DUMP = String.raw`['set', 'loglevel', 'INFO']
['add', 'f2b-central-shared', 'auto']
['set', 'f2b-central-shared', 'usedns', 'no']
['set', 'f2b-central-shared', 'addfailregex', '^ f2b-central: ban (?P<ip4>[0-9.]+) jail=<F-ORIGIN_JAIL>[A-Za-z0-9_.-]{1,64}</F-ORIGIN_JAIL>$']
['set', 'f2b-central-shared', 'datepattern', '{^LN-BEG}%Y-%Exm-%Exd %ExH:%ExM:%ExS (?P<z>\\+0000)']
['set', 'f2b-central-shared', 'maxretry', 1]
['multi-set', 'sshd', 'action', 'f2b-central', [['actionban', "/usr/local/bin/add2db --jail '<name>'"], ['norestored', True]]]
['add', 'sshd', 'polling']
['set', 'sshd', 'addfailregex', "^ it's <HOST>$"]`

describe('parsePythonLiteral', () => {
  it('reads lists, strings with escapes and both quotes, numbers, booleans and None', () => {
    expect(parsePythonLiteral(`['a\\\\b', "it's", 'tab\\there', 1, -2.5, True, False, None, ['x', ('y',)]]`)).toEqual([
      'a\\b',
      "it's",
      'tab\there',
      1,
      -2.5,
      true,
      false,
      null,
      ['x', ['y']],
    ])
    expect(parsePythonLiteral(`'\\x41\\u00e9'`)).toBe('Aé')
  })
  it.each([`['a'`, `'open`, `[1 2]`, `['a'] extra`, `{'a': 1}`])('%j is refused', (text) => {
    expect(() => parsePythonLiteral(text)).toThrow(Fail2banError)
  })
})

describe('readJailFilter / renderFilterFile', () => {
  it("takes a jail's regexes and date pattern as the dump gives them", () => {
    expect(readJailFilter(DUMP, 'f2b-central-shared')).toEqual({
      failregex: ['^ f2b-central: ban (?P<ip4>[0-9.]+) jail=<F-ORIGIN_JAIL>[A-Za-z0-9_.-]{1,64}</F-ORIGIN_JAIL>$'],
      ignoreregex: [],
      prefregex: undefined,
      datepattern: '{^LN-BEG}%Y-%Exm-%Exd %ExH:%ExM:%ExS (?P<z>\\+0000)',
      maxlines: undefined,
    })
    expect(readJailFilter(DUMP, 'sshd')?.failregex).toEqual(["^ it's <HOST>$"])
    expect(readJailFilter(DUMP, 'nginx')).toBeUndefined()
  })
  it('writes a filter file with % doubled for fail2ban to read back', () => {
    expect(renderFilterFile({ failregex: ['^a <HOST>$', '^b <HOST>$'], ignoreregex: [], prefregex: undefined, datepattern: '%Y-%m-%d', maxlines: undefined })).toBe(
      '[Definition]\nfailregex = ^a <HOST>$\n    ^b <HOST>$\nignoreregex =\ndatepattern = %%Y-%%m-%%d\n',
    )
  })
})
