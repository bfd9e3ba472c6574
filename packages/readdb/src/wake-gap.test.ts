import { describe, expect, it } from 'vitest'
import { MAX_IDLE_WAKE_INTERVAL_MS, MIN_WAKE_INTERVAL_MS, WakeGap } from './wake-gap.js'

describe('WakeGap', () => {
  it('starts at the minimum, and polls that find work keep it there', () => {
    const gap = new WakeGap()
    expect(gap.ms).toBe(MIN_WAKE_INTERVAL_MS)
    for (let i = 0; i < 10; i++) gap.afterPoll(true, true)
    expect(gap.ms).toBe(MIN_WAKE_INTERVAL_MS)
  })

  it('doubles after each idle wake-up poll up to the ceiling (a forged flood), and one poll with work resets it', () => {
    const gap = new WakeGap()
    const seen: number[] = []
    for (let i = 0; i < 8; i++) {
      gap.afterPoll(true, false)
      seen.push(gap.ms)
    }
    expect(seen).toEqual([500, 1000, 2000, 4000, 4000, 4000, 4000, 4000])
    expect(Math.max(...seen)).toBe(MAX_IDLE_WAKE_INTERVAL_MS)
    gap.afterPoll(false, true)
    expect(gap.ms).toBe(MIN_WAKE_INTERVAL_MS)
  })

  it('an idle scheduled poll says nothing about wake-ups: the gap stays', () => {
    const gap = new WakeGap()
    gap.afterPoll(true, false)
    gap.afterPoll(false, false)
    expect(gap.ms).toBe(500)
  })
})
