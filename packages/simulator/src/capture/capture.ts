import { randomBytes } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import mysql, { type Connection, type RowDataPacket } from 'mysql2/promise'
import { BacktrackError } from '@backtrack/core'
import {
  BinlogError,
  encodeCells,
  openBinlogStream,
  readCells,
  type BinlogEvent,
  type BinlogPosition,
  type BinlogStream,
  type Cell,
  type TableMap,
} from '@backtrack/binlog'
import { loadRows } from '../load-data.js'
import { systemClock, type Clock } from '../clock.js'
import { parseDdl, rewriteDatabases, withTableName, type Ddl, type TableRef } from '../ddl/parse-ddl.js'
import { qualifiedName, quoteIdent } from '../ddl/sql-tokens.js'
import type { PageLog, TableIncarnation, TableSchema } from '../page-log/page-log.js'
import type { View } from '../page-log/view.js'
import { rowKey } from '../page-log/row-key.js'
import type { StartedMysqlServer } from '@backtrack/mysql-server'
import { comparePositions, formatPosition } from './binlog-position.js'
import { isSystemDatabase, prepareSession, readTableRows, readTableSchema } from './schema-reader.js'
import { ShadowSchema } from './shadow-schema.js'
import { isServerGone } from '../server-gone.js'
import { CommitStamper } from './timestamps.js'

export interface CaptureLogger {
  info(message: string): void
  warn(message: string): void
}

export interface CaptureOptions {
  server: StartedMysqlServer
  log: PageLog
  clock: Clock
  /** Replication server id the capture registers with (must differ from the server's and other replicas'). */
  replicaServerId?: number
  /** Seconds of history to keep; older history is pruned. */
  windowSeconds: () => number
  logger?: CaptureLogger
}

interface OpenTxn {
  lsn: number | undefined
  gtid: string | null
  sql: string | null
  changes: number
  kind: 'dml' | 'ddl'
  begun: boolean
  headerSeconds: number
  exactMicros: number | undefined
}

const SCRATCH_PREFIX = '__bt_scratch_'
const FLUSH_EVERY_MS = 200
const FLUSH_EVERY_CHANGES = 50_000
const PRUNE_EVERY_MS = 10_000
const MAX_RECONNECTS = 30
/** A wait for the capture fails when it has read nothing for this long. */
const STALL_MS = 30_000

/** The tables the capture knows by `db`.`name`; `version` changes with every change to it. */
class Catalog extends Map<string, TableIncarnation> {
  version = 0

  override set(key: string, value: TableIncarnation): this {
    this.version++
    return super.set(key, value)
  }

  override delete(key: string): boolean {
    this.version++
    return super.delete(key)
  }

  override clear(): void {
    this.version++
    super.clear()
  }
}

/** `db`.`name` as a map key. */
const tableKey = (db: string, name: string) => `${db}\u0000${name}`

/**
 * Reads the server's row binlog as a replica and turns every committed transaction into page-log records:
 * row versions, table incarnations and database versions, each under one LSN with its commit time. The binlog
 * position advances in the same SQLite transaction as the records it produced. Anything it does not understand
 * stops it with a `CaptureFault`; nothing is skipped silently.
 */
export class Capture {
  readonly #options: CaptureOptions
  readonly #log: PageLog
  readonly #stamper: CommitStamper
  readonly #catalog = new Catalog()
  #admin!: Connection
  #shadow!: ShadowSchema
  #stream: BinlogStream | undefined
  #txn: OpenTxn | undefined
  #processed: BinlogPosition = { file: '', position: 0 }
  #committed: BinlogPosition = { file: '', position: 0 }
  #lastFlush = 0
  #lastPrune = 0
  #flushTimer: NodeJS.Timeout | undefined
  #waiters: { position: BinlogPosition; resolve: () => void; reject: (error: Error) => void }[] = []
  #error: Error | undefined
  #running: Promise<void> | undefined
  #stopping = false
  #lastEventSeconds = 0
  #lastEventSeenMicros = 0
  #purgedBefore = ''
  /** When the capture last read something that moved it on (Date.now()). */
  #lastProgress = Date.now()

  private constructor(options: CaptureOptions) {
    this.#options = options
    this.#log = options.log
    this.#stamper = new CommitStamper(options.log.lastCommitMicros)
  }

  /** Starts capturing: takes the base image on first use, else resumes at the saved binlog position. */
  static async start(options: CaptureOptions): Promise<Capture> {
    const capture = new Capture(options)
    await capture.#open()
    return capture
  }

  get error(): Error | undefined {
    return this.#error
  }

  get position(): BinlogPosition {
    return this.#processed
  }

  /** How far behind the server's clock the last event seen was, in milliseconds (0 when idle and caught up). */
  lagMillis(): number {
    if (this.#txn === undefined && this.#waiters.length === 0) return 0
    return Math.max(0, (this.#lastEventSeenMicros - this.#lastEventSeconds * 1e6) / 1000)
  }

  /** Tables alive now, as the capture knows them. */
  catalog(): TableIncarnation[] {
    return [...this.#catalog.values()]
  }

  async #connectAdmin(): Promise<void> {
    this.#admin = await mysql.createConnection({
      ...this.#options.server.connectionOptions('admin'),
      multipleStatements: false,
    })
    await prepareSession(this.#admin)
    await this.#admin.query(
      "SET SESSION sql_log_bin = 0, SESSION foreign_key_checks = 0, SESSION sql_mode = 'NO_AUTO_VALUE_ON_ZERO'",
    )
    let tag = this.#log.getMeta('shadow_tag')
    if (tag === undefined) {
      tag = randomBytes(3).toString('hex')
      this.#log.setMeta('shadow_tag', tag)
    }
    this.#shadow = new ShadowSchema(this.#admin, tag)
    await this.#shadow.open()
  }

  async #openStream(): Promise<void> {
    this.#stream = await openBinlogStream({
      ...this.#options.server.connectionOptions('admin'),
      serverId: this.#options.replicaServerId ?? 1_000_000 + Math.floor(Math.random() * 1_000_000),
      from: this.#committed,
      requestAnnotateRows: true,
      heartbeatSeconds: 1,
      clock: systemClock,
    }).catch((error: unknown) => {
      throw BinlogError.is(error) ? fromBinlogError(error) : error
    })
  }

  async #open(): Promise<void> {
    await this.#connectAdmin()
    const file = this.#log.getMeta('binlog_file')
    if (file === undefined) {
      await this.#takeBaseImage()
    } else {
      this.#committed = { file, position: Number(this.#log.getMeta('binlog_pos')) }
      this.#processed = this.#committed
      await this.resyncFromLog()
    }
    await this.#openStream()
    this.#running = this.#run()
  }

  /** Rebuilds the in-memory catalog and the shadow schema from the log's current state (after a backtrack). */
  async resyncFromLog(): Promise<void> {
    const view = this.#log.headView()
    this.#catalog.clear()
    const byDatabase = new Map<string, { table: string; createSql: string }[]>()
    for (const db of this.#log.databasesIn(view).keys()) byDatabase.set(db, [])
    for (const table of this.#log.tablesIn(view)) {
      this.#catalog.set(tableKey(table.database, table.name), table)
      const list = byDatabase.get(table.database) ?? []
      list.push({ table: table.name, createSql: withTableName(table.schema.createSql, table.name) })
      byDatabase.set(table.database, list)
    }
    await this.#shadow.reset(byDatabase)
  }

  /**
   * Brings the catalog and the shadow schema to the log's head after a rewind that started from the `before` view
   * (the head the shadow was in step with). Only the tables and databases the rewind changed are touched: a reset
   * after a test that created one table costs one shadow DROP, not a rebuild of every table. The catalog is updated
   * now; the shadow's DDL runs in the background, before the capture handles its next event (nothing reads the
   * shadow in between), so a rewind does not wait for it.
   */
  resyncAfterRewind(before: View): void {
    const log = this.#log
    const head = log.headView()
    const dbsBefore = log.databasesIn(before)
    const dbsAfter = log.databasesIn(head)
    const tablesBefore = new Map(log.tablesIn(before).map((table) => [table.id, table]))
    const tablesAfter = new Map(log.tablesIn(head).map((table) => [table.id, table]))
    const same = (a: TableIncarnation, b: TableIncarnation | undefined) =>
      b !== undefined && a.database === b.database && a.name === b.name && a.schema.createSql === b.schema.createSql
    this.#catalog.clear()
    for (const table of tablesAfter.values()) this.#catalog.set(tableKey(table.database, table.name), table)
    const gone = [...tablesBefore].filter(([id, table]) => !same(table, tablesAfter.get(id))).map(([, t]) => t)
    const made = [...tablesAfter].filter(([id, table]) => !same(table, tablesBefore.get(id))).map(([, t]) => t)
    const dbsGone = [...dbsBefore.keys()].filter((db) => !dbsAfter.has(db))
    const dbsMade = [...dbsAfter.keys()]
    if (gone.length + made.length + dbsGone.length === 0 && dbsMade.every((db) => this.#shadow.has(db))) return
    const shadow = this.#shadow
    this.#shadowPending = true
    this.#shadowWork = this.#shadowWork.then(async () => {
      for (const table of gone) if (shadow.has(table.database)) await shadow.dropTable(table.database, table.name)
      for (const db of dbsGone) await shadow.dropDatabase(db)
      for (const db of dbsMade) if (!shadow.has(db)) await shadow.createDatabase(db)
      for (const table of made) {
        await shadow.createTable(table.database, withTableName(table.schema.createSql, table.name))
      }
    })
  }

  /** The shadow DDL a rewind left to do (see {@link resyncAfterRewind}); the next event waits for it. */
  #shadowWork: Promise<void> = Promise.resolve()
  #shadowPending = false

  async #settleShadow(): Promise<void> {
    if (!this.#shadowPending) return
    try {
      await this.#shadowWork
    } catch (error) {
      // The server went away (killed, restarting): the reconnect rebuilds the shadow from the log anyway.
      if (isServerGone(error)) throw error
      throw new BacktrackError(
        'CaptureFault',
        `the shadow schema could not follow a backtrack: ${(error as Error).message}`,
        { cause: error },
      )
    } finally {
      this.#shadowPending = false
      this.#shadowWork = Promise.resolve()
    }
  }

  async #takeBaseImage(): Promise<void> {
    const log = this.#log
    await this.#shadow.reset(new Map())
    const started = Date.now()
    await this.#admin.query('FLUSH TABLES WITH READ LOCK')
    let position: BinlogPosition
    const schemas = new Map<string, { createDb: string; tables: { name: string; schema: TableSchema }[] }>()
    try {
      position = await serverBinlogPosition(this.#admin)
      const [dbs] = await this.#admin.query<RowDataPacket[]>(
        'SELECT SCHEMA_NAME AS name FROM information_schema.SCHEMATA',
      )
      for (const row of dbs) {
        const db = String(row.name)
        if (isSystemDatabase(db)) continue
        const [[create]] = await this.#admin.query<RowDataPacket[]>(`SHOW CREATE DATABASE ${quoteIdent(db)}`)
        const [tables] = await this.#admin.query<RowDataPacket[]>(
          "SELECT TABLE_NAME AS name FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_TYPE = 'BASE TABLE'",
          [db],
        )
        const entry = {
          createDb: String(create!['Create Database']),
          tables: [] as { name: string; schema: TableSchema }[],
        }
        for (const table of tables) {
          entry.tables.push({
            name: String(table.name),
            schema: await readTableSchema(this.#admin, db, String(table.name)),
          })
        }
        schemas.set(db, entry)
      }
      await this.#admin.query('START TRANSACTION WITH CONSISTENT SNAPSHOT')
    } finally {
      await this.#admin.query('UNLOCK TABLES')
    }
    const lsn = log.nextLsn()
    log.begin()
    let rows = 0
    for (const [db, entry] of schemas) {
      log.createDatabase(db, lsn, entry.createDb)
      await this.#shadow.createDatabase(db)
      for (const { name, schema } of entry.tables) {
        const id = log.createTable(db, name, schema, lsn)
        this.#catalog.set(tableKey(db, name), { id, database: db, name, createdLsn: lsn, droppedLsn: null, schema })
        await this.#shadow.createTable(db, schema.createSql)
        rows += await this.#putRows(id, schema, lsn, readTableRows(this.#admin, db, name, schema))
      }
    }
    await this.#admin.query('COMMIT')
    log.putTxn({
      lsn,
      commitMicros: this.#stamper.stamp(
        Math.floor(this.#options.clock.nowMicros() / 1e6),
        this.#options.clock.nowMicros(),
      ),
      kind: 'base',
      gtid: null,
      sql: null,
      changes: rows,
    })
    log.flush({ binlog_file: position.file, binlog_pos: String(position.position) })
    this.#committed = position
    this.#processed = position
    this.#options.logger?.info(
      `capture: base image of ${schemas.size} database(s), ${rows} row(s) at ${formatPosition(position)} in ${Date.now() - started} ms`,
    )
  }

  async #putRows(id: number, schema: TableSchema, lsn: number, images: AsyncIterable<Buffer>): Promise<number> {
    let count = 0
    if (schema.keyColumns.length === 0) {
      const counts = new Map<string, { image: Buffer; n: number }>()
      for await (const image of images) {
        const entry = counts.get(image.toString('latin1'))
        if (entry === undefined) counts.set(image.toString('latin1'), { image, n: 1 })
        else entry.n++
        count++
      }
      for (const { image, n } of counts.values()) this.#log.putRow(id, image, lsn, withCount(image, n))
      return count
    }
    for await (const image of images) {
      this.#log.putRow(id, rowKey(image, schema), lsn, image)
      count++
    }
    return count
  }

  #paused: { promise: Promise<void>; resume: () => void } | undefined

  /** Holds events (they wait in the stream) until `resume()`: a rewind must see the log stand still. */
  pause(): void {
    if (this.#paused !== undefined) return
    let resume!: () => void
    const promise = new Promise<void>((resolve) => (resume = resolve))
    this.#paused = { promise, resume }
  }

  resume(): void {
    this.#paused?.resume()
    this.#paused = undefined
  }

  async #run(): Promise<void> {
    let failures = 0
    for (;;) {
      try {
        for await (const event of this.#stream!) {
          if (this.#paused !== undefined) await this.#paused.promise
          if (this.#stopping) return
          await this.#settleShadow()
          await this.#handle(event)
          failures = 0
        }
        if (this.#stopping) return
      } catch (error) {
        if (this.#stopping) return
        // An event the capture cannot record truthfully stops it for good; retrying would repeat it.
        if (BacktrackError.is(error) || BinlogError.is(error) || ++failures > MAX_RECONNECTS) return this.#fail(error)
        this.#options.logger?.warn(`capture: connection lost (${(error as Error).message}); reconnecting`)
      }
      await this.#reconnect(failures)
      if (this.#error !== undefined) return
    }
  }

  /** The server went away (restart, network): drop the unfinished batch and read again from the last flush. */
  async #reconnect(failures: number): Promise<void> {
    for (;;) {
      await sleep(Math.min(200 * 2 ** failures, 5_000))
      if (this.#stopping) return
      try {
        await this.#stream?.close().catch(() => undefined)
        if (this.#flushTimer !== undefined) clearTimeout(this.#flushTimer)
        this.#flushTimer = undefined
        this.#log.rollback()
        this.#txn = undefined
        this.#batchChanges = 0
        this.#processed = this.#committed
        this.#shadowPending = false
        this.#shadowWork = Promise.resolve()
        await this.#admin.end().catch(() => undefined)
        await this.#connectAdmin()
        // The full resync below supersedes whatever shadow DDL a rewind left to do on the old connection.
        this.#shadowPending = false
        this.#shadowWork = Promise.resolve()
        await this.resyncFromLog()
        await this.#openStream()
        this.#lastProgress = Date.now()
        this.#options.logger?.info(`capture: reconnected at ${formatPosition(this.#committed)}`)
        return
      } catch (error) {
        if (++failures > MAX_RECONNECTS) return this.#fail(error)
      }
    }
  }

  #fail(error: unknown): void {
    const wrapped = BacktrackError.is(error)
      ? error
      : BinlogError.is(error)
        ? fromBinlogError(error)
        : new BacktrackError('CaptureFault', `binlog capture stopped: ${(error as Error).message}`, { cause: error })
    this.#error = wrapped
    this.#log.rollback()
    this.#options.logger?.warn(`capture: ${wrapped.message}`)
    for (const waiter of this.#waiters.splice(0)) waiter.reject(wrapped)
  }

  async #handle(event: BinlogEvent): Promise<void> {
    if (event.type !== 'heartbeat' || comparePositions(event.next, this.#processed) !== 0) {
      this.#lastProgress = Date.now()
    }
    this.#lastEventSeconds = event.timestamp
    this.#lastEventSeenMicros = this.#options.clock.nowMicros()
    switch (event.type) {
      case 'gtid':
        this.#beginTxn(event.timestamp, event.gtid, event.commitTimeMicros)
        break
      case 'query':
        await this.#query(event.schema, event.sql, event.timestamp, event.receivedMicros)
        break
      case 'annotate':
        if (this.#txn !== undefined && this.#txn.sql === null) this.#txn.sql = event.sql.slice(0, 4096)
        break
      case 'table-map':
        break
      case 'write-rows':
        for (const image of event.rows) this.#change(event.table, null, image)
        break
      case 'delete-rows':
        for (const image of event.rows) this.#change(event.table, image, null)
        await this.#cascade(
          event.table,
          event.rows.map((before) => ({ before, after: null })),
        )
        break
      case 'update-rows':
        for (const { before, after } of event.rows) this.#change(event.table, before, after)
        await this.#cascade(event.table, event.rows)
        break
      case 'xid':
        if (this.#txn !== undefined) this.#txn.headerSeconds = event.timestamp
        this.#endTxn(event.receivedMicros)
        break
      case 'rotate':
      case 'heartbeat':
        break
    }
    if (this.#txn === undefined) this.#advance(event.next)
  }

  #beginTxn(headerSeconds: number, gtid: string | null, exactMicros: bigint | undefined): void {
    this.#txn = {
      lsn: undefined,
      gtid,
      sql: null,
      changes: 0,
      kind: 'dml',
      begun: false,
      headerSeconds,
      exactMicros: exactMicros === undefined ? undefined : Number(exactMicros),
    }
  }

  #txnLsn(): number {
    const txn = this.#txn!
    if (txn.lsn === undefined) {
      this.#log.begin()
      txn.lsn = this.#log.nextLsn()
    }
    return txn.lsn
  }

  async #query(schema: string, sql: string, headerSeconds: number, receivedMicros?: number): Promise<void> {
    const statement = sql.trim().toUpperCase()
    if (statement === 'BEGIN' || statement.startsWith('XA START')) {
      if (this.#txn === undefined) this.#beginTxn(headerSeconds, null, undefined)
      this.#txn!.begun = true
      return
    }
    if (statement === 'COMMIT' || statement === 'ROLLBACK' || statement.startsWith('XA END')) {
      this.#endTxn(receivedMicros)
      return
    }
    const ddl = parseDdl(sql)
    if (ddl.kind === 'none') return
    if (this.#txn === undefined) this.#beginTxn(headerSeconds, null, undefined)
    const touched = await this.#ddl(ddl, schema, sql)
    if (touched) {
      this.#txn!.kind = 'ddl'
      this.#txn!.sql = sql.slice(0, 4096)
    }
    if (!this.#txn!.begun) this.#endTxn(receivedMicros)
  }

  /** `receivedMicros`: when the commit arrived (the machine's clock); used when the capture runs on that clock. */
  #endTxn(receivedMicros?: number): void {
    const txn = this.#txn
    this.#txn = undefined
    if (txn === undefined || txn.lsn === undefined) return
    const seen =
      receivedMicros !== undefined && this.#options.clock === systemClock
        ? receivedMicros
        : this.#options.clock.nowMicros()
    const commitMicros = this.#stamper.stamp(txn.headerSeconds, seen, txn.exactMicros)
    this.#log.putTxn({
      lsn: txn.lsn,
      commitMicros,
      kind: txn.kind,
      gtid: txn.gtid,
      sql: txn.sql,
      changes: txn.changes,
    })
  }

  /** After an event outside any transaction: remember the position, flush when due, wake waiters. */
  #advance(next: BinlogPosition): void {
    if (next.file !== '') this.#processed = next
    const now = Date.now()
    if (this.#dirty()) {
      if (
        this.#waiters.length > 0 ||
        now - this.#lastFlush >= FLUSH_EVERY_MS ||
        this.#batchChanges >= FLUSH_EVERY_CHANGES
      ) {
        this.#flush()
      } else if (this.#flushTimer === undefined && !this.#stopping) {
        // Not while stopping: events still arrive until the stream is closed, and the log may be closed by then.
        this.#flushTimer = setTimeout(() => {
          this.#flushTimer = undefined
          if (!this.#stopping && this.#txn === undefined && this.#dirty() && this.#error === undefined) this.#flush()
        }, 5)
      }
    }
    this.#wake()
  }

  /**
   * Something is not yet committed to the log: records of the open batch, or a position the capture has read past
   * without recording anything (a ROTATE, a new file's FORMAT_DESCRIPTION and GTID list, a transaction on tables
   * it does not capture). The position alone must be committed too, or a wait for the server's position after a
   * rotation never ends; it is only committed once everything before it is, so a purge up to it loses nothing.
   */
  #dirty(): boolean {
    return this.#log.inBatch || comparePositions(this.#processed, this.#committed) !== 0
  }

  #batchChanges = 0

  #flush(): void {
    this.#log.flush({ binlog_file: this.#processed.file, binlog_pos: String(this.#processed.position) })
    this.#committed = this.#processed
    this.#lastFlush = Date.now()
    this.#batchChanges = 0
    this.#housekeeping()
  }

  #housekeeping(): void {
    const now = Date.now()
    // Never while paused: a rewind is reading the log, and pruning moves LSNs under it.
    if (this.#paused === undefined && now - this.#lastPrune >= PRUNE_EVERY_MS) {
      this.#lastPrune = now
      const window = this.#options.windowSeconds()
      if (window > 0) this.#log.prune(this.#options.clock.nowMicros() - window * 1e6)
    }
    if (this.#committed.file !== '' && this.#committed.file !== this.#purgedBefore) {
      const file = this.#committed.file
      this.#purgedBefore = file
      this.#options.server.purgeBinaryLogsBefore(file).catch((error: unknown) => {
        this.#options.logger?.warn(`capture: could not purge binlogs before ${file}: ${(error as Error).message}`)
      })
    }
  }

  #wake(): void {
    if (this.#log.inBatch) return
    const ready = this.#waiters.filter((waiter) => comparePositions(this.#committed, waiter.position) >= 0)
    this.#waiters = this.#waiters.filter((waiter) => !ready.includes(waiter))
    for (const waiter of ready) waiter.resolve()
  }

  /**
   * Resolves once every transaction up to `position` is in the log (committed to SQLite). A capture that is busy
   * (a million-row transaction takes it tens of seconds) is waited for as long as it moves; one that has not read
   * anything for `stallMs` is stuck (the server is gone, or a purge took what it needs), and the wait fails.
   */
  waitFor(position: BinlogPosition, stallMs = STALL_MS): Promise<void> {
    if (this.#error !== undefined) return Promise.reject(this.#error)
    if (!this.#dirty() && comparePositions(this.#committed, position) >= 0) return Promise.resolve()
    return new Promise<void>((resolve, reject) => {
      const waitStarted = Date.now()
      const timer = setInterval(
        () => {
          const idle = Date.now() - Math.max(this.#lastProgress, waitStarted)
          if (idle < stallMs) return
          this.#waiters = this.#waiters.filter((waiter) => waiter.resolve !== done)
          clearInterval(timer)
          reject(
            new BacktrackError(
              'CaptureFault',
              `the capture did not reach binlog position ${formatPosition(position)}: it has read nothing for ${Math.round(idle / 1000)} s (it is at ${formatPosition(this.#committed)})`,
            ),
          )
        },
        Math.min(1_000, stallMs),
      )
      const done = () => {
        clearInterval(timer)
        resolve()
      }
      this.#waiters.push({ position, resolve: done, reject: (error) => (clearInterval(timer), reject(error)) })
      if (this.#txn === undefined && this.#dirty()) this.#flush()
      this.#wake()
    })
  }

  /** Resolves once everything the server has committed so far is in the log (see `waitFor` for how long it waits). */
  async catchUp(stallMs = STALL_MS): Promise<void> {
    const deadline = Date.now() + stallMs
    for (;;) {
      let position: BinlogPosition
      try {
        position = await serverBinlogPosition(this.#admin)
      } catch (error) {
        // The server restarted and the capture has not reconnected yet: wait for it.
        if (BacktrackError.is(error) || this.#error !== undefined || Date.now() > deadline) throw this.#error ?? error
        await sleep(100)
        continue
      }
      return this.waitFor(position, stallMs)
    }
  }

  /** Later commits get stamps after `micros`. */
  raiseFloor(micros: number): void {
    this.#stamper.raiseFloor(micros)
  }

  /** The latest time handed out by `mark()` (µs): it counts as the present, not the future. */
  get floorMicros(): number {
    return this.#stamper.floor
  }

  /** The newest stamp given (µs). */
  get lastStamp(): number {
    return this.#stamper.last
  }

  /** Gives the next stamp for a transaction the simulator records itself (a backtrack). */
  stampNow(): number {
    const now = this.#options.clock.nowMicros()
    return this.#stamper.stamp(Math.floor(now / 1e6), now)
  }

  /** The table a table map names, remembered for the map (each row event carries one) while the catalog stands. */
  #lastMap: { map: TableMap; version: number; table: TableIncarnation | undefined } | undefined

  #tableFor(map: TableMap): TableIncarnation | undefined {
    const last = this.#lastMap
    if (last !== undefined && last.map === map && last.version === this.#catalog.version) return last.table
    const table = isSystemDatabase(map.database) ? undefined : this.#catalog.get(tableKey(map.database, map.table))
    if (table === undefined && !isSystemDatabase(map.database)) {
      throw new BacktrackError(
        'CaptureFault',
        `rows for ${qualifiedName(map.database, map.table)} arrived, but the capture has no definition for that table`,
      )
    }
    this.#lastMap = { map, version: this.#catalog.version, table }
    return table
  }

  #change(map: TableMap, before: Buffer | null, after: Buffer | null): void {
    const table = this.#tableFor(map)
    if (table === undefined) return
    const lsn = this.#txnLsn()
    const schema = table.schema
    before = before && alignToSchema(before, map, schema)
    after = after && alignToSchema(after, map, schema)
    if (schema.keyColumns.length === 0) {
      for (const [image, delta] of [
        [before, -1],
        [after, 1],
      ] as const) {
        if (image === null) continue
        const current = this.#log.rowAt(table.id, image, this.#log.headView())
        const n = (current === null ? 0 : countOf(current)) + delta
        this.#log.putRow(table.id, image, lsn, n > 0 ? withCount(image, n) : null)
      }
    } else {
      const beforeKey = before && rowKey(before, schema)
      const afterKey = after && rowKey(after, schema)
      if (beforeKey !== null && (afterKey === null || !beforeKey.equals(afterKey))) {
        this.#log.putRow(table.id, beforeKey, lsn, null)
      }
      if (afterKey !== null) this.#log.putRow(table.id, afterKey, lsn, after)
    }
    this.#txn!.changes++
    this.#batchChanges++
  }

  /**
   * Rows changed by ON DELETE/UPDATE CASCADE or SET NULL are changed inside InnoDB and never reach the row
   * binlog; derive them from the parent change and the foreign keys, against the child rows the log holds.
   */
  async #cascade(map: TableMap, changes: { before: Buffer; after: Buffer | null }[]): Promise<void> {
    const parent = this.#tableFor(map)
    if (parent === undefined) return
    for (const child of this.#catalog.values()) {
      for (const fk of child.schema.foreignKeys) {
        if (fk.parentDatabase !== parent.database || fk.parentTable !== parent.name) continue
        const parentIndexes = fk.parentColumns.map((name) => parent.schema.columns.findIndex((c) => c.name === name))
        const childIndexes = fk.columns.map((name) => child.schema.columns.findIndex((c) => c.name === name))
        const removed = new Map<string, Cell[] | null>()
        for (const { before, after } of changes) {
          const old = readCells(alignToSchema(before, map, parent.schema))
          const oldKey = parentIndexes.map((i) => old[i] ?? null)
          if (oldKey.some((cell) => cell === null)) continue
          if (after === null) {
            if (fk.onDelete === 'CASCADE' || fk.onDelete === 'SET NULL')
              removed.set(encodeCells(oldKey).toString('latin1'), null)
          } else {
            const next = readCells(alignToSchema(after, map, parent.schema))
            const newKey = parentIndexes.map((i) => next[i] ?? null)
            if (encodeCells(newKey).equals(encodeCells(oldKey))) continue
            if (fk.onUpdate === 'CASCADE') removed.set(encodeCells(oldKey).toString('latin1'), newKey)
            else if (fk.onUpdate === 'SET NULL') removed.set(encodeCells(oldKey).toString('latin1'), null)
          }
        }
        if (removed.size === 0) continue
        const action = changes[0]!.after === null ? fk.onDelete : fk.onUpdate
        const lsn = this.#txnLsn()
        const derived: { before: Buffer; after: Buffer | null }[] = []
        // Collect first: the log cannot be written while one of its cursors is open.
        const affected: { key: Buffer; image: Buffer; fkValue: string }[] = []
        for (const { key, image } of this.#log.rowsIn(child.id, this.#log.headView())) {
          const cells = readCells(image)
          const fkValue = encodeCells(childIndexes.map((i) => cells[i] ?? null)).toString('latin1')
          if (removed.has(fkValue)) affected.push({ key, image, fkValue })
        }
        // A keyless child stores each distinct row once under the row itself, with its count as an extra last cell:
        // the changed row moves to a new key with all its copies, and adds to a row that already looks like it.
        const keyless = child.schema.keyColumns.length === 0
        const counts = new Map<string, { row: Buffer; delta: number }>()
        const count = (row: Buffer, delta: number) => {
          const entry = counts.get(row.toString('latin1'))
          if (entry === undefined) counts.set(row.toString('latin1'), { row, delta })
          else entry.delta += delta
        }
        for (const { key, image, fkValue } of affected) {
          const row = keyless ? key : image
          const replacement = removed.get(fkValue)
          let next: Buffer | null
          if (action === 'CASCADE' && replacement === null) next = null
          else {
            const updated = readCells(row)
            childIndexes.forEach(
              (index, i) => (updated[index] = replacement === null ? null : (replacement?.[i] ?? null)),
            )
            next = encodeCells(updated)
          }
          derived.push({ before: row, after: next })
          if (keyless) {
            const copies = countOf(image)
            count(row, -copies)
            if (next !== null) count(next, copies)
          } else if (next === null) this.#log.putRow(child.id, key, lsn, null)
          else {
            const nextKey = rowKey(next, child.schema)
            if (!nextKey.equals(key)) this.#log.putRow(child.id, key, lsn, null)
            this.#log.putRow(child.id, nextKey, lsn, next)
          }
          this.#txn!.changes++
        }
        for (const { row, delta } of counts.values()) {
          if (delta === 0) continue
          const current = this.#log.rowAt(child.id, row, this.#log.headView())
          const n = (current === null ? 0 : countOf(current)) + delta
          this.#log.putRow(child.id, row, lsn, n > 0 ? withCount(row, n) : null)
        }
        if (derived.length > 0) await this.#cascade(identityMap(child), derived)
      }
    }
  }

  /** Applies one DDL statement to the log and the shadow; returns whether it touched captured tables. */
  async #ddl(ddl: Ddl, schema: string, sql: string): Promise<boolean> {
    const resolve = (ref: TableRef) => ({ db: ref.db ?? schema, name: ref.name })
    const log = this.#log
    switch (ddl.kind) {
      case 'other':
        return false
      case 'create-database': {
        if (isSystemDatabase(ddl.db)) return false
        const lsn = this.#txnLsn()
        if (ddl.orReplace) this.#dropDatabaseTables(ddl.db, lsn)
        await this.#shadow.createDatabase(ddl.db)
        log.createDatabase(ddl.db, lsn, `CREATE DATABASE ${quoteIdent(ddl.db)}${databaseOptions(sql)}`)
        return true
      }
      case 'drop-database': {
        if (isSystemDatabase(ddl.db) || !this.#shadow.has(ddl.db)) return false
        const lsn = this.#txnLsn()
        this.#dropDatabaseTables(ddl.db, lsn)
        log.dropDatabase(ddl.db, lsn)
        await this.#shadow.dropDatabase(ddl.db)
        return true
      }
      case 'create-table': {
        const { db, name } = resolve(ddl.table)
        if (ddl.temporary || isSystemDatabase(db)) return false
        const existing = this.#catalog.get(tableKey(db, name))
        if (existing !== undefined && !ddl.orReplace) return false // CREATE TABLE IF NOT EXISTS on an existing table
        const lsn = this.#txnLsn()
        if (existing !== undefined) {
          log.dropTable(existing.id, lsn)
          this.#catalog.delete(tableKey(db, name))
        }
        await this.#shadow.replay(sql, schema)
        this.#newIncarnation(db, name, await this.#shadow.describe(db, name), lsn)
        return true
      }
      case 'drop-table': {
        if (ddl.temporary) return false
        let touched = false
        for (const ref of ddl.tables) {
          const { db, name } = resolve(ref)
          const table = this.#catalog.get(tableKey(db, name))
          if (table === undefined) continue
          log.dropTable(table.id, this.#txnLsn())
          this.#catalog.delete(tableKey(db, name))
          touched = true
        }
        if (touched) await this.#shadow.replay(sql, schema)
        return touched
      }
      case 'truncate': {
        const { db, name } = resolve(ddl.table)
        const table = this.#catalog.get(tableKey(db, name))
        if (table === undefined) return false
        const lsn = this.#txnLsn()
        log.dropTable(table.id, lsn)
        this.#newIncarnation(db, name, table.schema, lsn)
        return true
      }
      case 'alter-table':
      case 'index': {
        const { db, name } = resolve(ddl.table)
        const table = this.#catalog.get(tableKey(db, name))
        if (table === undefined) return false
        const target = ddl.kind === 'alter-table' && ddl.renameTo !== undefined ? resolve(ddl.renameTo) : { db, name }
        await this.#shadow.replay(sql, schema)
        const schemaAfter = await this.#shadow.describe(target.db, target.name)
        const lsn = this.#txnLsn()
        if (keepsRows(table.schema, schemaAfter)) {
          // Indexes, constraints or table options only: the rows stay as they are, the definition changes.
          log.alterSchema(table.id, lsn, schemaAfter)
          if (target.db !== db || target.name !== name) log.renameTable(table.id, lsn, target.db, target.name)
          this.#catalog.delete(tableKey(db, name))
          this.#catalog.set(tableKey(target.db, target.name), {
            ...table,
            database: target.db,
            name: target.name,
            schema: schemaAfter,
          })
          return true
        }
        log.dropTable(table.id, lsn)
        this.#catalog.delete(tableKey(db, name))
        const id = this.#newIncarnation(target.db, target.name, schemaAfter, lsn)
        await this.#rebuildRows(table, sql, target.name, id, schemaAfter, lsn)
        return true
      }
      case 'rename-table': {
        let touched = false
        const lsn = this.#txnLsn()
        for (const [from, to] of ddl.pairs) {
          const source = resolve(from)
          const destination = resolve(to)
          const table = this.#catalog.get(tableKey(source.db, source.name))
          if (table === undefined) continue
          log.renameTable(table.id, lsn, destination.db, destination.name)
          this.#catalog.delete(tableKey(source.db, source.name))
          this.#catalog.set(tableKey(destination.db, destination.name), {
            ...table,
            database: destination.db,
            name: destination.name,
          })
          touched = true
        }
        if (touched) await this.#shadow.replay(sql, schema)
        return touched
      }
      case 'none':
        return false
    }
  }

  #dropDatabaseTables(db: string, lsn: number): void {
    for (const table of [...this.#catalog.values()]) {
      if (table.database !== db) continue
      this.#log.dropTable(table.id, lsn)
      this.#catalog.delete(tableKey(db, table.name))
    }
  }

  #newIncarnation(db: string, name: string, schema: TableSchema, lsn: number): number {
    const id = this.#log.createTable(db, name, schema, lsn)
    this.#catalog.set(tableKey(db, name), { id, database: db, name, createdLsn: lsn, droppedLsn: null, schema })
    return id
  }

  /**
   * An ALTER rewrites every row without a row event. Replay it on a scratch copy of the table built from the
   * log (the state right before the ALTER), and record the rows it produced as the new incarnation's base.
   */
  async #rebuildRows(
    old: TableIncarnation,
    sql: string,
    newName: string,
    id: number,
    schemaAfter: TableSchema,
    lsn: number,
  ): Promise<void> {
    const admin = this.#admin
    const SCRATCH_DB = SCRATCH_PREFIX + this.#log.getMeta('shadow_tag')
    await admin.query(`DROP DATABASE IF EXISTS ${quoteIdent(SCRATCH_DB)}`)
    await admin.query(`CREATE DATABASE ${quoteIdent(SCRATCH_DB)}`)
    try {
      await admin.query(`USE ${quoteIdent(SCRATCH_DB)}`)
      await admin.query(withTableName(old.schema.createSql, old.name))
      const view = this.#log.viewAt(lsn - 1)
      await loadRows(
        admin,
        { database: SCRATCH_DB, table: old.name, columns: old.schema.columns },
        expandCounts(this.#log.imagesIn(old.id, view), old.schema),
      )
      await admin.query(rewriteDatabases(sql, () => SCRATCH_DB))
      await this.#putRows(id, schemaAfter, lsn, readTableRows(admin, SCRATCH_DB, newName, schemaAfter))
    } finally {
      await admin.query(`DROP DATABASE IF EXISTS ${quoteIdent(SCRATCH_DB)}`)
      await admin.query(`USE mysql`).catch(() => undefined)
    }
  }

  /**
   * Stops as a killed process would: the open batch is not flushed and nothing is cleaned up gracefully.
   * Only what earlier flushes committed survives (tests of crash recovery use this).
   */
  async crash(): Promise<void> {
    this.#stopping = true
    if (this.#flushTimer !== undefined) clearTimeout(this.#flushTimer)
    this.#stream?.close().catch(() => undefined)
    this.#admin.destroy()
  }

  /** Stops reading the binlog; what was flushed stays, an open batch is dropped. */
  async stop(): Promise<void> {
    this.#stopping = true
    if (this.#flushTimer !== undefined) clearTimeout(this.#flushTimer)
    if (this.#txn === undefined && this.#dirty() && this.#error === undefined) this.#flush()
    await this.#stream?.close().catch(() => undefined)
    await this.#running
    if (this.#flushTimer !== undefined) clearTimeout(this.#flushTimer)
    if (this.#log.inBatch) this.#log.rollback()
    for (const waiter of this.#waiters.splice(0))
      waiter.reject(new BacktrackError('CaptureFault', 'the capture was stopped'))
    // A start after this one rebuilds the shadow from the log anyway; only let the running statement finish.
    await this.#shadowWork.catch(() => undefined)
    await this.#admin.end().catch(() => undefined)
  }
}

/** The server's current binlog end. */
async function serverBinlogPosition(connection: Connection): Promise<BinlogPosition> {
  const [rows] = await connection.query<RowDataPacket[]>('SHOW MASTER STATUS')
  const row = rows[0]
  if (row === undefined) {
    throw new BacktrackError(
      'ServerConfigurationFault',
      'binary logging is off on the server (SHOW MASTER STATUS is empty): start it with --log-bin',
    )
  }
  return { file: String(row.File), position: Number(row.Position) }
}

/** Options after the database name of a CREATE DATABASE statement (character set, collation). */
function databaseOptions(sql: string): string {
  const match = /\b(DEFAULT\s+)?(CHARACTER\s+SET|CHARSET|COLLATE)\b[\s\S]*$/i.exec(sql)
  return match === null ? '' : ` ${match[0]}`
}

/** The column definitions of a `SHOW CREATE TABLE` text (its lines that start with a quoted name). */
function columnLines(createSql: string): string[] {
  return createSql.split('\n').filter((line) => /^\s+`/.test(line))
}

/** Whether an ALTER from `before` to `after` leaves every stored row unchanged. */
function keepsRows(before: TableSchema, after: TableSchema): boolean {
  const a = columnLines(before.createSql)
  const b = columnLines(after.createSql)
  return (
    a.length > 0 &&
    a.length === b.length &&
    a.every((line, i) => line.replace(/,$/, '') === b[i]!.replace(/,$/, '')) &&
    before.keyColumns.join() === after.keyColumns.join()
  )
}

/** A binlog package error as a `BacktrackError` of the same code and message (users see the same text). */
function fromBinlogError(error: BinlogError): BacktrackError {
  return new BacktrackError(error.code, error.message, { cause: error })
}

/** For tables without a key the log keeps each distinct row once, with how many times it occurs. */

function withCount(image: Buffer, n: number): Buffer {
  return Buffer.concat([image, encodeCells([Buffer.from(String(n))])])
}

function countOf(stored: Buffer): number {
  const cells = readCells(stored)
  return Number(cells.at(-1)!.toString())
}

/** Rows of a table as they must be loaded: keyless rows repeated by their count. */
export function* expandCounts(rows: Iterable<{ image: Buffer }>, schema: TableSchema): Generator<Buffer> {
  if (schema.keyColumns.length > 0) {
    for (const row of rows) yield row.image
    return
  }
  for (const row of rows) {
    const cells = readCells(row.image)
    const n = Number(cells.pop()!.toString())
    const image = encodeCells(cells)
    for (let i = 0; i < n; i++) yield image
  }
}

/**
 * Binlog row images list the columns the server logged; the schema may list more (e.g. virtual columns the server
 * leaves out). Reorders by name into the schema's column order, NULL for any the image lacks.
 */
function alignToSchema(image: Buffer, map: TableMap, schema: TableSchema): Buffer {
  const columns = schema.columns
  if (map.columns.length === columns.length && map.columns.every((c, i) => c.name === columns[i]!.name)) return image
  const cells = readCells(image)
  const byName = new Map(map.columns.map((c, i) => [c.name, cells[i] ?? null]))
  return encodeCells(columns.map((column) => byName.get(column.name) ?? null))
}

function identityMap(table: TableIncarnation): TableMap {
  return {
    tableId: 0n,
    database: table.database,
    table: table.name,
    columns: table.schema.columns.map((column) => ({
      name: column.name,
      type: 0,
      meta: 0,
      nullable: true,
      unsigned: false,
      kind: column.kind,
    })),
    primaryKey: table.schema.keyColumns,
  }
}
