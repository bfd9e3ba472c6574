// npm run demo: three hosts on one machine sharing bans through an embedded SQLite file.
// It runs the real, built add2db / readdb / f2b-central programs exactly as fail2ban and cron
// would. No fail2ban is needed: each host reads its local ban state from a file in fail2ban's
// own database format (empty here, except for one ban that mail-1 already holds), and its
// fail2ban-client calls go to a stand-in that says the shared jail runs (readdb asks before
// it appends) and accepts the unban step.
import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import BetterSqlite3 from 'better-sqlite3'
import { addLocalBan, createFail2banStateDb } from './fail2ban-state-db.mjs'

const root = resolve(import.meta.dirname, '..')
// Each program's entry as its package declares it, so the demo runs what `npx` would.
const bin = (pkg, name) => join(root, 'packages', pkg, JSON.parse(readFileSync(join(root, 'packages', pkg, 'package.json'), 'utf8')).bin[name])
const dir = mkdtempSync(join(tmpdir(), 'f2b-central-demo-'))
const dbFile = join(dir, 'central.sqlite')
const hosts = ['web-1', 'web-2', 'mail-1']
const standIn = join(dir, 'fail2ban-client-stand-in.mjs')
writeFileSync(
  standIn,
  `// Stands in for fail2ban-client: a fail2ban whose shared jail runs. Every other command succeeds.
if (process.argv[2] === 'status' && process.argv.length === 3) console.log('Status\\n|- Number of jail:\\t1\\n\`- Jail list:\\tf2b-central-shared')
`,
)

function run(program, args, label) {
  console.log(
    `$ ${
      label ??
      program
        .split('/')
        .pop()
        .replace(/\.c?js$/, '')
    } ${args.join(' ')}`,
  )
  const out = execFileSync(process.execPath, [program, ...args], { encoding: 'utf8' })
  if (out.trim())
    console.log(
      out
        .trimEnd()
        .split('\n')
        .map((l) => `  ${l}`)
        .join('\n'),
    )
}

function configFor(host) {
  const f2bDb = join(dir, `${host}-fail2ban.sqlite3`)
  createFail2banStateDb(f2bDb)
  const path = join(dir, `${host}.yml`)
  writeFileSync(
    path,
    [
      'database:',
      `  url: sqlite:${dbFile}`,
      'host:',
      `  name: ${host}`,
      'fail2ban:',
      `  database: ${f2bDb}`,
      // No fail2ban here: fail2ban-client calls go to the stand-in.
      `  client: [${JSON.stringify(process.execPath)}, ${JSON.stringify(standIn)}]`,
      `  sharedLog: ${join(dir, `${host}-shared.log`)}`,
      'spool:',
      `  dir: ${join(dir, `${host}-spool`)}`,
      'readdb:',
      `  lockFile: ${join(dir, `${host}-readdb.lock`)}`,
      '',
    ].join('\n'),
    { mode: 0o600 },
  )
  return { path, f2bDb, sharedLog: join(dir, `${host}-shared.log`) }
}

console.log(`demo directory: ${dir}\n`)
const cfg = Object.fromEntries(hosts.map((h) => [h, configFor(h)]))
// mail-1's fail2ban already bans 198.51.100.23 on every port (recidive), banned 10 minutes ago
// for a week: it protects as much as the fleet's one-day ban, so status 2 there.
addLocalBan(cfg['mail-1'].f2bDb, { ip: '198.51.100.23', jail: 'recidive', timeOfBan: Math.floor(Date.now() / 1000) - 600, bantime: 7 * 86400 })

run(bin('cli', 'f2b-central'), ['migrate', '--config', cfg['web-1'].path], 'f2b-central')
for (const h of hosts) run(bin('readdb', 'readdb'), ['--config', cfg[h].path])

console.log('\n# fail2ban on the hosts bans three attackers and its action runs add2db:')
run(bin('add2db', 'add2db'), ['--config', cfg['web-1'].path, '--jail', 'sshd', '--ip', '203.0.113.7', '--port', 'ssh', '--bantime', '3600'])
run(bin('add2db', 'add2db'), ['--config', cfg['mail-1'].path, '-j', 'postfix', '-pr', 'tcp', '-p', 'smtp,submission', '-i', '2001:DB8:0:0::bad'])
run(bin('add2db', 'add2db'), ['--config', cfg['web-2'].path, '--jail', 'nginx-http-auth', '--ip', '198.51.100.23', '--port', 'http,https'])

console.log('\n# each host polls (cron or readdb --daemon does this every few seconds):')
for (const h of hosts) run(bin('readdb', 'readdb'), ['--config', cfg[h].path])

console.log('\n# lines readdb wrote to each shared jail log (fail2ban bans from these):')
for (const h of hosts) {
  let text = ''
  try {
    text = readFileSync(cfg[h].sharedLog, 'utf8')
  } catch {}
  console.log(`${h}:`)
  console.log(
    text.trim()
      ? text
          .trimEnd()
          .split('\n')
          .map((l) => `  ${l}`)
          .join('\n')
      : '  (nothing: it reported or already held everything)',
  )
}

console.log('\n# the audit view, as an operator would query it:')
console.log('#   SELECT ban_id, ip, jail, added_by, host, status FROM ban_host_status ORDER BY ban_id, host')
console.log('#   status: 0 pending, 1 added, 2 already banned recently, 3 error, 4 removed, 5 expired, 6 allowlisted\n')
const audit = (where = '') => {
  const db = new BetterSqlite3(dbFile, { readonly: true })
  console.table(db.prepare(`SELECT ban_id, ip, jail, added_by, host, status FROM ban_host_status ${where} ORDER BY ban_id, host`).all())
  db.close()
}
audit()

console.log('\n# an operator lifts one ban across the fleet; each host takes it out at its next poll (status 4):')
run(bin('cli', 'f2b-central'), ['unban', '203.0.113.7', '--config', cfg['web-1'].path], 'f2b-central')
for (const h of hosts) run(bin('readdb', 'readdb'), ['--config', cfg[h].path])
audit("WHERE ip = '203.0.113.7'")
console.log(`\nEverything is in ${dir}; remove it with: rm -r ${dir}`)
