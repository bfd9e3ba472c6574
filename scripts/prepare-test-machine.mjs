// `npm test`'s preparation (the pretest script): makes this machine able to run the whole
// suite, or fails at once saying what is missing and the command that fixes it.
//
// - Every program of scripts/test-machine.mjs must be found. When some are missing and this
//   runs as root where apt-get exists, it installs their packages (one line says which);
//   otherwise it fails with the apt-get command that installs them.
// - A running system fail2ban (Debian's package starts one) is stopped: the tests run their
//   own private servers and never use it.
// - The local MariaDB is started when it is installed and down, unless F2B_TEST_MYSQL_URL
//   names a server on another machine. Unless F2B_REQUIRE_MYSQL=0 lets the run test SQLite
//   only, the test account must be able to log in: on a MariaDB this script has just installed,
//   root is let in over TCP from this machine without a password (Debian's default allows
//   root only through the unix socket).
// - Mosquitto is started when it is installed and nothing listens on 127.0.0.1:1883.
//
// With nothing to do it runs no apt-get and takes a fraction of a second.
import { spawnSync } from 'node:child_process'
import { mkdirSync, readFileSync } from 'node:fs'
import { connect } from 'node:net'
import { findProgram, installCommand, mysqlRequired, packagesFor, PROGRAMS } from './test-machine.mjs'

const DEFAULT_MYSQL_URL = 'mysql://root@127.0.0.1:3306/mysql'
const isRoot = process.getuid?.() === 0

const say = (line) => process.stdout.write(`prepare: ${line}\n`)
function fail(line) {
  process.stderr.write(`prepare: ${line}\n`)
  process.exit(1)
}
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

/** Runs a program to its end; its exit status and output, never a throw. */
function run(file, args, options = {}) {
  const r = spawnSync(file, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 60_000, ...options })
  return { ok: r.status === 0, out: `${r.stdout ?? ''}${r.stderr ?? ''}${r.error ? r.error.message : ''}`.trim() }
}
const lastLine = (text) => text.split('\n').filter(Boolean).pop() ?? ''

// 1. Programs and their packages.
const needed = PROGRAMS.filter((p) => !p.mysql || mysqlRequired()).map((p) => p.program)
const missing = () => needed.filter((p) => !findProgram(p))
const wanted = missing()
let installed = []
if (wanted.length > 0) {
  const pkgs = packagesFor(wanted)
  const what = `${wanted.join(', ')} (package${pkgs.length > 1 ? 's' : ''} ${pkgs.join(' ')})`
  if (!findProgram('apt-get')) fail(`missing ${what}, and this is not Debian (no apt-get): install what provides them, then run npm test again`)
  if (!isRoot) fail(`missing ${what}: run \`sudo ${installCommand(wanted)}\`, or npm test as root`)
  say(`installing ${pkgs.join(' ')} (missing: ${wanted.join(', ')})`)
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' }
  const update = run('apt-get', ['update', '-qq'], { env, timeout: 600_000 })
  if (!update.ok) fail(`apt-get update failed: ${lastLine(update.out)}`)
  const install = run('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...pkgs], { env, timeout: 1_200_000 })
  if (!install.ok) fail(`\`${installCommand(wanted)}\` failed: ${lastLine(install.out)}`)
  const still = missing()
  if (still.length > 0) fail(`still missing after installing ${pkgs.join(' ')}: ${still.join(', ')}`)
  installed = pkgs
}

// 2. The system fail2ban, if one runs.
const systemPid = (() => {
  try {
    const pid = Number(readFileSync('/run/fail2ban/fail2ban.pid', 'utf8').trim())
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('fail2ban-server') ? pid : undefined
  } catch {
    return undefined
  }
})()
if (systemPid !== undefined) {
  say(`stopping the system fail2ban (pid ${systemPid}): the tests run their own servers and never use it`)
  const stop = run('fail2ban-client', ['stop'], { timeout: 30_000 })
  if (!stop.ok) fail(`\`fail2ban-client stop\` failed: ${lastLine(stop.out)}`)
}

// 3. MariaDB. Without F2B_REQUIRE_MYSQL=0 it must be installed (step 1), run and let the test
// account in; with it, an installed one is still started, and the rest is global-setup's warning.
let mysqlUrl
try {
  mysqlUrl = new URL(process.env.F2B_TEST_MYSQL_URL ?? DEFAULT_MYSQL_URL)
} catch {
  fail(`F2B_TEST_MYSQL_URL is not a URL such as ${DEFAULT_MYSQL_URL}`)
}
const localMysql = ['127.0.0.1', 'localhost', '[::1]'].includes(mysqlUrl.hostname) && ['', '3306'].includes(mysqlUrl.port)
const mariadbd = findProgram('mariadbd')
if (localMysql && mariadbd && findProgram('mariadb-admin')) {
  const ping = () => run('mariadb-admin', ['--protocol=tcp', '-h127.0.0.1', '-P3306', '-uroot', '--connect-timeout=2', 'ping'], { timeout: 10_000 }).ok
  const start = `start-stop-daemon --start --oknodo --background --exec ${mariadbd}`
  if (!ping() && !isRoot && mysqlRequired()) {
    fail(`MariaDB is installed but not running on 127.0.0.1:3306: start it as root (\`${start}\`), point F2B_TEST_MYSQL_URL at a running server, or set F2B_REQUIRE_MYSQL=0`)
  }
  if (!ping() && isRoot) {
    say('starting MariaDB')
    mkdirSync('/run/mysqld', { recursive: true })
    run('chown', ['mysql', '/run/mysqld'])
    const started = run('start-stop-daemon', ['--start', '--oknodo', '--background', '--exec', mariadbd])
    if (!started.ok) fail(`\`${start}\` failed: ${lastLine(started.out)}`)
    let up = false
    for (let i = 0; i < 60 && !up; i++) {
      up = ping()
      if (!up) await sleep(1000)
    }
    if (!up) fail('MariaDB did not answer on 127.0.0.1:3306 within 60 s (see /var/log/mysql/error.log)')
  }
  if (mysqlRequired()) await checkLogin(installed.includes('mariadb-server'))
}

// 4. Mosquitto.
if (findProgram('mosquitto') && !(await listening(1883))) {
  if (!isRoot) fail('Mosquitto is installed but nothing listens on 127.0.0.1:1883: run `mosquitto -d` as root')
  say('starting Mosquitto')
  const started = run(findProgram('mosquitto'), ['-d'])
  if (!started.ok) fail(`\`mosquitto -d\` failed: ${lastLine(started.out)}`)
  let up = false
  for (let i = 0; i < 50 && !up; i++) {
    up = await listening(1883)
    if (!up) await sleep(100)
  }
  if (!up) fail('Mosquitto did not listen on 127.0.0.1:1883 within 5 s')
}

/** Whether something accepts TCP connections on 127.0.0.1:port. */
function listening(port) {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port, timeout: 1000 })
    const done = (ok) => {
      socket.destroy()
      resolve(ok)
    }
    socket.once('connect', () => done(true))
    socket.once('error', () => done(false))
    socket.once('timeout', () => done(false))
  })
}

/**
 * The suite's admin account must get in. A MariaDB installed just now by Debian lets root in
 * only through the unix socket: then, and only then, root may also log in over TCP from this
 * machine without a password, as the suite expects. Anything else is the owner's to decide.
 */
async function checkLogin(freshInstall) {
  const { createConnection } = await import('mysql2/promise')
  const login = async () => {
    try {
      await (await createConnection({ uri: mysqlUrl.toString(), connectTimeout: 5000 })).end()
      return undefined
    } catch (err) {
      return err
    }
  }
  // 1045: wrong password; 1698: root may log in only through the unix socket.
  const denied = (e) => e?.errno === 1045 || e?.errno === 1698
  let err = await login()
  if (denied(err) && freshInstall && mysqlUrl.username === 'root' && !mysqlUrl.password) {
    say('letting root log in to the new MariaDB over TCP from this machine without a password, as the tests do')
    const grant = run('mariadb', ['-uroot', '-e', "ALTER USER 'root'@'localhost' IDENTIFIED VIA mysql_native_password USING PASSWORD('') OR unix_socket"])
    if (!grant.ok) fail(`could not let root in over TCP: ${lastLine(grant.out)}`)
    err = await login()
  }
  if (denied(err)) {
    fail(
      `MariaDB refuses ${mysqlUrl.username || 'the test account'} at ${mysqlUrl.host}: point F2B_TEST_MYSQL_URL at an account that may create databases and users, or, as root, ` +
        `\`mariadb -e "ALTER USER 'root'@'localhost' IDENTIFIED VIA mysql_native_password USING PASSWORD('') OR unix_socket"\``,
    )
  }
  if (err) fail(`cannot log in to MariaDB at ${mysqlUrl.host}: ${err.message}`)
}
