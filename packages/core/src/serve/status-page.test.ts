import { describe, expect, it } from 'vitest'
import type { FleetOverview } from '../fleet/fleet-overview.js'
import { escapeHtml, printable } from './html.js'
import { renderStatusPage } from './status-page.js'

const hours = Array.from({ length: 24 }, (_, i) => new Date(Date.UTC(2026, 11, 1, i)).toISOString())
const hostile = '"><script>alert(1)</script>'

function overview(over: Partial<FleetOverview> = {}): FleetOverview {
  return {
    status: {
      now: '2026-12-01T23:30:00.000Z',
      staleAfterSeconds: 300,
      hosts: [
        {
          name: 'web-1',
          lastSeen: '2026-12-01T23:29:58.000Z',
          secondsSinceSeen: 2,
          pending: 0,
          oldestPendingAt: null,
          oldestPendingSeconds: null,
          errorsLastDay: 0,
          stale: false,
          cursorAhead: false,
          stalled: false,
          pendingWithErrors: 0,
          latestPendingError: null,
        },
        {
          name: hostile,
          lastSeen: '2026-12-01T20:00:00.000Z',
          secondsSinceSeen: 12600,
          pending: 4,
          oldestPendingAt: '2026-12-01T21:00:00.000Z',
          oldestPendingSeconds: 9000,
          errorsLastDay: 2,
          stale: true,
          cursorAhead: false,
          stalled: false,
          pendingWithErrors: 0,
          latestPendingError: null,
        },
      ],
      staleHosts: 1,
      hostsWithErrors: 1,
      stuckHosts: 0,
      hostsRetrying: 0,
      held: [{ reporter: 'web-1', count: 3, since: '2026-12-01T22:00:00.000Z', newest: '2026-12-01T22:01:00.000Z' }],
      healthy: false,
    },
    hourly: { hours, jails: [{ jail: `sshd${hostile}`, counts: hours.map((_, i) => i % 5), total: 46 }] },
    newest: {
      bans: [
        {
          id: 1,
          ip: '192.0.2.7',
          jail: hostile,
          protocol: 'tcp',
          port: 'ssh',
          reporter: 'web-1',
          bantime: 600,
          createdAt: '2026-12-01T23:00:00.000Z',
          expiresAt: null,
          appliedHosts: 1,
        },
      ],
      hostCount: 2,
      truncated: false,
    },
    errors: [{ host: 'web-1', error: hostile, count: 2, last: '2026-12-01T23:10:00.000Z', example: '192.0.2.7' }],
    activeByJail: [{ jail: 'sshd', n: 5 }],
    ...over,
  }
}

describe('the status page', () => {
  it('escapes every stored value: nothing hostile becomes markup', () => {
    const page = renderStatusPage(overview())
    expect(page).not.toContain('<script')
    expect(page.match(/&quot;&gt;&lt;script&gt;alert\(1\)&lt;\/script&gt;/g)?.length).toBeGreaterThanOrEqual(5)
    expect(page).toContain('<tr class="host stale errors" data-host="&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;">')
    expect(page).toContain('<span class="badge stale">STALE</span>')
  })

  it('draws one bar segment per hour with bans, and an empty chart says so', () => {
    const page = renderStatusPage(overview())
    expect(page.match(/<rect class="bar"/g)).toHaveLength(hours.filter((_, i) => i % 5 !== 0).length)
    expect(page).toMatch(/aria-label="46 bans reported in the last 24 hours/)
    const empty = renderStatusPage(overview({ hourly: { hours, jails: [] } }))
    expect(empty).not.toContain('<rect')
    expect(empty).toContain('No bans reported in the last 24 hours.')
  })

  it('escapes for HTML and quotes unprintable labels', () => {
    expect(escapeHtml(`<a href="x">'&'</a>`)).toBe('&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;')
    expect(printable('web-1')).toBe('web-1')
    expect(printable('a\nb')).toBe('"a\\nb"')
    expect(printable('é')).toBe('"é"')
  })
})
