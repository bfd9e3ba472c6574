/** One line of `f2b-central check`. */
export interface CheckResult {
  /** What was checked, e.g. `database`, `shared jail`. */
  readonly name: string
  /** `skip`: not checked because something it needs failed. */
  readonly status: 'ok' | 'fail' | 'skip'
  /** What was found. */
  readonly detail: string
  /** What to do about a failure. */
  readonly hint?: string | undefined
}

export const ok = (name: string, detail: string): CheckResult => ({ name, status: 'ok', detail })
export const fail = (name: string, detail: string, hint?: string): CheckResult => ({ name, status: 'fail', detail, hint })
export const skip = (name: string, because: string): CheckResult => ({ name, status: 'skip', detail: `not checked: ${because}` })
