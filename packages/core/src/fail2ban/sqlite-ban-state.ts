import BetterSqlite3 from 'better-sqlite3'
import { Fail2banError } from '../errors.js'
import { activeByAddress, type BanStateReader, type LocalBan } from './ban-state.js'

const SUPPORTED_VERSION = 4
const CHUNK = 500

/**
 * Reads fail2ban's own SQLite database (`dbfile`), table `bips`: one query per 500
 * addresses instead of one fail2ban-client process per address. Opened read-only for each
 * read, because fail2ban owns the file and may replace it.
 */
export class SqliteBanState implements BanStateReader {
  readonly #path: string
  constructor(path: string) {
    this.#path = path
  }

  async read(ips: readonly string[], nowSeconds: number): Promise<Map<string, LocalBan[]>> {
    if (ips.length === 0) return new Map()
    let db: BetterSqlite3.Database
    try {
      db = new BetterSqlite3(this.#path, { readonly: true, fileMustExist: true, timeout: 5000 })
    } catch (err) {
      throw new Fail2banError(`cannot open fail2ban database ${this.#path}: ${(err as Error).message}`, {
        hint: 'check fail2ban.database in the config (fail2ban.conf `dbfile`)',
        cause: err,
      })
    }
    try {
      this.#checkVersion(db)
      const bans: LocalBan[] = []
      for (let i = 0; i < ips.length; i += CHUNK) {
        const chunk = ips.slice(i, i + CHUNK)
        const rows = db.prepare(`SELECT ip, jail, timeofban, bantime FROM bips WHERE ip IN (${chunk.map(() => '?').join(',')})`).all(...chunk) as {
          ip: string
          jail: string
          timeofban: number
          bantime: number
        }[]
        for (const r of rows) bans.push({ ip: r.ip, jail: r.jail, timeOfBan: Number(r.timeofban), bantime: Number(r.bantime) })
      }
      return activeByAddress(bans, new Set(ips), nowSeconds)
    } finally {
      db.close()
    }
  }

  #checkVersion(db: BetterSqlite3.Database): void {
    let version: number | undefined
    try {
      version = (db.prepare('SELECT version FROM fail2banDb').get() as { version?: number } | undefined)?.version
    } catch (err) {
      throw new Fail2banError(`${this.#path} is not a fail2ban database: ${(err as Error).message}`, { cause: err })
    }
    if (version !== SUPPORTED_VERSION) {
      throw new Fail2banError(`${this.#path}: fail2ban database version ${String(version)} is not supported (expected ${SUPPORTED_VERSION})`, {
        hint: 'unset fail2ban.database to read ban state through fail2ban-client instead',
      })
    }
  }
}
