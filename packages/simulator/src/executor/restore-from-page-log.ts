import type { Connection, PoolConnection, RowDataPacket } from 'mysql2/promise'
import { BacktrackError, formatRdsTime } from '@backtrack/core'
import { PageLog } from '../page-log/page-log.js'
import { BacktrackExecutor, type ApplyStats } from './backtrack-executor.js'

type Sql = Connection | PoolConnection

/** What a point-in-time restore loaded. */
export interface RestoreStats extends ApplyStats {
  /** The LSN of the source's log whose state was loaded. */
  lsn: number
}

/**
 * Loads the state a cluster's page log holds as of `toMicros` into an empty server, as Aurora's point-in-time
 * restore does: databases, tables with their exact definitions, and every row. It reads a consistent snapshot of
 * the log (a read-only connection inside one read transaction), so the source cluster can keep writing, pruning and
 * backtracking meanwhile. Rejects with `InvalidParameterValue` when the log no longer holds that moment.
 *
 * @param target A session on the new server with the admin account (its writes are kept out of the binlog).
 */
export async function restoreFromPageLog(logPath: string, toMicros: number, target: Sql): Promise<RestoreStats> {
  const log = new PageLog(logPath, { readonly: true })
  try {
    log.begin()
    const earliest = log.earliestMicros()
    if (earliest === undefined || toMicros < earliest) {
      throw new BacktrackError(
        'InvalidParameterValue',
        `The source's history starts at ${earliest === undefined ? 'no time yet' : formatRdsTime(new Date(Math.floor(earliest / 1000)))}; ` +
          `it cannot be restored to ${formatRdsTime(new Date(Math.floor(toMicros / 1000)))}.`,
      )
    }
    const lsn = log.lsnAt(toMicros)
    const executor = new BacktrackExecutor(target, log)
    await executor.prepareSession()
    const stats = await executor.apply([], log.viewAt(lsn))
    return { ...stats, lsn }
  } finally {
    log.rollback()
    log.close()
  }
}

// Accounts every server has, and the simulator's own: never copied.
const SYSTEM_USERS = new Set(['root', 'mariadb.sys', 'mysql.sys', 'mysql.session', 'mysql.infoschema', 'PUBLIC', ''])

/**
 * Copies the accounts (with their password hashes and grants) from one server to another, except the system ones and
 * those in `skip`: Aurora restores the whole volume, users included, so the source's credentials log in to the
 * restored cluster. Accounts are copied as they are now (the page log keeps data, not accounts). Returns the
 * accounts copied, as `user@host`.
 */
export async function copyAccounts(source: Sql, target: Sql, skip: readonly string[]): Promise<string[]> {
  const [version] = await source.query<RowDataPacket[]>('SELECT VERSION() AS version')
  const mysql = !/mariadb/i.test(String(version[0]?.version))
  // MySQL prints caching_sha2_password hashes as bytes unless asked for hex.
  if (mysql) await source.query('SET SESSION print_identified_with_as_hex = ON').catch(() => undefined)
  const [users] = await source.query<RowDataPacket[]>('SELECT User AS user, Host AS host FROM mysql.user')
  const copied: string[] = []
  await target.query('SET SESSION sql_log_bin = 0')
  for (const { user, host } of users as { user: string; host: string }[]) {
    if (SYSTEM_USERS.has(user) || skip.includes(user) || user.startsWith('mysql.')) continue
    const [created] = await source.query<RowDataPacket[]>('SHOW CREATE USER ?@?', [user, host])
    const [grants] = await source.query<RowDataPacket[]>('SHOW GRANTS FOR ?@?', [user, host])
    await target.query('DROP USER IF EXISTS ?@?', [user, host])
    await target.query(String(Object.values(created[0] ?? {})[0]))
    for (const grant of grants) await target.query(String(Object.values(grant)[0]))
    copied.push(`${user}@${host}`)
  }
  await target.query('FLUSH PRIVILEGES')
  return copied
}
