import type { FleetOverview, HourlyBans } from '../fleet/fleet-overview.js'
import type { HostHealth } from '../fleet/fleet-status.js'
import { formatDuration } from '../time/duration.js'
import { escapeHtml as h } from './html.js'

// Bars for this many jails, the rest as "other" (a color per jail stays readable).
const CHART_JAILS = 6
const COLORS = ['#2563eb', '#dc2626', '#16a34a', '#d97706', '#7c3aed', '#0891b2']
const OTHER_COLOR = '#6b7280'

/** The page's Content-Security-Policy: no script at all, the inline style block, nothing loaded from anywhere. */
export const STATUS_PAGE_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

const CSS = `
:root{color-scheme:light;--line:#e5e7eb;--muted:#6b7280;--bad:#b91c1c;--bad-bg:#fee2e2;--warn:#b45309;--warn-bg:#fef3c7;--ok:#15803d}
*{box-sizing:border-box}
body{margin:0 auto;max-width:1100px;padding:0 12px 32px;font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;color:#111827;background:#fff}
header{padding:14px 0 6px;border-bottom:2px solid #111827;margin-bottom:8px}
h1{font-size:20px;margin:0}
h2{font-size:17px;margin:22px 0 8px}
.summary{margin:4px 0 0;color:var(--muted)}
.summary b{color:#111827}
.scroll{overflow-x:auto;-webkit-overflow-scrolling:touch}
table{border-collapse:collapse;width:100%;font-variant-numeric:tabular-nums}
th,td{text-align:left;padding:6px 8px;border-bottom:1px solid var(--line);white-space:nowrap;vertical-align:top}
th{font-size:13px;color:var(--muted);font-weight:600}
td.num,th.num{text-align:right}
td.text{white-space:normal;min-width:14em;word-break:break-word}
code{font:13px/1.3 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace}
tr.stale td,tr.stuck td{background:var(--bad-bg)}
tr.errors td{background:var(--warn-bg)}
.badge{display:inline-block;padding:0 6px;border-radius:4px;font-size:12px;font-weight:700;letter-spacing:.02em;margin-right:3px}
.badge.stale,.badge.stuck{background:var(--bad);color:#fff}
.badge.errors{background:var(--warn);color:#fff}
.badge.ok{color:var(--ok);border:1px solid var(--ok)}
.none{color:var(--muted);margin:4px 0}
svg{display:block;width:100%;height:auto;max-height:280px}
.legend{list-style:none;padding:0;margin:6px 0 0;display:flex;flex-wrap:wrap;gap:4px 14px;font-size:13px}
.legend i{display:inline-block;width:11px;height:11px;border-radius:2px;margin-right:5px;vertical-align:-1px}
footer{margin-top:28px;color:var(--muted);font-size:12px}
@media (max-width:640px){body{font-size:14px;padding:0 8px 24px}th,td{padding:5px 6px}.wide{display:none}td.text{min-width:9em}}
`

/** `2026-12-01 20:00:00 UTC` */
function utc(iso: string | null): string {
  return iso === null ? '-' : `${iso.slice(0, 19).replace('T', ' ')} UTC`
}

function ago(seconds: number): string {
  return `${formatDuration(seconds)} ago`
}

function hostState(host: HostHealth): string[] {
  const states: string[] = []
  if (host.stale) states.push('stale')
  if (host.cursorAhead || host.stalled) states.push('stuck')
  if (host.errorsLastDay > 0) states.push('errors')
  return states
}

function hostsTable(o: FleetOverview): string {
  const { hosts, staleAfterSeconds } = o.status
  if (hosts.length === 0) return '<p class="none">No hosts registered yet (a host registers with its first add2db or readdb run).</p>'
  const rows = hosts.map((host) => {
    const states = hostState(host)
    const badges = states.length === 0 ? '<span class="badge ok">ok</span>' : states.map((s) => `<span class="badge ${s}">${s.toUpperCase()}</span>`).join('')
    return (
      `<tr class="host ${states.join(' ')}" data-host="${h(host.name)}">` +
      `<td><code>${h(host.name)}</code></td>` +
      `<td>${badges}</td>` +
      `<td title="${h(utc(host.lastSeen))}">${h(ago(host.secondsSinceSeen))}</td>` +
      `<td class="num">${host.pending}</td>` +
      `<td class="num wide">${host.oldestPendingSeconds === null ? '-' : h(formatDuration(host.oldestPendingSeconds))}</td>` +
      `<td class="num">${host.errorsLastDay}</td></tr>`
    )
  })
  return (
    `<div class="scroll"><table id="hosts-table"><thead><tr><th>Host</th><th>State</th><th>Last seen</th><th class="num">Pending</th>` +
    `<th class="num wide">Oldest pending</th><th class="num">Errors 24h</th></tr></thead><tbody>${rows.join('')}</tbody></table></div>` +
    `<p class="none">Stale: not seen for more than ${h(formatDuration(staleAfterSeconds))}. Stuck: seen, but a ban has waited longer than that, or its cursor is past the last stamp.</p>`
  )
}

/** A round top for the y axis: 1, 2 or 5 times a power of ten, at least `max`. */
function axisTop(max: number): number {
  if (max <= 5) return 5
  const p = 10 ** Math.floor(Math.log10(max))
  return [1, 2, 5, 10].map((m) => m * p).find((v) => v >= max) ?? 10 * p
}

/** Stacked bars: one per hour, one segment per jail; an inline SVG (no script, nothing fetched). */
function hourlyChart(hourly: HourlyBans): string {
  const shown = hourly.jails.slice(0, CHART_JAILS)
  const rest = hourly.jails.slice(CHART_JAILS)
  const series = [
    ...shown.map((j, i) => ({ label: j.jail, counts: j.counts, color: COLORS[i % COLORS.length]! })),
    ...(rest.length > 0
      ? [{ label: `other (${rest.length} jails)`, counts: hourly.hours.map((_, i) => rest.reduce((n, j) => n + (j.counts[i] ?? 0), 0)), color: OTHER_COLOR }]
      : []),
  ]
  const totals = hourly.hours.map((_, i) => series.reduce((n, s) => n + (s.counts[i] ?? 0), 0))
  const sum = totals.reduce((a, b) => a + b, 0)
  const top = axisTop(Math.max(0, ...totals))
  const W = 720
  const H = 240
  const left = 44
  const right = 8
  const topPad = 10
  const bottom = 26
  const plotW = W - left - right
  const plotH = H - topPad - bottom
  const slot = plotW / hourly.hours.length
  const y = (v: number) => topPad + plotH - (v / top) * plotH
  const parts: string[] = []
  for (const v of [0, top / 2, top]) {
    parts.push(`<line x1="${left}" x2="${W - right}" y1="${y(v).toFixed(1)}" y2="${y(v).toFixed(1)}" stroke="#e5e7eb"/>`)
    parts.push(`<text x="${left - 6}" y="${(y(v) + 4).toFixed(1)}" text-anchor="end" font-size="12" fill="#6b7280">${h(Number.isInteger(v) ? v : v.toFixed(1))}</text>`)
  }
  hourly.hours.forEach((hour, i) => {
    const x = left + i * slot + slot * 0.12
    let base = 0
    for (const s of series) {
      const n = s.counts[i] ?? 0
      if (n === 0) continue
      const y1 = y(base + n)
      const height = y(base) - y1
      parts.push(
        `<rect class="bar" data-jail="${h(s.label)}" data-hour="${h(hour)}" data-count="${n}" x="${x.toFixed(1)}" y="${y1.toFixed(1)}" width="${(slot * 0.76).toFixed(1)}" height="${Math.max(height, 0.5).toFixed(1)}" fill="${s.color}">` +
          `<title>${h(s.label)}: ${n} ban${n === 1 ? '' : 's'}, ${h(hour.slice(11, 16))} UTC</title></rect>`,
      )
      base += n
    }
    if (i % 6 === 0 || i === hourly.hours.length - 1) {
      parts.push(`<text x="${(left + i * slot + slot / 2).toFixed(1)}" y="${H - 8}" text-anchor="middle" font-size="12" fill="#6b7280">${h(hour.slice(11, 16))}</text>`)
    }
  })
  const legend = series.map((s) => `<li><i style="background:${s.color}"></i>${h(s.label)}</li>`).join('')
  return (
    `<svg id="bans-chart" viewBox="0 0 ${W} ${H}" role="img" aria-label="${sum} bans reported in the last 24 hours, per hour and jail" xmlns="http://www.w3.org/2000/svg">` +
    `${parts.join('')}</svg>` +
    (series.length > 0 ? `<ul class="legend">${legend}</ul>` : '<p class="none">No bans reported in the last 24 hours.</p>')
  )
}

function newestTable(o: FleetOverview): string {
  const { bans, hostCount } = o.newest
  if (bans.length === 0) return '<p class="none">No active bans.</p>'
  const rows = bans.map(
    (b) =>
      `<tr class="ban" data-ip="${h(b.ip)}"><td><code>${h(b.ip)}</code></td><td>${h(b.jail)}</td><td class="num" title="hosts that applied it, of all hosts">${b.appliedHosts}/${hostCount}</td>` +
      `<td title="${h(utc(b.createdAt))}">${h(utc(b.createdAt).slice(0, 16))}</td><td class="wide">${h(b.reporter)}</td>` +
      `<td class="wide">${b.expiresAt === null ? 'permanent' : h(utc(b.expiresAt).slice(0, 16))}</td></tr>`,
  )
  return (
    `<div class="scroll"><table id="newest-table"><thead><tr><th>Address</th><th>Jail</th><th class="num">Applied</th><th>Reported (UTC)</th><th class="wide">Reporter</th>` +
    `<th class="wide">Expires (UTC)</th></tr></thead><tbody>${rows.join('')}</tbody></table></div>`
  )
}

function errorsTable(o: FleetOverview): string {
  if (o.errors.length === 0) return '<p class="none">No errors in the last day.</p>'
  const rows = o.errors.map(
    (e) =>
      `<tr class="error"><td><code>${h(e.host)}</code></td><td class="text">${h(e.error ?? '(no reason recorded)')}</td><td class="num">${e.count}</td>` +
      `<td>${h(utc(e.last).slice(0, 16))}</td><td class="wide"><code>${h(e.example)}</code></td></tr>`,
  )
  return (
    `<div class="scroll"><table id="errors-table"><thead><tr><th>Host</th><th>Reason</th><th class="num">Bans</th><th>Last (UTC)</th><th class="wide">e.g.</th></tr></thead>` +
    `<tbody>${rows.join('')}</tbody></table></div>`
  )
}

function heldTable(o: FleetOverview): string {
  const { held } = o.status
  if (held.length === 0) return '<p class="none">No bans held.</p>'
  const rows = held.map(
    (x) =>
      `<tr class="held"><td><code>${h(x.reporter)}</code></td><td class="num">${x.count}</td><td>${h(utc(x.since).slice(0, 16))}</td><td class="wide">${h(utc(x.newest).slice(0, 16))}</td></tr>`,
  )
  return (
    `<div class="scroll"><table id="held-table"><thead><tr><th>Reporter</th><th class="num">Held</th><th>Since (UTC)</th><th class="wide">Newest (UTC)</th></tr></thead>` +
    `<tbody>${rows.join('')}</tbody></table></div>` +
    '<p class="none">Stored past the reporter\'s flood limit and applied nowhere: <code>f2b-central bans release --reporter HOST</code> or <code>bans drop</code>.</p>'
  )
}

/**
 * The status page: a complete HTML document with its style inline and the chart as inline
 * SVG, so it works where hosts have no Internet; no script. Refreshes itself every 30 s.
 * Every stored value is escaped (escapeHtml).
 */
export function renderStatusPage(o: FleetOverview): string {
  const s = o.status
  const active = o.activeByJail.reduce((n, j) => n + j.n, 0)
  const summary = [
    `<b>${s.hosts.length}</b> host${s.hosts.length === 1 ? '' : 's'}`,
    `<b>${s.staleHosts}</b> stale`,
    `<b>${s.stuckHosts}</b> stuck`,
    `<b>${s.hostsWithErrors}</b> with errors`,
    `<b>${active}</b> active ban${active === 1 ? '' : 's'}`,
    `<b>${s.held.reduce((n, x) => n + x.count, 0)}</b> held`,
  ].join(' · ')
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="refresh" content="30">
<title>f2b-central: ${s.healthy ? 'fleet healthy' : 'fleet needs attention'}</title>
<style>${CSS}</style>
</head>
<body>
<header><h1>f2b-central fleet status</h1><p class="summary">${summary}</p></header>
<main>
<section id="hosts"><h2>Hosts</h2>${hostsTable(o)}</section>
<section id="chart"><h2>Bans reported per hour, last 24 hours</h2>${hourlyChart(o.hourly)}</section>
<section id="newest"><h2>Newest active bans</h2>${newestTable(o)}</section>
<section id="errors"><h2>Errors in the last day</h2>${errorsTable(o)}</section>
<section id="held"><h2>Held bans</h2>${heldTable(o)}</section>
</main>
<footer>As of ${h(utc(s.now))} (the database's clock). Refreshes every 30 seconds.</footer>
</body>
</html>
`
}
