import { describe, expect, it } from 'vitest'
import { dbTimeMs, dbTimeToIso, fromDbTime, toDbTime } from './db-time.js'

describe('fromDbTime', () => {
  it.each([
    ['2026-11-23 11:07:49.123', '2026-11-23T11:07:49.123Z'],
    ['2026-11-23 11:07:49', '2026-11-23T11:07:49.000Z'],
    ['2026-11-23T11:07:49.5Z', '2026-11-23T11:07:49.500Z'],
    ['2026-11-23 11:07:49Z', '2026-11-23T11:07:49.000Z'],
    ['2026-11-23 11:07:49.123456', '2026-11-23T11:07:49.123Z'],
    ['2026-11-23 11:07:49.999999', '2026-11-23T11:07:49.999Z'],
    ['2026-11-23 11:07:49.05', '2026-11-23T11:07:49.050Z'],
    ['1970-01-01 00:00:00.000', '1970-01-01T00:00:00.000Z'],
  ])('reads %s as %s', (text, iso) => {
    expect(fromDbTime(text).toISOString()).toBe(iso)
    expect(dbTimeMs(text)).toBe(Date.parse(iso))
  })

  it.each([
    '',
    '2026-11-23',
    '2026-11-23 11:07:4',
    '2026-11-23 11:07:49.',
    '2026-11-23 11:07:49.1234567',
    '2026/11/23 11:07:49',
    '2026-11-23_11:07:49',
    '2026-11-23 11-07-49',
    'x026-11-23 11:07:49',
    '2026-11-23 11:07:49.12a',
    '2026-11-23 11:07:49.123ZZ',
    '2026-11-23 11:07:49 ',
    ' 2026-11-23 11:07:49',
    '2026-1a-23 11:07:49',
    '2026-11-23 11:07:49+01:00',
  ])('refuses %j, naming it', (text) => {
    expect(() => fromDbTime(text)).toThrow(`not a stored timestamp: ${JSON.stringify(text)}`)
    expect(() => dbTimeMs(text)).toThrow(`not a stored timestamp: ${JSON.stringify(text)}`)
  })

  it('reads back what toDbTime wrote, for moments across the years', () => {
    for (let ms = Date.UTC(1999, 11, 31, 23, 59, 59, 999); ms < Date.UTC(2100, 0, 1); ms += 86_400_000 * 37 + 3_600_000 * 5 + 60_007) {
      expect(fromDbTime(toDbTime(new Date(ms))).getTime()).toBe(ms)
    }
  })

  it('dbTimeToIso keeps null and converts text', () => {
    expect(dbTimeToIso(null)).toBeNull()
    expect(dbTimeToIso('2026-11-23 11:07:49.123')).toBe('2026-11-23T11:07:49.123Z')
  })
})
