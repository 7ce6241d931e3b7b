import { randomBytes } from 'node:crypto'
import { dirname } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import mysql, { type Connection } from 'mysql2/promise'
import { BacktrackError } from '@backtrack/core'
import {
  BinlogError,
  openBinlogStream,
  type BinlogEvent,
  type BinlogPosition,
  type BinlogStream,
  type TableMap,
} from '@backtrack/binlog'
import type { StartedMysqlServer } from '@backtrack/mysql-server'
import { systemClock, type Clock } from '../clock.js'
import { parseDdl, withTableName } from '../ddl/parse-ddl.js'
import { qualifiedName } from '../ddl/sql-tokens.js'
import { countOf, withCount } from '../page-log/keyless-rows.js'
import type { PageLog, TableIncarnation } from '../page-log/page-log.js'
import { rowKey } from '../page-log/row-key.js'
import type { View } from '../page-log/view.js'
import { isServerGone } from '../server-gone.js'
import { takeBaseImage } from './base-image.js'
import { captureFault, freeBytes, isDiskFull } from './capture-fault.js'
import { comparePositions, formatPosition, serverBinlogPosition } from './binlog-position.js'
import { Catalog, tableKey } from './catalog.js'
import { applyDdl, type DdlContext } from './ddl-application.js'
import { applyForeignKeyCascades, type CascadeContext } from './foreign-key-cascades.js'
import { isSystemDatabase, prepareSession } from './schema-reader.js'
import { ShadowSchema } from './shadow-schema.js'
import { alignToSchema } from './table-map.js'
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
  /** Told when the capture stops with a fault, and (with undefined) when it resumes after one (space is back). */
  onFault?: (fault: BacktrackError | undefined) => void
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
  /** Where its first event starts. */
  startedAt: BinlogPosition
}

/**
 * A binlog file that ends inside a transaction: the server stopped while it wrote it (a crash), so it did not commit
 * it, and went on in the next file. The capture drops what it read of it and reads again without it.
 */
class TornTransaction extends Error {
  constructor(readonly at: BinlogPosition) {
    super(`binlog ${at.file} ends inside the transaction that starts at ${formatPosition(at)}`)
  }
}

const FLUSH_EVERY_MS = 200
const FLUSH_EVERY_CHANGES = 50_000
const PRUNE_EVERY_MS = 10_000
/**
 * When the page log's delta of row versions is merged (see PageLog): once the capture has read nothing for
 * MERGE_IDLE_MS, and under a load that does not stop, from the batch that makes it MERGE_ROWS long or MERGE_AFTER_MS
 * old on. A merge goes in steps of MERGE_STEP versions (about 0.2 s each), one per batch under a load and one after
 * another when idle, so that the event loop (the RDS endpoint, marks) never waits long for it. A larger delta writes
 * fewer pages per version (a page takes several), and none is merged while a load runs for less than MERGE_AFTER_MS.
 */
const MERGE_IDLE_MS = 1_000
const MERGE_ROWS = 250_000
const MERGE_AFTER_MS = 30_000
const MERGE_STEP = 16_384
const MAX_RECONNECTS = 30
/** A capture stopped by a full disk resumes once this much more space is free than when it stopped. */
const SPACE_MARGIN_BYTES = 256 * 1024
const SPACE_CHECK_MS = 1_000
/** A wait for the capture fails when it has read nothing for this long. */
const STALL_MS = 30_000

/**
 * Reads the server's row binlog (the private server's files, or as a replica) and turns every committed transaction into page-log records:
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
  #mergeTimer: NodeJS.Timeout | undefined
  #waiters: { position: BinlogPosition; resolve: () => void; reject: (error: Error) => void }[] = []
  #error: BacktrackError | undefined
  #running: Promise<void> | undefined
  #stopping = false
  #lastEventSeconds = 0
  #lastEventSeenMicros = 0
  #purgedBefore = ''
  /** Files that end inside a transaction: where it starts (the file reader stops there). */
  readonly #tornTails = new Map<string, number>()
  /** When the capture last read something that moved it on (Date.now()). */
  #lastProgress = Date.now()
  /** What the rooms (DDL application, foreign-key cascades) see of the capture; admin and shadow change on reconnect. */
  readonly #rooms: DdlContext & CascadeContext

  private constructor(options: CaptureOptions) {
    this.#options = options
    this.#log = options.log
    this.#stamper = new CommitStamper(options.log.lastCommitMicros)
    this.#rooms = {
      log: this.#log,
      catalog: this.#catalog,
      admin: () => this.#admin,
      shadow: () => this.#shadow,
      lsn: () => this.#txnLsn(),
      tables: () => this.#catalog.values(),
      tableFor: (map) => this.#tableFor(map),
      countChange: () => void this.#txn!.changes++,
    }
  }

  /** Starts capturing: takes the base image on first use, else resumes at the saved binlog position. */
  static async start(options: CaptureOptions): Promise<Capture> {
    const capture = new Capture(options)
    await capture.#open()
    return capture
  }

  get error(): BacktrackError | undefined {
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
      // The private server's binlog is read from its files: the server then does no work for the capture.
      ...(this.#options.server.dataDir === undefined ? {} : { dataDir: this.#options.server.dataDir }),
      tornTails: this.#tornTails,
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
    // Its failure is met by the next event (#settleShadow). When the server goes away first, the reconnect drops
    // the work (the resync rebuilds the shadow) before anything awaits it: it must not surface as an unhandled
    // rejection (CI saw one in server-faults.int.test.ts: ShadowSchema.createTable on a killed server).
    this.#shadowWork.catch(() => undefined)
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
    const position = await takeBaseImage({
      log: this.#log,
      admin: this.#admin,
      shadow: this.#shadow,
      catalog: this.#catalog,
      commitMicros: () =>
        this.#stamper.stamp(Math.floor(this.#options.clock.nowMicros() / 1e6), this.#options.clock.nowMicros()),
      ...(this.#options.logger === undefined ? {} : { logger: this.#options.logger }),
    })
    this.#committed = position
    this.#processed = position
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
          if (this.#stopping || this.#interrupted !== undefined) break
          await this.#settleShadow()
          await this.#handle(event)
          failures = 0
        }
        if (this.#stopping) return
        const interrupted = this.#interrupted
        this.#interrupted = undefined
        if (interrupted !== undefined) throw interrupted
      } catch (error) {
        if (this.#stopping) return
        if (error instanceof TornTransaction) {
          this.#tornTails.set(error.at.file, error.at.position)
          this.#options.logger?.warn(
            `capture: ${error.message}: the server stopped while writing it and did not commit it; ` +
              `reading again from ${formatPosition(this.#committed)} without it`,
          )
          await this.#reconnect(0)
          if (this.#error !== undefined) return
          continue
        }
        if (isDiskFull(error, this.#log.path)) {
          // Nothing is wrong with what was read: once the page log can be written again, read it again.
          const free = freeBytes(dirname(this.#log.path)) ?? 0
          this.#fail(error)
          if (!(await this.#spaceBack(free))) return
          this.#options.logger?.info(`capture: the page log's disk has free space again; resuming`)
          const fault = this.#error
          // The fault stands until the capture reads again: nothing may be flushed or waited for meanwhile.
          await this.#reconnect(0)
          if (this.#stopping || this.#error !== fault) return
          this.#error = undefined
          this.#options.onFault?.(undefined)
          continue
        }
        if (!isServerGone(error) || ++failures > MAX_RECONNECTS) {
          // Only a lost connection is worth reading again. Anything else (an event the capture cannot record
          // truthfully, a page-log write that failed) would fail the same way on every retry.
          return this.#fail(error)
        }
        this.#options.logger?.warn(`capture: connection lost (${(error as Error).message}); reconnecting`)
      }
      await this.#reconnect(failures)
      if (this.#error !== undefined) return
    }
  }

  /** An error met outside the read loop (a flush on a timer or for a waiter): the loop stops and handles it. */
  #interrupted: Error | undefined

  #interrupt(error: unknown): void {
    this.#interrupted ??= error as Error
    void this.#stream?.close()
  }

  /** Waits until the page log's file system has more free space than `free` bytes (false: the capture stopped). */
  async #spaceBack(free: number): Promise<boolean> {
    const dir = dirname(this.#log.path)
    for (;;) {
      await sleep(SPACE_CHECK_MS)
      if (this.#stopping) return false
      if ((freeBytes(dir) ?? 0) > free + SPACE_MARGIN_BYTES) return true
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
        this.#interrupted = undefined
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
        if (!isServerGone(error) || ++failures > MAX_RECONNECTS) return this.#fail(error)
      }
    }
  }

  #fail(error: unknown): void {
    const wrapped = captureFault(error, { committed: this.#committed, pageLogPath: this.#log.path })
    this.#error = wrapped
    try {
      this.#log.rollback()
    } catch {
      // A log that cannot even roll back: the fault says what is wrong, and a restart reads it again.
    }
    // What the rolled-back batch held is read again from the last flush: no later flush may commit a position past it.
    this.#txn = undefined
    this.#batchChanges = 0
    this.#processed = this.#committed
    this.#options.logger?.warn(`capture: ${wrapped.message}`)
    for (const waiter of this.#waiters.splice(0)) waiter.reject(wrapped)
    this.#options.onFault?.(wrapped)
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
        await applyForeignKeyCascades(
          this.#rooms,
          event.table,
          event.rows.map((before) => ({ before, after: null })),
        )
        break
      case 'update-rows':
        for (const { before, after } of event.rows) this.#change(event.table, before, after)
        await applyForeignKeyCascades(this.#rooms, event.table, event.rows)
        break
      case 'xid':
        if (this.#txn !== undefined) this.#txn.headerSeconds = event.timestamp
        this.#endTxn(event.receivedMicros)
        break
      case 'rotate':
        if (this.#txn !== undefined) this.#torn(this.#txn.startedAt)
        break
      case 'heartbeat':
        break
    }
    if (this.#txn === undefined) this.#advance(event.next)
  }

  /** A ROTATE inside a transaction: the file ended before the transaction did (see {@link TornTransaction}). */
  #torn(at: BinlogPosition): never {
    if (this.#stream?.source === 'files') throw new TornTransaction(at)
    throw new BacktrackError(
      'CaptureFault',
      `binlog ${at.file} ends inside the transaction that starts at ${formatPosition(at)}: the server stopped while ` +
        'writing it (a crash) and did not commit it. Read over the replication protocol, the capture cannot skip it; ' +
        'a server whose binlog files the cluster can read (its private server) is read from them, where it can.',
    )
  }

  #beginTxn(headerSeconds: number, gtid: string | null, exactMicros: bigint | undefined): void {
    this.#txn = {
      startedAt: this.#processed,
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
    const touched = await applyDdl(this.#rooms, ddl, schema, sql)
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
          if (this.#stopping || this.#txn !== undefined || !this.#dirty() || this.#error !== undefined) return
          try {
            this.#flush()
          } catch (error) {
            this.#interrupt(error)
          }
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
    const delta = this.#log.delta
    if (delta.rows >= MERGE_ROWS || delta.ageMillis >= MERGE_AFTER_MS) this.#log.settleStep(MERGE_STEP)
    this.#log.flush({ binlog_file: this.#processed.file, binlog_pos: String(this.#processed.position) })
    this.#committed = this.#processed
    this.#lastFlush = Date.now()
    this.#batchChanges = 0
    this.#housekeeping()
    this.#mergeWhenIdle()
  }

  /** Merges the page log's delta once the capture has read nothing for MERGE_IDLE_MS (the load stopped). */
  #mergeWhenIdle(): void {
    if (this.#mergeTimer !== undefined || this.#log.delta.rows === 0 || this.#stopping) return
    const check = () => {
      this.#mergeTimer = undefined
      if (this.#stopping || this.#error !== undefined || this.#log.delta.rows === 0) return
      const idle = Date.now() - this.#lastProgress
      // Not while paused (a rewind reads the log; the engine settles it before) or inside a transaction's batch.
      if (idle < MERGE_IDLE_MS || this.#paused !== undefined || this.#txn !== undefined || this.#log.inBatch) {
        this.#mergeTimer = setTimeout(check, Math.max(MERGE_IDLE_MS - idle, 50))
        this.#mergeTimer.unref()
        return
      }
      try {
        // One step, then the next after whatever else is waiting (a request, a new event).
        if (!this.#log.settleStep(MERGE_STEP)) {
          this.#mergeTimer = setTimeout(check, 0)
          this.#mergeTimer.unref()
        }
      } catch (error) {
        this.#interrupt(error)
      }
    }
    this.#mergeTimer = setTimeout(check, MERGE_IDLE_MS)
    this.#mergeTimer.unref()
  }

  /**
   * Commits what the capture has read and merges the page log's delta, so that a reader of its own (a rewind, a
   * restore, verify) reads every captured row. A transaction still being read stays in its batch, out of the delta's
   * merge: its rows are not captured yet.
   */
  settle(): void {
    if (this.#error !== undefined) return
    if (this.#txn === undefined && this.#dirty()) this.#flush()
    if (!this.#log.inBatch) this.#log.settle()
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
   * anything for `stallMs` is stuck (the server is gone and does not come back), and the wait fails.
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
      this.#stream?.poke()
      if (this.#txn === undefined && this.#dirty()) {
        try {
          this.#flush()
        } catch (error) {
          // The read loop stops on it and rejects this wait with the fault.
          this.#interrupt(error)
          return
        }
      }
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
   * Stops as a killed process would: the open batch is not flushed and nothing is cleaned up gracefully.
   * Only what earlier flushes committed survives (tests of crash recovery use this).
   */
  async crash(): Promise<void> {
    this.#stopping = true
    if (this.#flushTimer !== undefined) clearTimeout(this.#flushTimer)
    if (this.#mergeTimer !== undefined) clearTimeout(this.#mergeTimer)
    this.#stream?.close().catch(() => undefined)
    this.#admin.destroy()
  }

  /** Stops reading the binlog; what was flushed stays, an open batch is dropped. */
  async stop(): Promise<void> {
    this.#stopping = true
    if (this.#flushTimer !== undefined) clearTimeout(this.#flushTimer)
    if (this.#mergeTimer !== undefined) clearTimeout(this.#mergeTimer)
    if (this.#txn === undefined && this.#dirty() && this.#error === undefined) {
      try {
        this.#flush()
      } catch (error) {
        this.#options.logger?.warn(`capture: the last batch could not be written on stop: ${(error as Error).message}`)
      }
    }
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

/** A binlog package error as a `BacktrackError` of the same code and message (users see the same text). */
function fromBinlogError(error: BinlogError): BacktrackError {
  return new BacktrackError(error.code, error.message, { cause: error })
}
