// The status page of `f2b-central serve` in a real browser: Debian's chromium, headless,
// driven by playwright-core, logging in as a browser does (the token as the password of the
// Basic prompt), against a seeded fleet: the hosts table with a stale and a stuck host, a
// ban row with how many hosts applied it, the chart, errors and held bans; then the same
// page on a phone-sized screen, which must not scroll sideways. Screenshots are saved as
// test artifacts (the path is printed); F2B_DOCS_SCREENSHOT=1 also writes
// docs/serve-status-page.png, the README's picture.
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { sql } from 'kysely'
import { chromium, type Browser } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { CentralDb } from '@f2b-central/core/db/db-adapter'
import { migrateToLatest } from '@f2b-central/core/db/migrate'
import { openSqlite } from '@f2b-central/core/db/sqlite/sqlite-database'
import { BanStatus } from '@f2b-central/core/schema/ban-status'
import { requirePrograms } from '../scripts/test-machine.mjs'
import { at, DAY, HOUR, MINUTE, seedBan, seedHosts, seedStatus } from './setup/operator.js'
import { ROOT } from './setup/programs.js'
import { addToken, startServeProcess, writeServeConfig, type ServeProcess } from './setup/serve.js'

const CHROMIUM = '/usr/bin/chromium'
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync']
const ARTIFACTS = join(tmpdir(), 'f2b-central-test-artifacts')
const NEWEST = '203.0.113.45'

/** A day of a small fleet: four jails, bans every hour (more at night), a few hosts behind. */
async function seedFleet(central: CentralDb): Promise<void> {
  const ids = await seedHosts(central, [
    { name: 'web-1.example.org' },
    { name: 'web-2.example.org' },
    { name: 'mail-1.example.org', seen: -20 },
    { name: 'db-1.example.org', seen: -3 * HOUR },
    { name: 'backup-1.example.org', seen: -8 },
  ])
  const hosts = Object.values(ids)
  const jails: [string, number][] = [
    ['sshd', 9],
    ['nginx-http-auth', 4],
    ['postfix-sasl', 3],
    ['recidive', 1],
  ]
  let n = 0
  for (let hour = 23; hour >= 0; hour--) {
    const night = hour > 14 && hour < 20 ? 2 : 1
    for (const [jail, perHour] of jails) {
      const count = Math.max(0, Math.round(perHour * night * (0.6 + ((hour * 7 + jail.length) % 5) / 5)))
      for (let i = 0; i < count; i++) {
        n++
        const ip = n % 9 === 0 ? `2001:db8:${(n >> 8) & 0xff}::${(n & 0xff).toString(16)}` : `${['192.0.2', '198.51.100', '203.0.113'][n % 3]}.${(n * 37) % 250}`
        await seedBan(central, { ip, jail, reporterId: hosts[n % 3]!, created: -hour * HOUR - ((i * 13) % 55) * MINUTE - 30, expires: DAY })
      }
    }
  }
  // Those were applied everywhere, by the stale host only until it went away.
  await sql`INSERT INTO ban_status (host_id, ban_id, status) SELECT h.id, b.id, ${BanStatus.Added} FROM bans b CROSS JOIN hosts h
            WHERE h.name <> 'db-1.example.org' OR b.created_at < ${at(-3 * HOUR)}`.execute(central.db)
  // The newest bans: applied by most hosts, not by the one that is behind.
  for (let i = 0; i < 6; i++) {
    const id = await seedBan(central, {
      ip: i === 0 ? NEWEST : `198.51.100.${200 + i}`,
      jail: i % 2 ? 'nginx-http-auth' : 'sshd',
      reporterId: ids['web-1.example.org']!,
      created: -i * 40 - 5,
      expires: i === 3 ? null : DAY,
    })
    for (const name of ['web-1.example.org', 'web-2.example.org', 'mail-1.example.org', 'backup-1.example.org'].slice(0, 4 - (i % 2))) {
      await seedStatus(central, id, ids[name]!, name === 'web-1.example.org' ? BanStatus.Added : BanStatus.AlreadyBanned)
    }
  }
  // A host that cannot apply: its errors, with their reasons.
  for (let i = 0; i < 3; i++) {
    const id = await seedBan(central, { ip: `192.0.2.${230 + i}`, reporterId: ids['web-2.example.org']!, created: -2 * HOUR - i * 60 })
    await seedStatus(central, id, ids['mail-1.example.org']!, BanStatus.Error, {
      updated: -HOUR - i * 60,
      error: 'shared log /var/log/f2b-central/shared.log: EACCES (permission denied)',
    })
  }
  const bad = await seedBan(central, { ip: '198.51.100.250', reporterId: ids['web-2.example.org']!, created: -50 * MINUTE })
  await seedStatus(central, bad, ids['mail-1.example.org']!, BanStatus.Error, { updated: -40 * MINUTE, error: 'invalid jail "<b>x</b>": a planted row' })
  // Seen a moment ago, yet a ban has waited for it for an hour: stuck.
  const waiting = await seedBan(central, { ip: '203.0.113.201', reporterId: ids['web-1.example.org']!, created: -HOUR })
  for (const name of ['web-1.example.org', 'web-2.example.org', 'mail-1.example.org']) await seedStatus(central, waiting, ids[name]!, BanStatus.Added)
  // Every ban stamped, as the pollers leave them; each host's cursor at the top, but for the
  // stuck one (just below the waiting ban) and the stale one (a long way behind).
  await central.db
    .updateTable('bans')
    .set((eb) => ({ seq: eb.ref('id') }))
    .execute()
  await central.db.updateTable('ban_sequence').set({ value: waiting }).where('id', '=', 1).execute()
  await central.db.updateTable('hosts').set({ cursor_seq: waiting }).execute()
  await central.db
    .updateTable('hosts')
    .set({ cursor_seq: waiting - 1 })
    .where('name', '=', 'backup-1.example.org')
    .execute()
  await central.db
    .updateTable('hosts')
    .set({ cursor_seq: waiting - 40 })
    .where('name', '=', 'db-1.example.org')
    .execute()
  // A burst held past web-2's flood limit.
  for (let i = 0; i < 12; i++) {
    const id = await seedBan(central, { ip: `198.18.0.${i * 3 + 1}`, reporterId: ids['web-2.example.org']!, created: -15 * MINUTE })
    await central.db
      .updateTable('bans')
      .set({ held_at: at(-15 * MINUTE + i) })
      .where('id', '=', id)
      .execute()
  }
}

describe('the status page in headless Chromium', () => {
  let dir: string
  let central: CentralDb
  let serve: ServeProcess
  let token: string
  let browser: Browser

  beforeAll(async () => {
    requirePrograms('chromium')
    dir = mkdtempSync(join(tmpdir(), 'f2b-browser-'))
    mkdirSync(ARTIFACTS, { recursive: true })
    central = openSqlite(join(dir, 'central.sqlite'), { timeoutMs: 5000 })
    await migrateToLatest(central)
    await seedFleet(central)
    const config = writeServeConfig({ dir, dbUrl: `sqlite:${join(dir, 'central.sqlite')}` })
    token = await addToken(join(dir, 'serve-tokens'), 'ops')
    serve = await startServeProcess(config)
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS, headless: true })
  })
  afterAll(async () => {
    await browser?.close()
    await serve?.stop()
    await central?.close()
    if (dir) rmSync(dir, { recursive: true, force: true })
  })

  it('logs in with the token, shows the hosts (stale and stuck ones stand out), a ban row, the chart, errors and held bans', async () => {
    const context = await browser.newContext({ httpCredentials: { username: 'ops', password: token }, viewport: { width: 1280, height: 900 } })
    const page = await context.newPage()
    const requested: string[] = []
    page.on('request', (r) => requested.push(r.url()))
    const response = await page.goto(`${serve.url}/`)
    expect(response?.status()).toBe(200)
    expect(await page.title()).toBe('f2b-central: fleet needs attention')

    const hosts = page.locator('#hosts-table tbody tr')
    expect(await hosts.count()).toBe(5)
    const stale = page.locator('tr.host[data-host="db-1.example.org"]')
    await expect.poll(() => stale.getAttribute('class')).toBe('host stale')
    expect(await stale.locator('.badge').textContent()).toBe('STALE')
    expect(await stale.locator('td').nth(2).textContent()).toBe('3h ago')
    // it stands out: its cells are tinted
    const background = (host: string) => page.evaluate<string>(`getComputedStyle(document.querySelector('tr.host[data-host="${host}"] td')).backgroundColor`)
    expect(await background('db-1.example.org')).toBe('rgb(254, 226, 226)')
    expect(await background('web-1.example.org')).toBe('rgba(0, 0, 0, 0)')
    // held bans are not pending anywhere: a host that is up to date has nothing pending
    expect(await page.locator('tr.host[data-host="web-1.example.org"] td').nth(3).textContent()).toBe('0')
    expect(await page.locator('tr.host[data-host="backup-1.example.org"] .badge').allInnerTexts()).toEqual(['STUCK'])
    expect(await page.locator('tr.host[data-host="mail-1.example.org"] .badge').allInnerTexts()).toEqual(['ERRORS'])

    const ban = page.locator(`tr.ban[data-ip="${NEWEST}"]`)
    expect(await ban.isVisible()).toBe(true)
    const minute = expect.stringMatching(/^\d{4}-\d\d-\d\d \d\d:\d\d$/)
    expect(await ban.locator('td').allInnerTexts()).toEqual([NEWEST, 'sshd', '4/5', minute, 'web-1.example.org', minute])

    const chart = page.locator('#bans-chart')
    expect(await chart.isVisible()).toBe(true)
    expect((await chart.boundingBox())!.width).toBeGreaterThan(600)
    expect(await page.locator('#bans-chart rect.bar').count()).toBeGreaterThan(60)
    expect(await page.locator('#chart .legend li').allInnerTexts()).toEqual(['sshd', 'nginx-http-auth', 'postfix-sasl', 'recidive'])

    expect(await page.locator('#errors-table tbody tr').count()).toBe(2)
    expect(await page.locator('#errors-table').textContent()).toContain('invalid jail "<b>x</b>": a planted row')
    expect(await page.locator('#errors-table b').count()).toBe(0)
    expect(await page.locator('#held-table tbody tr').allInnerTexts()).toEqual([expect.stringMatching(/^web-2\.example\.org\s+12\s/)])

    // nothing but the page itself: no script, no CDN
    expect(await page.evaluate<number>('document.scripts.length')).toBe(0)
    expect(requested.every((u) => u.startsWith(serve.url))).toBe(true)

    const shot = join(ARTIFACTS, 'serve-status-page.png')
    await page.screenshot({ path: shot, fullPage: true })
    if (process.env.F2B_DOCS_SCREENSHOT === '1') await page.screenshot({ path: join(ROOT, 'docs/serve-status-page.png'), fullPage: true })
    console.info(`status page screenshot: ${shot}`)
    await context.close()
  })

  it('is readable on a phone: nothing wider than the screen, wide tables scroll inside their box', async () => {
    const context = await browser.newContext({
      httpCredentials: { username: 'ops', password: token },
      viewport: { width: 390, height: 844 },
      deviceScaleFactor: 2,
      isMobile: true,
      hasTouch: true,
    })
    const page = await context.newPage()
    expect((await page.goto(`${serve.url}/`))?.status()).toBe(200)
    const widths = await page.evaluate<{ page: number; screen: number; font: string }>(
      '({ page: document.documentElement.scrollWidth, screen: window.innerWidth, font: getComputedStyle(document.body).fontSize })',
    )
    expect(widths.page).toBeLessThanOrEqual(widths.screen)
    expect(widths.font).toBe('14px')
    expect((await page.locator('#bans-chart').boundingBox())!.width).toBeLessThanOrEqual(390)
    // what matters most is on the screen without scrolling sideways: which hosts are behind, and how many hosts applied a ban
    for (const badge of ['tr.host.stale .badge', 'tr.host.stuck .badge', `tr.ban[data-ip="${NEWEST}"] td.num`]) {
      const box = (await page.locator(badge).boundingBox())!
      expect(box.x + box.width, badge).toBeLessThanOrEqual(390)
    }
    const shot = join(ARTIFACTS, 'serve-status-page-phone.png')
    await page.screenshot({ path: shot, fullPage: true })
    console.info(`status page screenshot (phone): ${shot}`)
    await context.close()
  })

  it('without the login, the browser is asked for one and shown nothing', async () => {
    const context = await browser.newContext()
    const page = await context.newPage()
    // no credentials to answer the Basic challenge with: the navigation fails
    await expect(page.goto(`${serve.url}/`)).rejects.toThrow(/ERR_INVALID_AUTH_CREDENTIALS/)
    const r = await context.request.get(`${serve.url}/`)
    expect(r.status()).toBe(401)
    expect(r.headers()['www-authenticate']).toMatch(/^Basic realm="f2b-central"/)
    expect(await r.text()).toBe('unauthorized\n')
    await context.close()
  })
})
