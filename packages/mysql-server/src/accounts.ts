import { randomBytes } from 'node:crypto'

import type { Connection, RowDataPacket } from 'mysql2/promise'

import type { Credentials, ServerFlavor } from './mysql-server.js'

/** The simulator's own account on private servers. */
export const ADMIN_USER = 'backtrack'

/** Aurora's default master user name, so the lab's `$DBUSER` works unchanged. */
export const DEFAULT_APP_USER = 'admin'

/**
 * What the application account may do: what an Aurora master user has for data and schema work, without what only
 * the simulator may do (SUPER/BINLOG ADMIN, so it cannot `SET sql_log_bin=0` or purge the binlog; replication;
 * account management; SHUTDOWN; FILE).
 */
const APP_PRIVILEGES = [
  'SELECT',
  'INSERT',
  'UPDATE',
  'DELETE',
  'CREATE',
  'DROP',
  'REFERENCES',
  'INDEX',
  'ALTER',
  'SHOW DATABASES',
  'CREATE TEMPORARY TABLES',
  'LOCK TABLES',
  'EXECUTE',
  'CREATE VIEW',
  'SHOW VIEW',
  'CREATE ROUTINE',
  'ALTER ROUTINE',
  'EVENT',
  'TRIGGER',
  'PROCESS',
]

/** A random password that needs no quoting anywhere (URLs, shells, option files). */
export function generatePassword(): string {
  return randomBytes(18).toString('base64url')
}

/** Rejects user names the simulator reserves for itself. */
export function isReservedUser(user: string): boolean {
  return user === ADMIN_USER || user === 'root' || user === ''
}

/**
 * `IDENTIFIED ...` clause. On MySQL the account must use mysql_native_password: the binlog client the capture uses
 * speaks only that, not caching_sha2_password.
 */
function identifiedBy(flavor: ServerFlavor): string {
  return flavor === 'mysql' ? 'IDENTIFIED WITH mysql_native_password BY ?' : 'IDENTIFIED BY ?'
}

async function ensureUser(conn: Connection, flavor: ServerFlavor, user: string, host: string, password: string) {
  await conn.query(`CREATE USER IF NOT EXISTS ?@? ${identifiedBy(flavor)}`, [user, host, password])
  await conn.query(`ALTER USER ?@? ${identifiedBy(flavor)}`, [user, host, password])
}

/**
 * Creates (or brings up to date) the admin and application accounts, for local and 127.0.0.1 logins. Idempotent, so
 * an interrupted first start is finished by the next one.
 */
export async function provisionAccounts(
  conn: Connection,
  flavor: ServerFlavor,
  accounts: { admin: Credentials; app: Credentials; hosts: string[] },
): Promise<void> {
  for (const host of accounts.hosts) {
    await ensureUser(conn, flavor, accounts.admin.user, host, accounts.admin.password)
    await conn.query('GRANT ALL PRIVILEGES ON *.* TO ?@? WITH GRANT OPTION', [accounts.admin.user, host])
    await ensureUser(conn, flavor, accounts.app.user, host, accounts.app.password)
    await conn.query(`GRANT ${APP_PRIVILEGES.join(', ')} ON *.* TO ?@?`, [accounts.app.user, host])
  }
}

/** Drops anonymous accounts: they shadow `'app'@'%'`-style logins from localhost (see environment notes). */
export async function dropAnonymousUsers(conn: Connection): Promise<void> {
  const [rows] = await conn.query<RowDataPacket[]>("SELECT Host AS host FROM mysql.user WHERE User = ''")
  for (const row of rows) await conn.query("DROP USER ''@?", [row.host as string])
}
