import { F2bError } from '../errors.js'
import type { Fail2banClient } from './fail2ban-client.js'
import { ask } from './fail2ban-socket.js'

/**
 * Whether a line appended to the shared log now will be acted on: null when the local
 * fail2ban answers and runs the shared jail, else why not. A line written while fail2ban is
 * down is skipped when it comes back (older than the jail's findtime), and one written while
 * the jail is stopped is never read: either way the ban would be recorded as applied and
 * never be.
 */
export type SharedJailCheck = () => Promise<string | null>

/** The check through fail2ban-client: one `status` call (a Python start, about 0.1–0.3 s). */
export function sharedJailCheck(client: Fail2banClient, jail: string): SharedJailCheck {
  return async () => {
    let running: string[]
    try {
      running = await client.jails()
    } catch (err) {
      if (!(err instanceof F2bError)) throw err
      return `fail2ban is not answering: ${err.message}`
    }
    return running.includes(jail) ? null : `the shared jail ${jail} is not running (fail2ban runs: ${running.join(', ') || 'no jail'})`
  }
}

/**
 * The same check on fail2ban's socket (fail2ban.client is `fail2ban-client -s SOCKET`): one
 * `status` request, answered in milliseconds instead of a Python start per poll.
 */
export function socketJailCheck(socket: string, jail: string, timeoutMs: number): SharedJailCheck {
  return async () => {
    let strings: string[]
    try {
      strings = await ask(socket, ['status'], timeoutMs)
    } catch (err) {
      if (!(err instanceof F2bError)) throw err
      return `fail2ban is not answering: ${err.message}`
    }
    const list = strings[strings.indexOf('Jail list') + 1] ?? ''
    const running = strings.includes('Jail list')
      ? list
          .split(',')
          .map((j) => j.trim())
          .filter(Boolean)
      : []
    return running.includes(jail) ? null : `the shared jail ${jail} is not running (fail2ban runs: ${running.join(', ') || 'no jail'})`
  }
}
