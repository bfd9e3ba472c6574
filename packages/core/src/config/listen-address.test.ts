import { describe, expect, it } from 'vitest'
import { InvalidValueError } from '../errors.js'
import { formatListenAddress, parseListenAddress } from './listen-address.js'

describe('serve.listen', () => {
  it.each([
    ['127.0.0.1:8700', { host: '127.0.0.1', port: 8700, loopback: true }],
    ['127.8.0.1:1', { host: '127.8.0.1', port: 1, loopback: true }],
    ['0.0.0.0:443', { host: '0.0.0.0', port: 443, loopback: false }],
    ['[::1]:8700', { host: '::1', port: 8700, loopback: true }],
    ['[::]:8700', { host: '::', port: 8700, loopback: false }],
    ['[fd00::5]:0', { host: 'fd00::5', port: 0, loopback: false }],
  ])('%s', (text, parsed) => {
    expect(parseListenAddress(text)).toEqual(parsed)
    expect(formatListenAddress(parsed)).toBe(text)
  })

  it.each(['localhost:8700', '8700', '127.0.0.1', '::1:8700', '[127.0.0.1]:80', '[::1]', '127.0.0.1:65536', '127.0.0.1:-1', '1.2.3.4:80 ', '300.0.0.1:80'])(
    'refuses %j',
    (text) => {
      expect(() => parseListenAddress(text)).toThrow(InvalidValueError)
      expect(() => parseListenAddress(text)).toThrow(/^invalid serve\.listen /)
    },
  )
})
