// What the test suite needs from the machine, in one place: the programs it runs and the
// Debian package of each. `npm test`'s preparation (scripts/prepare-test-machine.mjs)
// installs what is missing; a test that runs one of these programs calls requirePrograms()
// first, so that on a machine nobody prepared it fails with the command that installs it
// instead of passing without testing anything.
import { accessSync, constants } from 'node:fs'
import { delimiter, join } from 'node:path'

/** Every program the suite (or the next issues' tests) runs, with its Debian package. */
export const PROGRAMS = [
  // private fail2ban servers: the fleet, deploy, check and filter tests
  { program: 'fail2ban-client', pkg: 'fail2ban' },
  { program: 'fail2ban-regex', pkg: 'fail2ban' },
  // the MySQL half of the suite, and the private TLS server of test/tls.test.ts
  { program: 'mariadbd', pkg: 'mariadb-server', mysql: true },
  { program: 'mariadb-install-db', pkg: 'mariadb-server', mysql: true },
  { program: 'mariadb-admin', pkg: 'mariadb-client', mysql: true },
  { program: 'mariadb', pkg: 'mariadb-client', mysql: true },
  { program: 'openssl', pkg: 'openssl' },
  // the deployment files: units, log rotation, the units' sandbox
  { program: 'systemd-analyze', pkg: 'systemd' },
  { program: 'logrotate', pkg: 'logrotate' },
  { program: 'unshare', pkg: 'util-linux' },
  { program: 'setpriv', pkg: 'util-linux' },
  { program: 'findmnt', pkg: 'util-linux' },
  // network namespaces and the firewalls inside them: fleet-e2e, export, firewall-mode (issue 13)
  { program: 'ip', pkg: 'iproute2' },
  { program: 'nft', pkg: 'nftables' },
  { program: 'ipset', pkg: 'ipset' },
  { program: 'iptables', pkg: 'iptables' },
  { program: 'ip6tables', pkg: 'iptables' },
  { program: 'conntrack', pkg: 'conntrack' },
  // push wake-ups
  { program: 'mosquitto', pkg: 'mosquitto' },
  // the edge hosts' pull script (deploy/pull/f2b-central-pull)
  { program: 'curl', pkg: 'curl' },
  // the status page of `f2b-central serve`, loaded by a headless browser (playwright-core)
  { program: 'chromium', pkg: 'chromium' },
  // the 3-node Galera cluster of test/galera.test.ts: the provider library (a file, no program),
  // rsync for state transfers, and ss, which the state-transfer script checks its port with
  { program: '/usr/lib/galera/libgalera_smm.so', pkg: 'galera-4', mysql: true },
  { program: 'rsync', pkg: 'rsync', mysql: true },
  { program: 'ss', pkg: 'iproute2', mysql: true },
]

/**
 * Whether the MySQL half of the suite must run: yes unless F2B_REQUIRE_MYSQL=0, so that a run
 * which could only test SQLite fails instead of passing quietly.
 */
export function mysqlRequired(env = process.env) {
  return env.F2B_REQUIRE_MYSQL !== '0'
}

/**
 * The absolute path of a program, looking in PATH and the sbin directories (not on every
 * user's PATH). A name that is a path (a library such as Galera's) is checked as it is.
 */
export function findProgram(name) {
  if (name.includes('/')) {
    try {
      accessSync(name, constants.R_OK)
      return name
    } catch {
      return undefined
    }
  }
  const dirs = [...(process.env.PATH ?? '').split(delimiter), '/usr/local/sbin', '/usr/sbin', '/sbin', '/usr/local/bin', '/usr/bin', '/bin']
  for (const dir of dirs.filter(Boolean)) {
    const file = join(dir, name)
    try {
      accessSync(file, constants.X_OK)
      return file
    } catch {
      // not here
    }
  }
  return undefined
}

/** The Debian packages that provide these programs, each once. */
export function packagesFor(programs) {
  return [...new Set(programs.map((p) => PROGRAMS.find((x) => x.program === p)?.pkg ?? p))]
}

/** The command that installs these programs on Debian. */
export function installCommand(programs) {
  return `apt-get install -y --no-install-recommends ${packagesFor(programs).join(' ')}`
}

/** Throws, naming what is missing and the command that installs it, unless every program is there. */
export function requirePrograms(...programs) {
  const missing = programs.filter((p) => !findProgram(p))
  if (missing.length > 0) {
    throw new Error(`${missing.join(', ')} not found: install with \`${installCommand(missing)}\` (npm test does it when run as root)`)
  }
}
