/**
 * Wake-ups start a poll at most this often (4 a second). A burst of them is coalesced into the
 * next poll.
 */
export const MIN_WAKE_INTERVAL_MS = 250
/**
 * A wake-up poll that finds nothing to do doubles the gap before the next one, up to this;
 * the first poll that finds work brings it back to MIN_WAKE_INTERVAL_MS. Anyone who can
 * publish to the topic can send wake-ups, and every host polls on each: a sustained flood of
 * forged ones then costs each host a poll every 4 s, about what a 4 s schedule costs the
 * database at any fleet size, instead of 4 polls a second on every host. A real ban during a
 * flood waits at most this long (still well inside the fallback schedule).
 */
export const MAX_IDLE_WAKE_INTERVAL_MS = 4000

/** The gap a wake-up keeps after the last poll's start. */
export class WakeGap {
  #ms = MIN_WAKE_INTERVAL_MS

  get ms(): number {
    return this.#ms
  }

  /** After each poll: `byWake` whether a wake-up started it; `didWork` false when it found nothing. */
  afterPoll(byWake: boolean, didWork: boolean): void {
    if (didWork) this.#ms = MIN_WAKE_INTERVAL_MS
    else if (byWake) this.#ms = Math.min(MAX_IDLE_WAKE_INTERVAL_MS, this.#ms * 2)
  }
}
