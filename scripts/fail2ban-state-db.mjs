// A file in the format of fail2ban's own state database (fail2ban/server/database.py,
// schema version 4, table bips), for the demo and for tests that need a known local ban
// state without a running fail2ban. Tests with a running fail2ban read the real file.
import BetterSqlite3 from 'better-sqlite3'

/** Create (or reset) a fail2ban-format database at `path`. */
export function createFail2banStateDb(path) {
  const db = new BetterSqlite3(path)
  db.exec(`
    CREATE TABLE IF NOT EXISTS fail2banDb(version INTEGER);
    DELETE FROM fail2banDb; INSERT INTO fail2banDb(version) VALUES (4);
    CREATE TABLE IF NOT EXISTS bips(ip TEXT NOT NULL, jail TEXT NOT NULL, timeofban INTEGER NOT NULL,
      bantime INTEGER NOT NULL, bancount INTEGER NOT NULL DEFAULT 1, data JSON, PRIMARY KEY(ip, jail));
  `)
  db.close()
}

/** Record that the local fail2ban bans `ip` in `jail` since `timeOfBan` (epoch seconds) for `bantime` seconds. */
export function addLocalBan(path, { ip, jail, timeOfBan, bantime }) {
  const db = new BetterSqlite3(path)
  db.prepare('INSERT OR REPLACE INTO bips(ip, jail, timeofban, bantime, bancount, data) VALUES (?, ?, ?, ?, 1, ?)').run(ip, jail, timeOfBan, bantime, '{}')
  db.close()
}
