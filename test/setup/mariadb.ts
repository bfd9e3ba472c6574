import { randomBytes } from 'node:crypto'
import { createConnection } from 'mysql2/promise'

/** Admin connection for creating and dropping per-run databases; override with F2B_TEST_MYSQL_URL. */
export const MYSQL_ADMIN_URL = process.env.F2B_TEST_MYSQL_URL ?? 'mysql://root@127.0.0.1:3306/mysql'

export async function adminConnection() {
  return createConnection({ uri: MYSQL_ADMIN_URL, connectTimeout: 3000, multipleStatements: false })
}

export async function mysqlReachable(): Promise<boolean> {
  try {
    const c = await adminConnection()
    await c.end()
    return true
  } catch {
    return false
  }
}

/** A uniquely named database on the test server, for one test file. */
export async function createMysqlDatabase(): Promise<{ url: string; name: string; drop: () => Promise<void> }> {
  const name = `f2b_test_${process.pid}_${randomBytes(4).toString('hex')}`
  const admin = await adminConnection()
  try {
    await admin.query(`CREATE DATABASE \`${name}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin`)
  } finally {
    await admin.end()
  }
  const u = new URL(MYSQL_ADMIN_URL)
  u.pathname = `/${name}`
  return {
    url: u.toString(),
    name,
    drop: async () => {
      const c = await adminConnection()
      try {
        await c.query(`DROP DATABASE IF EXISTS \`${name}\``)
      } finally {
        await c.end()
      }
    },
  }
}

/** Drop every account whose name starts with `prefix` (the global teardown's safety net). */
export async function dropAccountsWithPrefix(prefix: string): Promise<void> {
  const admin = await adminConnection()
  try {
    const [rows] = (await admin.query('SELECT User AS user, Host AS host FROM mysql.user WHERE User LIKE ?', [`${prefix}%`])) as unknown as [{ user: string; host: string }[]]
    for (const r of rows) await admin.query('DROP USER IF EXISTS ?@?', [r.user, r.host])
  } finally {
    await admin.end()
  }
}
