import { describe, expect, it } from 'vitest'
import { InvalidValueError } from '../errors.js'
import { formatDuration, parseBantimeOption, parseDuration } from './duration.js'
import { parseTimeBound } from './time-bound.js'

describe('parseDuration', () => {
  it.each([
    ['90', 90],
    ['90s', 90],
    ['5m', 300],
    ['1h30m', 5400],
    ['25d', 2160000],
    ['2w', 1209600],
  ])('%s → %d seconds', (text, seconds) => expect(parseDuration(text)).toBe(seconds))

  it.each(['', '0', '0s', '5x', '1.5h', '-1h', 'h', '1h ', '11y', '4000w'])('%j is refused', (text) => {
    expect(() => parseDuration(text, '--older-than')).toThrow(InvalidValueError)
  })

  it('a ban time may also be permanent (-1)', () => {
    expect(parseBantimeOption('permanent')).toBe(-1)
    expect(parseBantimeOption('-1')).toBe(-1)
    expect(parseBantimeOption('1d')).toBe(86400)
  })

  it('formats seconds shortly', () => {
    expect([0, 59, 60, 3599, 3600, 3660, 86400, 90000].map(formatDuration)).toEqual(['0s', '59s', '1m', '59m', '1h', '1h1m', '1d', '1d1h'])
  })
})

describe('parseTimeBound', () => {
  it('takes a duration ago or an ISO time, UTC unless it has an offset', () => {
    expect(parseTimeBound('1h', '--since')).toEqual({ secondsAgo: 3600 })
    expect(parseTimeBound('2026-11-23', '--since')).toEqual({ at: new Date('2026-11-23T00:00:00Z') })
    expect(parseTimeBound('2026-11-23 11:07:49', '--since')).toEqual({ at: new Date('2026-11-23T11:07:49Z') })
    expect(parseTimeBound('2026-11-23T11:07+01:00', '--since')).toEqual({ at: new Date('2026-11-23T10:07:00Z') })
  })
  it.each(['yesterday', '2026-11-23T25:00', '23.11.2026', '2026-11-23T11:07:49 UTC'])('%j is refused', (text) => {
    expect(() => parseTimeBound(text, '--since')).toThrow(InvalidValueError)
  })
})
