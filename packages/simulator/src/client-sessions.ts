import { setTimeout as sleep } from 'node:timers/promises'
import type { Pool, RowDataPacket } from 'mysql2/promise'
import type { PageLog } from './page-log/page-log.js'
import { isServerGone } from './server-gone.js'
import type { ServerFlavor } from '@backtrack/mysql-server'

/** How a rewind treats the server's client sessions. */
export type SessionPolicy =
  /** Aurora's `BacktrackDBCluster`: logins are refused until the cluster is `available`, every connection closed. */
  | 'close-all'
  /** A test reset: only sessions inside a transaction or running a statement are closed; idle ones stay open. */
  | 'close-busy'

interface Account {
  user: string
  host: string
}

/** Accounts no client logs in with, and what the simulator itself runs as. */
const SYSTEM_USERS = ['root', 'mariadb.sys', 'mysql.sys', 'mysql.session', 'mysql.infoschema', '']

/** How long turning `read_only` on may wait for a client's table locks before every client session is closed. */
export const LOCK_WAIT_SECONDS = 2

/** Where the accounts a lockout locked are remembered, so a crash in the middle cannot leave them locked. */
const LOCKED_META = 'locked_accounts'

const quoteString = (value: string) => `'${value.replaceAll('\\', '\\\\').replaceAll("'", "''")}'`
const accountName = ({ user, host }: Account) => `${quoteString(user)}@${quoteString(host)}`

/**
 * The server's client sessions while a rewind applies. The SQL endpoint is the server itself (no proxy in the data
 * path), so the lockout is done in SQL: `ACCOUNT LOCK` on every client account (a login gets "Access denied, this
 * account is locked"), `KILL CONNECTION` of every client session, and `read_only` so that no client write lands
 * while the executor works (the simulator's own account is exempt). Every statement stays out of the binlog.
 */
export class ClientSessions {
  readonly #admin: Pool
  readonly #log: PageLog
  readonly #flavor: ServerFlavor
  readonly #adminUser: string

  constructor(options: { admin: Pool; log: PageLog; flavor: ServerFlavor; adminUser: string }) {
    this.#admin = options.admin
    this.#log = options.log
    this.#flavor = options.flavor
    this.#adminUser = options.adminUser
  }

  /**
   * Refuses client writes (the simulator's account may still write). `read_only` waits for sessions holding
   * `LOCK TABLES`, which InnoDB does not show as transactions, so a test that left tables locked would hold the
   * rewind forever: after {@link LOCK_WAIT_SECONDS} every client session is closed and it is tried again.
   */
  async holdWrites(): Promise<void> {
    try {
      await this.#setReadOnly()
    } catch (error) {
      if ((error as { code?: string }).code !== 'ER_LOCK_WAIT_TIMEOUT') throw error
      await this.close('all')
      await this.#setReadOnly()
    }
  }

  async #setReadOnly(): Promise<void> {
    if (this.#flavor === 'mariadb') {
      await this.#query(`SET STATEMENT lock_wait_timeout = ${LOCK_WAIT_SECONDS} FOR SET GLOBAL read_only = ON`)
      return
    }
    // MySQL has no SET STATEMENT: a session of its own, so the timeout does not stay on a pooled one.
    const session = await this.#admin.getConnection()
    try {
      await session.query(`SET SESSION lock_wait_timeout = ${LOCK_WAIT_SECONDS}`)
      await session.query('SET GLOBAL read_only = ON')
    } finally {
      session.destroy()
    }
  }

  async releaseWrites(): Promise<void> {
    await this.#query('SET GLOBAL read_only = OFF')
  }

  /** Locks every unlocked client account; remembered in the page log until {@link unlockAccounts}. */
  async lockAccounts(): Promise<void> {
    const accounts = await this.#unlockedClientAccounts()
    if (accounts.length === 0) return
    // Added to what an earlier lockout could not unlock, so that those are not forgotten (locked for good).
    const saved = this.#saved()
    const known = new Set(saved.map(accountName))
    this.#log.setMeta(LOCKED_META, JSON.stringify([...saved, ...accounts.filter((a) => !known.has(accountName(a)))]))
    await this.#alter(accounts, 'LOCK')
  }

  #saved(): Account[] {
    return JSON.parse(this.#log.getMeta(LOCKED_META) ?? '[]') as Account[]
  }

  /** Unlocks what {@link lockAccounts} locked, also after a crash (called again at start). */
  async unlockAccounts(): Promise<void> {
    const saved = this.#saved()
    if (saved.length === 0) return
    await this.#alter(saved, 'UNLOCK')
    this.#log.setMeta(LOCKED_META, '[]')
  }

  /** How many client sessions the server has (replication streams and the simulator's own not counted). */
  async count(): Promise<number> {
    return (await this.#clients()).length
  }

  /**
   * Client sessions. One that has not sent its login yet (`unauthenticated user`) is not one: it may be the
   * simulator's own pool opening a connection (killing it would fail the status poll or the unlock that opened it),
   * and a client's is refused at its login while the accounts are locked, with the reason ("account is locked").
   */
  async #clients(): Promise<{ id: number; command: string }[]> {
    const [rows] = await this.#query<RowDataPacket[]>(
      `SELECT ID AS id, COMMAND AS command FROM information_schema.PROCESSLIST
        WHERE ID <> CONNECTION_ID() AND USER NOT IN (?, 'system user', 'event_scheduler', 'unauthenticated user')
          AND COMMAND NOT IN ('Binlog Dump', 'Binlog Dump GTID', 'Daemon')`,
      [this.#adminUser],
    )
    return rows.map((row) => ({ id: Number(row.id), command: String(row.command) }))
  }

  /** Closes client sessions: all of them, or only those inside a transaction or running a statement. */
  async close(which: 'all' | 'busy'): Promise<number> {
    // Replication streams (our capture, or a replica's), daemons and the simulator's own sessions stay.
    const clients = await this.#clients()
    const inTransaction = which === 'busy' && clients.length > 0 ? await this.#inTransaction() : new Set<number>()
    const victims = clients.filter((row) => which === 'all' || row.command !== 'Sleep' || inTransaction.has(row.id))
    for (const { id } of victims) await this.#query(`KILL CONNECTION ${id}`).catch(() => undefined)
    await this.#gone(victims.map((row) => row.id))
    return victims.length
  }

  /**
   * Waits until killed sessions have left the server. A KILL returns at once; a session inside a large transaction
   * then rolls it back, holding its locks, and stays in the process list meanwhile. A rewind must not start under
   * those locks, nor a second close count the session again. Bounded: a rollback that takes longer than the bound is
   * left to finish while the rewind waits on its locks.
   */
  async #gone(ids: number[], timeoutMs = 30_000): Promise<void> {
    if (ids.length === 0) return
    const deadline = Date.now() + timeoutMs
    for (let pause = 2; Date.now() < deadline; pause = Math.min(pause * 2, 100)) {
      const [rows] = await this.#query<RowDataPacket[]>(
        `SELECT 1 FROM information_schema.PROCESSLIST WHERE ID IN (${ids.map(Number).join(', ')}) LIMIT 1`,
      )
      if (rows.length === 0) return
      await sleep(pause)
    }
  }

  /**
   * Sessions with an InnoDB transaction started (a write, or a read view). Read from SHOW ENGINE INNODB STATUS:
   * information_schema.INNODB_TRX is a cache refreshed only when it was not read for 100 ms, so back-to-back
   * rewinds would see a stale list there.
   */
  async #inTransaction(): Promise<Set<number>> {
    const [rows] = await this.#query<RowDataPacket[]>('SHOW ENGINE INNODB STATUS')
    const status = String(rows[0]?.Status ?? '')
    const ids = new Set<number>()
    for (const block of status.split('---TRANSACTION ').slice(1)) {
      if (!/^[^\n]*\bACTIVE\b/.test(block)) continue
      const thread = /(?:MariaDB|MySQL) thread id (\d+)/.exec(block)
      if (thread !== null) ids.add(Number(thread[1]))
    }
    return ids
  }

  async #alter(accounts: Account[], action: 'LOCK' | 'UNLOCK'): Promise<void> {
    await this.#retryOnce(async () => {
      const session = await this.#admin.getConnection()
      try {
        // Account changes are not the cluster's history: a backtrack must not see them, nor a replica replay them.
        await session.query('SET SESSION sql_log_bin = 0')
        for (const account of accounts) {
          await session.query(`ALTER USER IF EXISTS ${accountName(account)} ACCOUNT ${action}`)
        }
      } finally {
        session.destroy()
      }
    })
  }

  /**
   * A statement on the admin pool, sent again once on a new connection when the pooled one it got was gone (the
   * server closed it, and the pool had not noticed yet). Every statement here can run twice.
   */
  #query<T extends RowDataPacket[]>(sql: string, values?: unknown[]): Promise<[T, unknown]> {
    return this.#retryOnce(() => this.#admin.query<T>(sql, values))
  }

  async #retryOnce<T>(work: () => Promise<T>): Promise<T> {
    try {
      return await work()
    } catch (error) {
      if (!isServerGone(error)) throw error
      return work()
    }
  }

  async #unlockedClientAccounts(): Promise<Account[]> {
    // MariaDB keeps account flags in mysql.global_priv (mysql.user is a view without them); MySQL in mysql.user.
    const sql =
      this.#flavor === 'mariadb'
        ? `SELECT User AS user, Host AS host FROM mysql.global_priv
            WHERE COALESCE(JSON_VALUE(Priv, '$.account_locked'), '0') <> '1' AND COALESCE(JSON_VALUE(Priv, '$.is_role'), '0') <> '1'`
        : `SELECT User AS user, Host AS host FROM mysql.user WHERE account_locked <> 'Y'`
    const [rows] = await this.#query<RowDataPacket[]>(sql)
    const [self] = await this.#query<RowDataPacket[]>('SELECT CURRENT_USER() AS me')
    const me = String(self[0]?.me ?? '')
    return rows
      .map((row) => ({ user: String(row.user), host: String(row.host) }))
      .filter(
        (account) =>
          !SYSTEM_USERS.includes(account.user) &&
          account.user !== this.#adminUser &&
          `${account.user}@${account.host}` !== me,
      )
  }
}
