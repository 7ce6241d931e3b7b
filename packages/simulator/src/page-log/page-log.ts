import Database from 'better-sqlite3'
import type { ValueKind } from '@backtrack/binlog'
import {
  backtracksThrough,
  happened,
  rangeCondition,
  viewAt,
  type BacktrackEvent,
  type LsnRange,
  type View,
} from './view.js'

/** A column as the page log needs it to load rows back. */
export interface ColumnMeta {
  name: string
  kind: ValueKind
  /** Generated (virtual or stored) columns are never loaded. */
  generated: boolean
  /** information_schema DATA_TYPE, e.g. `bigint`, `float`. */
  dataType: string
}

export type ReferentialAction = 'CASCADE' | 'SET NULL' | 'RESTRICT' | 'NO ACTION' | 'SET DEFAULT'

/** A foreign key declared on a table (the child). */
export interface ForeignKey {
  name: string
  columns: string[]
  parentDatabase: string
  parentTable: string
  parentColumns: string[]
  onDelete: ReferentialAction
  onUpdate: ReferentialAction
}

/** A table's exact definition at one moment. */
export interface TableSchema {
  /** `SHOW CREATE TABLE` text, without a database qualifier. */
  createSql: string
  columns: ColumnMeta[]
  /** Columns (indexes into `columns`) that identify a row; empty: the whole row does (no primary key). */
  keyColumns: number[]
  foreignKeys: ForeignKey[]
}

/** One incarnation of a table: CREATE (or TRUNCATE, ALTER) starts one, DROP (or TRUNCATE, ALTER) ends it. */
export interface TableIncarnation {
  id: number
  database: string
  name: string
  createdLsn: number
  /** The newest drop (null: never dropped). */
  droppedLsn: number | null
  /**
   * Every drop, oldest first: a table a backtrack brought back and that was dropped again has two, and is gone in
   * any state that holds either. Absent: `droppedLsn` is the only one.
   */
  drops?: readonly number[]
  schema: TableSchema
}

export type TxnKind = 'base' | 'dml' | 'ddl' | 'backtrack'

export interface TxnRecord {
  lsn: number
  commitMicros: number
  kind: TxnKind
  gtid: string | null
  sql: string | null
  changes: number
  targetLsn: number | null
}

/** Where a time falls relative to the log (after Neon's `get_lsn_by_timestamp`). */
export type TimeResolution =
  | { kind: 'present'; lsn: number }
  | { kind: 'future'; lsn: number }
  | { kind: 'past'; lsn: number }
  | { kind: 'nodata'; lsn: number }

/** A key a rewind changes, with its image in the target view (null: the row does not exist there). */
export interface ChangedRow {
  key: Buffer
  image: Buffer | null
}

/**
 * Consecutive images of one table laid end to end in one buffer (an image is self-delimiting cell by cell, and each
 * one's length is given too): `images[ends[i - 1] ?? 0, ends[i])` is the i-th.
 */
export interface ImageBatch {
  images: Buffer
  /** Where each image ends in `images`. */
  ends: Int32Array
}

/** Bytes of images a batch aims at (its row count adapts to the rows' size: many small rows, few large ones). */
const BATCH_BYTES = 512 * 1024
const BATCH_MAX_ROWS = 4096
/** The first batch of a scan, before its rows' size is known. */
const BATCH_FIRST_ROWS = 64

/** Parses `group_concat(length(image), ',')` into the images' end offsets. */
function batchEnds(lengths: string, count: number): Int32Array {
  const ends = new Int32Array(count)
  let at = 0
  let value = 0
  let end = 0
  for (let i = 0; i < lengths.length; i++) {
    const c = lengths.charCodeAt(i)
    if (c === 0x2c) {
      end += value
      ends[at++] = end
      value = 0
    } else value = value * 10 + (c - 0x30)
  }
  ends[at++] = end + value
  if (at !== count) throw new Error(`page log: a batch lists ${at} image lengths for ${count} images`)
  return ends
}

interface TxnRow {
  lsn: number
  commit_us: number
  kind: TxnKind
  gtid: string | null
  sql: string | null
  changes: number
  target_lsn: number | null
}

function txnOfRow(row: TxnRow): TxnRecord {
  return {
    lsn: row.lsn,
    commitMicros: row.commit_us,
    kind: row.kind,
    gtid: row.gtid,
    sql: row.sql,
    changes: row.changes,
    targetLsn: row.target_lsn,
  }
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS txn (
  lsn INTEGER PRIMARY KEY,
  commit_us INTEGER NOT NULL,
  kind TEXT NOT NULL,
  gtid TEXT,
  sql TEXT,
  changes INTEGER NOT NULL DEFAULT 0,
  target_lsn INTEGER
);
CREATE INDEX IF NOT EXISTS txn_time ON txn (commit_us);
CREATE INDEX IF NOT EXISTS txn_event ON txn (lsn) WHERE kind IN ('ddl', 'backtrack');
CREATE TABLE IF NOT EXISTS incarnation (
  id INTEGER PRIMARY KEY,
  created_lsn INTEGER NOT NULL,
  dropped_lsn INTEGER,
  schema_json TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS table_name (
  tbl INTEGER NOT NULL,
  lsn INTEGER NOT NULL,
  db TEXT NOT NULL,
  name TEXT NOT NULL,
  PRIMARY KEY (tbl, lsn)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS table_schema (
  tbl INTEGER NOT NULL,
  lsn INTEGER NOT NULL,
  schema_json TEXT NOT NULL,
  PRIMARY KEY (tbl, lsn)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS db_version (
  db TEXT NOT NULL,
  lsn INTEGER NOT NULL,
  create_sql TEXT,
  PRIMARY KEY (db, lsn)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS row_version (
  tbl INTEGER NOT NULL,
  key BLOB NOT NULL,
  lsn INTEGER NOT NULL,
  image BLOB,
  PRIMARY KEY (tbl, key, lsn)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS row_version_lsn ON row_version (lsn, tbl);
CREATE TABLE IF NOT EXISTS row_delta (seq INTEGER PRIMARY KEY, tbl INTEGER NOT NULL, key BLOB NOT NULL, lsn INTEGER NOT NULL, image BLOB);
CREATE TABLE IF NOT EXISTS marker (name TEXT PRIMARY KEY, commit_us INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS table_drop (tbl INTEGER NOT NULL, lsn INTEGER NOT NULL, PRIMARY KEY (tbl, lsn)) WITHOUT ROWID;
INSERT OR IGNORE INTO table_drop SELECT id, dropped_lsn FROM incarnation WHERE dropped_lsn IS NOT NULL;
CREATE TABLE IF NOT EXISTS collapsed_backtrack (lsn INTEGER PRIMARY KEY, target_lsn INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS backtrack_request (id TEXT PRIMARY KEY, requested_us INTEGER NOT NULL, record_json TEXT NOT NULL);
`

/**
 * The time-indexed page log: every version of every captured row, every table incarnation and database version,
 * each tagged with the LSN of the transaction that made it, and the transactions' commit times. Row versions live
 * in a B-tree clustered on (table incarnation, key, LSN), so a key's version at an LSN is one O(log n) seek; a
 * second index on LSN lists what changed after a time in O(changes). SQLite pages are the pages.
 *
 * Writes are batched: `begin()` opens a SQLite transaction that may hold several captured transactions, and
 * `flush(position)` commits them together with the binlog position they end at, so a crash loses or doubles nothing.
 *
 * New row versions are appended to `row_delta` (a rowid table: each batch fills a few pages at its end) and merged
 * into `row_version` later, oldest first (`settle()`, or in steps: `settleStep()`): a random B-tree write per change, with each commit copying
 * every page it touched into the WAL, was most of the capture's CPU under an OLTP load. Every LSN below the delta's
 * first is wholly in `row_version`. The writer settles before it reads rows; a reader settles through a connection
 * of its own when the writer is not in a batch, and otherwise reads the log as of the LSN before the delta's first
 * (`lastLsn` stops there), which is consistent, only less recent.
 */
export class PageLog {
  readonly #db: Database.Database
  readonly #stmts: ReturnType<PageLog['prepare']>
  #lastLsn!: number
  #lastCommitMicros!: number
  #backtracks!: BacktrackEvent[]
  #changeRecords!: number
  readonly #rowAtStatements = new Map<number, Database.Statement>()
  readonly #readonly: boolean
  /** Row versions appended to `row_delta` since it was last merged (by this connection; another may have merged them). */
  #deltaRows = 0
  /** When the oldest of them was appended (Date.now()). */
  #deltaSince = 0
  /** The log's file. */
  readonly path: string

  /**
   * Opens (creating when needed) the log at `path`. `readonly` opens an existing log for reading while the
   * cluster keeps writing it (find, diff, show): WAL readers see committed batches and never block the writer.
   */
  constructor(path: string, options: { readonly?: boolean } = {}) {
    this.path = path
    this.#readonly = options.readonly === true
    if (this.#readonly) settleAside(path)
    this.#db = new Database(path, { readonly: options.readonly === true, fileMustExist: options.readonly === true })
    this.#db.pragma('busy_timeout = 5000')
    // A reader lives for one rewind or one look and mostly scans: each page once, from the OS's cache. 64 MiB of
    // SQLite cache there only added to the process's RSS (a 1M-row rebuild filled it); 16 MiB holds every inner page.
    // The writer appends (a few pages a batch); only merging the delta writes all over the tree, and it runs when the
    // load has stopped: 32 MiB, and the process's peak stays under 300 MiB through a merge and an undo after it.
    this.#db.pragma(options.readonly ? 'cache_size = -16384' : 'cache_size = -32768')
    if (!options.readonly) {
      this.#db.pragma('journal_mode = WAL')
      // No fsync: a killed process loses nothing (WAL commits are in the OS cache), and an OS crash loses what the
      // server's own binlog would lose too (sync_binlog=0 is its default). Fsyncs here slowed the server's commits.
      this.#db.pragma('synchronous = OFF')
      this.#db.pragma('temp_store = MEMORY')
      // Checkpoints copy the WAL back and fsync; fewer, larger ones keep them off the capture's path.
      this.#db.pragma('wal_autocheckpoint = 20000')
      this.#db.exec(SCHEMA)
    }
    this.#stmts = this.prepare()
    this.#reload()
  }

  private prepare() {
    const db = this.#db
    return {
      getMeta: db.prepare('SELECT value FROM meta WHERE key = ?').pluck(),
      setMeta: db.prepare(
        'INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value',
      ),
      putRow: db.prepare('INSERT INTO row_delta (tbl, key, lsn, image) VALUES (?, ?, ?, ?)'),
      putTxn: db.prepare(
        'INSERT INTO txn (lsn, commit_us, kind, gtid, sql, changes, target_lsn) VALUES (?, ?, ?, ?, ?, ?, ?)',
      ),
      // Commit times grow with LSN, so the newest transaction by time is the newest by LSN: one seek in txn_time
      // (`max(lsn) ... WHERE commit_us <= ?` walked every LSN down from the newest: 180 ms at 1M transactions).
      lsnAt: db.prepare('SELECT lsn FROM txn WHERE commit_us <= ? ORDER BY commit_us DESC LIMIT 1').pluck(),
      firstTxn: db.prepare('SELECT lsn, commit_us FROM txn ORDER BY lsn LIMIT 1'),
      timeOf: db.prepare('SELECT commit_us FROM txn WHERE lsn = ?').pluck(),
      newIncarnation: db.prepare('INSERT INTO incarnation (created_lsn, schema_json) VALUES (?, ?)'),
      dropIncarnation: db.prepare('UPDATE incarnation SET dropped_lsn = ? WHERE id = ?'),
      putName: db.prepare('INSERT OR REPLACE INTO table_name (tbl, lsn, db, name) VALUES (?, ?, ?, ?)'),
      putDb: db.prepare('INSERT OR REPLACE INTO db_version (db, lsn, create_sql) VALUES (?, ?, ?)'),
      incarnations: db.prepare('SELECT id, created_lsn, dropped_lsn, schema_json FROM incarnation'),
      names: db.prepare('SELECT tbl, lsn, db, name FROM table_name ORDER BY tbl, lsn'),
      putSchema: db.prepare('INSERT OR REPLACE INTO table_schema (tbl, lsn, schema_json) VALUES (?, ?, ?)'),
      schemas: db.prepare('SELECT tbl, lsn, schema_json FROM table_schema ORDER BY tbl, lsn'),
      dbVersions: db.prepare('SELECT db, lsn, create_sql FROM db_version ORDER BY db, lsn'),
    }
  }

  getMeta(key: string): string | undefined {
    return this.#stmts.getMeta.get(key) as string | undefined
  }

  setMeta(key: string, value: string): void {
    this.#stmts.setMeta.run(key, value)
  }

  /** Runs `fn` in one SQLite transaction (nested calls join the outer one). */
  transaction<T>(fn: () => T): T {
    return this.#db.transaction(fn)()
  }

  /** Opens a write batch if none is open. */
  begin(): void {
    if (!this.#db.inTransaction) this.#db.exec('BEGIN')
  }

  get inBatch(): boolean {
    return this.#db.inTransaction
  }

  /** Commits the open batch, recording `meta` (e.g. the binlog position it ends at) in the same transaction. */
  flush(meta: Record<string, string> = {}): void {
    if (!this.#db.inTransaction) this.begin()
    for (const [key, value] of Object.entries(meta)) this.setMeta(key, value)
    this.setMeta('change_records', String(this.#changeRecords))
    this.setMeta('reserved_lsn', String(this.#lastLsn))
    this.#db.exec('COMMIT')
  }

  /** Drops the open batch (e.g. the capture stopped mid-transaction). */
  rollback(): void {
    if (this.#db.inTransaction) this.#db.exec('ROLLBACK')
    this.#reload()
  }

  /**
   * Catches a reader up with what the writer committed since (new transactions, backtracks); a reader that stays
   * open (the console) calls it before each look.
   */
  refresh(): void {
    if (this.#readonly && !this.#db.inTransaction) settleAside(this.path)
    this.#reload()
  }

  /** Row versions waiting in the delta, and for how long (ms); see the class's comment. */
  get delta(): { rows: number; ageMillis: number } {
    return { rows: this.#deltaRows, ageMillis: this.#deltaRows === 0 ? 0 : Date.now() - this.#deltaSince }
  }

  /**
   * Merges the delta into `row_version` (inside the open batch, if any; else in a transaction of its own). Cheap
   * when the delta is empty. Readers call nothing: they settle when they open and on `refresh()`.
   */
  settle(): void {
    this.settleStep(Number.POSITIVE_INFINITY)
  }

  /**
   * Merges the oldest `rows` versions of the delta (all of an LSN's versions but at the step's edge), so that a long
   * merge can go in steps between the capture's batches. Returns whether the delta is empty now.
   */
  settleStep(rows: number): boolean {
    if (this.#readonly || this.#deltaRows === 0) return true
    const emptied = this.transaction(() => mergeDelta(this.#db, rows))
    // The count is this connection's: another may have merged some, so a delta left over counts at least one.
    this.#deltaRows = emptied ? 0 : Math.max(1, this.#deltaRows - rows)
    return emptied
  }

  /** Reads the counters the log keeps in memory back from what is committed. */
  #reload(): void {
    const last = this.#db.prepare('SELECT lsn, commit_us FROM txn ORDER BY lsn DESC LIMIT 1').get() as
      { lsn: number; commit_us: number } | undefined
    this.#lastLsn = Math.max(last?.lsn ?? 0, Number(this.getMeta('reserved_lsn') ?? 0))
    this.#lastCommitMicros = last?.commit_us ?? 0
    this.#changeRecords = Number(this.getMeta('change_records') ?? 0)
    this.#backtracks = this.#loadBacktracks()
    const firstDelta = this.#hasTable('row_delta')
      ? (this.#db.prepare('SELECT lsn FROM row_delta ORDER BY seq LIMIT 1').pluck().get() as number | undefined)
      : undefined
    if (this.#readonly) {
      // Versions from the delta's first LSN on are not in row_version (the writer was busy): read as of before it.
      if (firstDelta !== undefined) this.#lastLsn = Math.min(this.#lastLsn, firstDelta - 1)
    } else {
      this.#deltaRows = firstDelta === undefined ? 0 : 1
      this.#deltaSince = Date.now()
    }
  }

  /** Whether the log's file has a table (a log written by an older version may lack newer ones). */
  #hasTable(name: string): boolean {
    return this.#db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?").get(name) !== undefined
  }

  /** The backtracks the log reads through: those recorded as transactions, and those kept from before the window. */
  #loadBacktracks(): BacktrackEvent[] {
    const sql =
      `SELECT lsn, target_lsn FROM txn WHERE kind = 'backtrack'` +
      (this.#hasTable('collapsed_backtrack') ? ' UNION SELECT lsn, target_lsn FROM collapsed_backtrack' : '') +
      ' ORDER BY lsn'
    return (this.#db.prepare(sql).all() as { lsn: number; target_lsn: number }[]).map((row) => ({
      lsn: row.lsn,
      targetLsn: row.target_lsn,
    }))
  }

  /** Reserves the LSN of the next transaction. */
  nextLsn(): number {
    return ++this.#lastLsn
  }

  get lastLsn(): number {
    return this.#lastLsn
  }

  /** Commit time of the newest transaction, in microseconds (0 when empty). */
  get lastCommitMicros(): number {
    return this.#lastCommitMicros
  }

  /** Number of row versions stored (Aurora's "change records"). */
  get changeRecords(): number {
    return this.#changeRecords
  }

  putRow(tbl: number, key: Buffer, lsn: number, image: Buffer | null): void {
    this.#stmts.putRow.run(tbl, key, lsn, image)
    if (this.#deltaRows++ === 0) this.#deltaSince = Date.now()
    this.#changeRecords++
  }

  /** Records a transaction; commit times must increase strictly with LSN. */
  putTxn(txn: Omit<TxnRecord, 'targetLsn'> & { targetLsn?: number | null }): void {
    if (txn.commitMicros <= this.#lastCommitMicros) {
      throw new Error(
        `commit time ${txn.commitMicros} of LSN ${txn.lsn} is not after ${this.#lastCommitMicros}: the page log's times must increase`,
      )
    }
    this.#stmts.putTxn.run(txn.lsn, txn.commitMicros, txn.kind, txn.gtid, txn.sql, txn.changes, txn.targetLsn ?? null)
    this.#lastCommitMicros = txn.commitMicros
    if (txn.kind === 'backtrack') this.#backtracks.push({ lsn: txn.lsn, targetLsn: txn.targetLsn! })
  }

  createDatabase(db: string, lsn: number, createSql: string): void {
    this.#stmts.putDb.run(db, lsn, createSql)
  }

  dropDatabase(db: string, lsn: number): void {
    this.#stmts.putDb.run(db, lsn, null)
  }

  createTable(db: string, name: string, schema: TableSchema, lsn: number): number {
    const id = Number(this.#stmts.newIncarnation.run(lsn, JSON.stringify(schema)).lastInsertRowid)
    this.#stmts.putName.run(id, lsn, db, name)
    return id
  }

  dropTable(id: number, lsn: number): void {
    this.#stmts.dropIncarnation.run(lsn, id)
    this.#db.prepare('INSERT OR IGNORE INTO table_drop (tbl, lsn) VALUES (?, ?)').run(id, lsn)
  }

  /** A definition change that keeps every row as it is (indexes, constraints, table options). */
  alterSchema(id: number, lsn: number, schema: TableSchema): void {
    this.#stmts.putSchema.run(id, lsn, JSON.stringify(schema))
  }

  renameTable(id: number, lsn: number, db: string, name: string): void {
    this.#stmts.putName.run(id, lsn, db, name)
  }

  addMarker(name: string, micros: number): void {
    this.#db.prepare('INSERT OR REPLACE INTO marker (name, commit_us) VALUES (?, ?)').run(name, micros)
  }

  marker(name: string): number | undefined {
    return this.#db.prepare('SELECT commit_us FROM marker WHERE name = ?').pluck().get(name) as number | undefined
  }

  markers(): { name: string; micros: number }[] {
    return this.#db.prepare('SELECT name, commit_us AS micros FROM marker ORDER BY commit_us').all() as {
      name: string
      micros: number
    }[]
  }

  /** Stores (or updates) a backtrack request's record, kept as JSON. */
  putBacktrackRequest(id: string, requestedMicros: number, record: unknown): void {
    this.#db
      .prepare('INSERT OR REPLACE INTO backtrack_request (id, requested_us, record_json) VALUES (?, ?, ?)')
      .run(id, requestedMicros, JSON.stringify(record))
  }

  /** Backtrack request records, newest first. */
  backtrackRequests(): unknown[] {
    return (
      this.#db
        .prepare('SELECT record_json FROM backtrack_request ORDER BY requested_us DESC, id')
        .pluck()
        .all() as string[]
    ).map((json) => JSON.parse(json) as unknown)
  }

  get backtrackEvents(): readonly BacktrackEvent[] {
    return this.#backtracks
  }

  /** The LSN of the last transaction committed at or before `micros` (0 when none). */
  lsnAt(micros: number): number {
    const lsn = (this.#stmts.lsnAt.get(micros) as number | undefined) ?? 0
    // A reader's log ends where its rows do (see the class's comment).
    return this.#readonly ? Math.min(lsn, this.#lastLsn) : lsn
  }

  /** Commit time of an LSN's transaction. */
  timeOf(lsn: number): number | undefined {
    return this.#stmts.timeOf.get(lsn) as number | undefined
  }

  /** Classifies a time: before the log (`past`), within it, after its newest transaction and `now` (`future`). */
  resolveTime(micros: number, nowMicros: number): TimeResolution {
    const first = this.#stmts.firstTxn.get() as { lsn: number; commit_us: number } | undefined
    if (first === undefined) return { kind: 'nodata', lsn: 0 }
    if (micros > nowMicros) return { kind: 'future', lsn: this.#lastLsn }
    if (micros < first.commit_us) return { kind: 'past', lsn: first.lsn }
    return { kind: 'present', lsn: this.lsnAt(micros) }
  }

  /** The earliest commit time kept (the window's start), or undefined when empty. */
  earliestMicros(): number | undefined {
    return (this.#stmts.firstTxn.get() as { commit_us: number } | undefined)?.commit_us
  }

  /** The state as of LSN `lsn`, read through backtracks. */
  viewAt(lsn: number): View {
    return viewAt(lsn, this.#backtracks)
  }

  /** The current state's view. */
  headView(): View {
    return this.viewAt(this.#lastLsn)
  }

  /** Every incarnation, with its name as of `view` (incarnations not alive in the view included). */
  incarnations(view?: View): TableIncarnation[] {
    const names = this.#stmts.names.all() as { tbl: number; lsn: number; db: string; name: string }[]
    const byTable = new Map<number, { lsn: number; db: string; name: string }[]>()
    for (const row of names) {
      const list = byTable.get(row.tbl) ?? []
      list.push(row)
      byTable.set(row.tbl, list)
    }
    const schemas = new Map<number, { lsn: number; json: string }[]>()
    for (const row of this.#stmts.schemas.all() as { tbl: number; lsn: number; schema_json: string }[]) {
      const list = schemas.get(row.tbl) ?? []
      list.push({ lsn: row.lsn, json: row.schema_json })
      schemas.set(row.tbl, list)
    }
    const drops = new Map<number, number[]>()
    if (this.#hasTable('table_drop')) {
      for (const row of this.#db.prepare('SELECT tbl, lsn FROM table_drop ORDER BY tbl, lsn').all() as {
        tbl: number
        lsn: number
      }[]) {
        drops.set(row.tbl, [...(drops.get(row.tbl) ?? []), row.lsn])
      }
    }
    const inView = (lsn: number) => view === undefined || view.some((range) => lsn > range.lo && lsn <= range.hi)
    return (
      this.#stmts.incarnations.all() as {
        id: number
        created_lsn: number
        dropped_lsn: number | null
        schema_json: string
      }[]
    ).map((row) => {
      const versions = byTable.get(row.id) ?? []
      const named = [...versions].reverse().find((version) => inView(version.lsn)) ?? versions[0]!
      return {
        id: row.id,
        database: named.db,
        name: named.name,
        createdLsn: row.created_lsn,
        droppedLsn: row.dropped_lsn,
        drops: drops.get(row.id) ?? (row.dropped_lsn === null ? [] : [row.dropped_lsn]),
        schema: JSON.parse(
          [...(schemas.get(row.id) ?? [])].reverse().find((version) => inView(version.lsn))?.json ?? row.schema_json,
        ) as TableSchema,
      }
    })
  }

  /** Incarnations alive in `view`: created inside it and not dropped inside it. */
  tablesIn(view: View): TableIncarnation[] {
    const inView = (lsn: number) => view.some((range) => lsn > range.lo && lsn <= range.hi)
    return this.incarnations(view).filter(
      (table) =>
        inView(table.createdLsn) &&
        !(table.drops ?? (table.droppedLsn === null ? [] : [table.droppedLsn])).some((drop) => inView(drop)),
    )
  }

  /** Databases that exist in `view`, with their CREATE DATABASE text. */
  databasesIn(view: View): Map<string, string> {
    const inView = (lsn: number) => view.some((range) => lsn > range.lo && lsn <= range.hi)
    const result = new Map<string, string>()
    const latest = new Map<string, string | null>()
    for (const row of this.#stmts.dbVersions.all() as { db: string; lsn: number; create_sql: string | null }[]) {
      if (inView(row.lsn)) latest.set(row.db, row.create_sql)
    }
    for (const [db, sql] of latest) if (sql !== null) result.set(db, sql)
    return result
  }

  /** A key's image in `view` (null: no such row). */
  rowAt(tbl: number, key: Buffer, view: View): Buffer | null {
    this.settle()
    const condition = rangeCondition('+lsn', view)
    let statement = this.#rowAtStatements.get(view.length)
    if (statement === undefined) {
      statement = this.#db.prepare(
        `SELECT image FROM row_version WHERE tbl = ? AND key = ? AND ${condition.sql} ORDER BY lsn DESC LIMIT 1`,
      )
      this.#rowAtStatements.set(view.length, statement)
    }
    const row = statement.get(tbl, key, ...condition.params) as { image: Buffer | null } | undefined
    return row?.image ?? null
  }

  /**
   * The newest version of each key of a table in `view` that is a row (not a deletion), in key order. SQLite picks
   * it: with max(lsn) in a GROUP BY key, a bare column comes from the row holding the maximum (documented SQLite
   * behaviour), and the groups stream off the primary key in order, so superseded versions never reach JavaScript.
   * `+lsn` keeps SQLite off the LSN index (a view covers most LSNs; that index would mean sorting every version).
   * Hex text, because better-sqlite3 makes each BLOB a separately allocated Buffer (about 3.5 µs a row here), while a
   * hex string decodes into the Buffer pool, or into a reused buffer, at a fraction of that.
   */
  #newestStatement(tbl: number, view: View) {
    const condition = rangeCondition('+lsn', view)
    const statement = this.#db
      .prepare(
        `SELECT hex(key), hex(image) FROM (SELECT key, image, max(lsn) FROM row_version WHERE tbl = ? AND ${condition.sql} GROUP BY key)
          WHERE image IS NOT NULL`,
      )
      .raw()
    return { statement, params: [tbl, ...condition.params] }
  }

  /** Streams the rows of a table in `view` (key order), without holding them in memory. */
  *rowsIn(tbl: number, view: View): Generator<{ key: Buffer; image: Buffer }> {
    this.settle()
    const { statement, params } = this.#newestStatement(tbl, view)
    for (const [key, image] of statement.iterate(...params) as Iterable<[string, string]>) {
      yield { key: Buffer.from(key, 'hex'), image: Buffer.from(image, 'hex') }
    }
  }

  /**
   * `rowsIn` without the keys: what rebuilding a table needs. Each image is a view into its batch's buffer
   * (`imageBatchesIn`, whose order this is: key order but for an unusually large image, which comes a little later).
   */
  *imagesIn(tbl: number, view: View): Generator<{ image: Buffer }> {
    for (const { images, ends } of this.imageBatchesIn(tbl, view)) {
      let start = 0
      for (const end of ends) {
        yield { image: images.subarray(start, end) }
        start = end
      }
    }
  }

  /**
   * The images of `imagesIn` in batches of consecutive keys, each batch one statement that hands over one BLOB: a
   * row at a time, better-sqlite3's per-row cost (a call, an array, a string or Buffer per value) was most of the
   * CPU of rebuilding a table. A batch is the newest version of the next few thousand keys after the previous
   * batch's last key (GROUP BY key with max(lsn), as `#newestStatement`), so each starts with one seek on the primary
   * key; group_concat lays the BLOBs end to end byte for byte (the log is UTF-8: no conversion) and lists their
   * lengths. The key count adapts to the images' size (about 512 KiB a batch), and an image more than four times the recent average comes
   * on its own, so no batch holds more than 2 MiB of images (the larger rows are yielded after the batch's others).
   */
  *imageBatchesIn(tbl: number, view: View): Generator<ImageBatch> {
    this.settle()
    const condition = rangeCondition('+lsn', view)
    const newest = (bounds: string) =>
      `SELECT key AS k, image, max(lsn) FROM row_version WHERE tbl = ? ${bounds} AND ${condition.sql} GROUP BY key`
    const batch = (after: string) =>
      this.#db
        .prepare(
          `SELECT max(k), count(image), count(small), group_concat(length(small), ','),
              CAST(group_concat(small, '') AS BLOB)
            FROM (SELECT k, image, iif(length(image) <= ?, image, NULL) AS small
                  FROM (${newest(after)} ORDER BY key LIMIT ?))`,
        )
        .raw()
    const large = (after: string) =>
      this.#db.prepare(`SELECT image FROM (${newest(`${after} AND key <= ?`)}) WHERE length(image) > ?`).pluck()
    const statements = {
      first: { batch: batch(''), large: large('') },
      next: { batch: batch('AND key > ?'), large: large('AND key > ?') },
    }
    let last: unknown
    let rows = BATCH_FIRST_ROWS
    let averageBytes = BATCH_BYTES / BATCH_FIRST_ROWS
    for (;;) {
      const { batch, large } = last === undefined ? statements.first : statements.next
      const bound = last === undefined ? [] : [last]
      const largest = Math.max(1, Math.floor(4 * averageBytes))
      const [lastKey, count, small, lengths, images] = batch.get(largest, tbl, ...bound, ...condition.params, rows) as [
        unknown,
        number,
        number,
        string | null,
        Buffer | null,
      ]
      if (lastKey === null) return
      if (small > 0) {
        const ends = batchEnds(lengths!, small)
        if (images!.length !== ends[small - 1]) {
          throw new Error(`page log: a batch of ${small} images holds ${images!.length} bytes, not ${ends[small - 1]}`)
        }
        yield { images: images!, ends }
      }
      if (count > small) {
        for (const image of large.iterate(tbl, ...bound, lastKey, ...condition.params, largest) as Iterable<Buffer>) {
          yield { images: image, ends: Int32Array.of(image.length) }
        }
      }
      last = lastKey
      if (count > 0 && small > 0) {
        averageBytes = images!.length / small
        rows = Math.max(1, Math.min(BATCH_MAX_ROWS, Math.floor(BATCH_BYTES / averageBytes)))
      } else if (count > 0) {
        // Only large images: aim at the size they have.
        averageBytes *= 4
        rows = Math.max(1, Math.floor(rows / 4))
      }
    }
  }

  /** Counts the rows of a table in `view`. */
  countRowsIn(tbl: number, view: View): number {
    this.settle()
    const condition = rangeCondition('+lsn', view)
    return this.#db
      .prepare(
        `SELECT count(*) FROM (SELECT image, max(lsn) FROM row_version WHERE tbl = ? AND ${condition.sql} GROUP BY key)
          WHERE image IS NOT NULL`,
      )
      .pluck()
      .get(tbl, ...condition.params) as number
  }

  /** Keys of `tbl` with a version inside `ranges`: the only keys whose value can differ between two views. */
  *changedKeys(tbl: number, ranges: readonly LsnRange[]): Generator<Buffer> {
    if (ranges.length === 0) return
    this.settle()
    const condition = rangeCondition('lsn', ranges)
    const statement = this.#db
      // Without the hint SQLite scans every version of the table through the primary key.
      .prepare(`SELECT DISTINCT key FROM row_version INDEXED BY row_version_lsn WHERE ${condition.sql} AND tbl = ?`)
      .pluck()
    yield* statement.iterate(...condition.params, tbl) as Iterable<Buffer>
  }

  /**
   * The keys of `tbl` with a version inside `ranges` (those of `changedKeys`), each with its image in `view` (null: no
   * such row there), in key order: what a rewind to `view` writes, found in one statement (a seek per key inside
   * SQLite, not a call per key from JavaScript). GROUP BY sorts the keys on the way (DISTINCT then ORDER BY would
   * sort twice). Hex text for the reason `rowsIn` gives.
   */
  *changedRowsAt(tbl: number, ranges: readonly LsnRange[], view: View): Generator<ChangedRow> {
    if (ranges.length === 0) return
    this.settle()
    const changed = rangeCondition('lsn', ranges)
    const visible = rangeCondition('+v.lsn', view)
    const statement = this.#db
      .prepare(
        `SELECT hex(c.key), (SELECT iif(v.image IS NULL, NULL, hex(v.image)) FROM row_version v
            WHERE v.tbl = ? AND v.key = c.key AND ${visible.sql} ORDER BY v.lsn DESC LIMIT 1)
          FROM (SELECT key FROM row_version INDEXED BY row_version_lsn WHERE ${changed.sql} AND tbl = ?
                GROUP BY key ORDER BY key) c`,
      )
      .raw()
    const rows = statement.iterate(tbl, ...visible.params, ...changed.params, tbl) as Iterable<[string, string | null]>
    for (const [key, image] of rows) {
      yield { key: Buffer.from(key, 'hex'), image: image === null ? null : Buffer.from(image, 'hex') }
    }
  }

  /** Incarnations with a row version inside `ranges`, with how many versions each. */
  tablesChangedIn(ranges: readonly LsnRange[]): Map<number, number> {
    const result = new Map<number, number>()
    if (ranges.length === 0) return result
    this.settle()
    const condition = rangeCondition('lsn', ranges)
    const rows = this.#db
      .prepare(`SELECT tbl, count(*) AS n FROM row_version WHERE ${condition.sql} GROUP BY tbl`)
      .all(...condition.params) as { tbl: number; n: number }[]
    for (const row of rows) result.set(row.tbl, row.n)
    return result
  }

  /** Row versions written by one transaction. */
  rowsOfTxn(lsn: number): { tbl: number; key: Buffer; image: Buffer | null }[] {
    this.settle()
    return this.#db.prepare('SELECT tbl, key, image FROM row_version WHERE lsn = ?').all(lsn) as {
      tbl: number
      key: Buffer
      image: Buffer | null
    }[]
  }

  /** Transactions with commit times in (fromMicros, toMicros], oldest first. */
  txnsBetween(fromMicros: number, toMicros: number): TxnRecord[] {
    return (
      this.#db
        .prepare(
          'SELECT lsn, commit_us, kind, gtid, sql, changes, target_lsn FROM txn WHERE commit_us > ? AND commit_us <= ? ORDER BY lsn',
        )
        .all(fromMicros, toMicros) as TxnRow[]
    ).map(txnOfRow)
  }

  /** DDL and backtrack transactions with commit times in (fromMicros, toMicros], oldest first (an index keeps it short). */
  eventTxns(fromMicros = 0, toMicros = Number.MAX_SAFE_INTEGER): TxnRecord[] {
    return (
      this.#db
        .prepare(
          `SELECT lsn, commit_us, kind, gtid, sql, changes, target_lsn FROM txn
            WHERE kind IN ('ddl', 'backtrack') AND commit_us > ? AND commit_us <= ? ORDER BY lsn`,
        )
        .all(fromMicros, toMicros) as TxnRow[]
    ).map(txnOfRow)
  }

  /** The transaction right before `lsn` (undefined for the first). */
  txnBefore(lsn: number): TxnRecord | undefined {
    const row = this.#db
      .prepare(
        'SELECT lsn, commit_us, kind, gtid, sql, changes, target_lsn FROM txn WHERE lsn < ? ORDER BY lsn DESC LIMIT 1',
      )
      .get(lsn) as TxnRow | undefined
    return row === undefined ? undefined : txnOfRow(row)
  }

  /**
   * Row versions written per interval of `intervalMicros` from `fromMicros` on, up to `toMicros`: [index of the
   * interval, versions], oldest first, intervals without any left out. What Aurora graphs as the change-record rate.
   */
  changesPerInterval(fromMicros: number, toMicros: number, intervalMicros: number): [number, number][] {
    return this.#db
      .prepare(
        // Bound JS numbers are REALs: the cast keeps the division whole.
        `SELECT CAST((commit_us - ?) / ? AS INTEGER) AS slot, sum(changes) FROM txn
          WHERE commit_us >= ? AND commit_us <= ? AND kind <> 'backtrack' GROUP BY slot HAVING sum(changes) > 0 ORDER BY slot`,
      )
      .raw()
      .all(fromMicros, Math.max(1, Math.floor(intervalMicros)), fromMicros, toMicros) as [number, number][]
  }

  /**
   * Forgets history before `micros` (the window's edge): the newest transaction at or before it becomes the first
   * one kept, and `EarliestBacktrackTime` moves there, whatever backtracks the cut goes through.
   *
   * Every state inside the window stays exactly what it was. A state inside the window reads, below the edge, either
   * the state at the edge or the state at the target of a backtrack recorded inside the window (its "anchors"); so
   * each key keeps the version each anchor's state reads and loses every other version from before the edge, a
   * table dropped before the edge goes unless an anchor's state still holds it, and the backtracks recorded before
   * the edge that an anchor's state reads through are kept aside (`collapsed_backtrack`), out of the transactions.
   * Without backtracks the one anchor is the edge: each key keeps its newest version from before it.
   *
   * Only keys with a version since the previous prune, or whose value differs between an anchor that is gone and
   * the edge, are looked at: a prune costs what changed since the previous one, not the size of the database.
   * Returns the number of row versions removed.
   */
  prune(micros: number): number {
    const edge = this.lsnAt(micros)
    const first = this.#stmts.firstTxn.get() as { lsn: number } | undefined
    if (first === undefined || edge <= first.lsn) return 0
    const events = this.#backtracks
    // A state inside the window reads, below the edge, the state at the edge or at the target of a backtrack
    // recorded at or after the edge (one at the edge itself is read through by every later state).
    const anchors = [
      ...new Set([edge, ...events.filter((e) => e.lsn >= edge && e.targetLsn <= edge).map((e) => e.targetLsn)]),
    ].sort((a, b) => a - b)
    const views = anchors.map((anchor) => viewAt(anchor, events))
    const previousAnchors = JSON.parse(this.getMeta('prune_anchors') ?? '[]') as number[]
    // After a rebase everything before the edge is one line of history read as prefixes; a key can only need new
    // versions if it changed after the oldest point any anchor, old or new, stands at.
    const linearBefore = this.getMeta('prune_linear') === '1'
    const since = linearBefore ? Math.min(Number(this.getMeta('prune_edge') ?? 0), ...anchors, ...previousAnchors) : 0
    return this.transaction(() => {
      this.settle()
      const definitions = this.#rebaseDefinitions(edge, anchors, views)
      let total: number
      if (definitions !== undefined) {
        total = this.#rebaseRows(edge, anchors, views, since) + definitions
        this.#db.prepare('DELETE FROM collapsed_backtrack').run()
        this.setMeta('prune_linear', '1')
      } else {
        total = this.#pruneRows(edge, views, [{ lo: 0, hi: edge }]) + this.#pruneDefinitions(edge, views)
        // Backtracks from before the edge that an anchor's state reads through stay, out of the transactions.
        const kept = new Map<number, number>()
        for (const anchor of anchors) {
          for (const event of backtracksThrough(anchor, events)) {
            if (event.lsn < edge) kept.set(event.lsn, event.targetLsn)
          }
        }
        this.#db.prepare('DELETE FROM collapsed_backtrack').run()
        const keep = this.#db.prepare('INSERT INTO collapsed_backtrack (lsn, target_lsn) VALUES (?, ?)')
        for (const [lsn, target] of kept) keep.run(lsn, target)
        this.setMeta('prune_linear', '0')
      }
      this.#db.prepare('DELETE FROM txn WHERE lsn < ?').run(edge)
      this.setMeta('prune_edge', String(edge))
      this.setMeta('prune_anchors', JSON.stringify(anchors))
      this.#changeRecords -= total
      this.setMeta('change_records', String(this.#changeRecords))
      this.#backtracks = this.#loadBacktracks()
      return total
    })
  }

  /**
   * The rebase of row versions: for every key that changed since `since`, its versions from before the edge are
   * replaced by one line of history that holds, at each anchor's LSN, the value that anchor's state reads (a version
   * only where the value changes). Read as a prefix, (0, anchor], it gives the same state the anchor's view gave,
   * so no backtrack from before the edge is needed to read it. Returns the row versions removed, net.
   */
  #rebaseRows(edge: number, anchors: number[], views: View[], since: number): number {
    const db = this.#db
    db.exec(`
      CREATE TEMP TABLE IF NOT EXISTS prune_key (tbl INTEGER NOT NULL, key BLOB NOT NULL, PRIMARY KEY (tbl, key)) WITHOUT ROWID;
      CREATE TEMP TABLE IF NOT EXISTS prune_win (tbl INTEGER NOT NULL, key BLOB NOT NULL, anchor INTEGER NOT NULL, lsn INTEGER NOT NULL, PRIMARY KEY (tbl, key, anchor)) WITHOUT ROWID;
      CREATE TEMP TABLE IF NOT EXISTS prune_line (tbl INTEGER NOT NULL, key BLOB NOT NULL, lsn INTEGER NOT NULL, image BLOB, PRIMARY KEY (tbl, key, lsn)) WITHOUT ROWID;
      DELETE FROM temp.prune_key; DELETE FROM temp.prune_win; DELETE FROM temp.prune_line;`)
    db.prepare(
      'INSERT OR IGNORE INTO temp.prune_key SELECT DISTINCT tbl, key FROM row_version INDEXED BY row_version_lsn WHERE lsn > ? AND lsn <= ?',
    ).run(since, edge)
    views.forEach((view, i) => {
      const inView = rangeCondition('v.lsn', view)
      db.prepare(
        `INSERT INTO temp.prune_win SELECT v.tbl, v.key, ?, max(v.lsn) FROM temp.prune_key k
           JOIN row_version v ON v.tbl = k.tbl AND v.key = k.key WHERE ${inView.sql} GROUP BY v.tbl, v.key`,
      ).run(i, ...inView.params)
    })
    anchors.forEach((anchor, i) => {
      // A version at the anchor where the value read there is not the one read at the anchor before it: the image,
      // or NULL where a row that was there is gone.
      db.prepare(
        `INSERT INTO temp.prune_line
           SELECT k.tbl, k.key, ?, cur.image FROM temp.prune_key k
             LEFT JOIN temp.prune_win wc ON wc.tbl = k.tbl AND wc.key = k.key AND wc.anchor = ?
             LEFT JOIN row_version cur ON cur.tbl = k.tbl AND cur.key = k.key AND cur.lsn = wc.lsn
             LEFT JOIN temp.prune_win wp ON wp.tbl = k.tbl AND wp.key = k.key AND wp.anchor = ?
             LEFT JOIN row_version prev ON prev.tbl = k.tbl AND prev.key = k.key AND prev.lsn = wp.lsn
            WHERE wc.lsn IS NOT wp.lsn AND (cur.image IS NOT NULL OR prev.image IS NOT NULL)`,
      ).run(anchor, i, i - 1)
    })
    const removed = db
      .prepare(
        `DELETE FROM row_version WHERE (tbl, key, lsn) IN (
           SELECT v.tbl, v.key, v.lsn FROM temp.prune_key k JOIN row_version v ON v.tbl = k.tbl AND v.key = k.key AND v.lsn <= ?)`,
      )
      .run(edge).changes
    const added = db
      .prepare('INSERT INTO row_version (tbl, key, lsn, image) SELECT tbl, key, lsn, image FROM temp.prune_line')
      .run().changes
    db.exec('DELETE FROM temp.prune_key; DELETE FROM temp.prune_win; DELETE FROM temp.prune_line;')
    return removed - added
  }

  /**
   * The rebase of definitions: tables, their names and schema versions, and databases, each rewritten as one line
   * of history read as prefixes at the anchors (a table created at the first anchor that holds it, dropped at the
   * first one after that does not). A table some anchors hold and others between them do not cannot be one line;
   * then nothing is written and undefined is returned (the prune keeps the backtracks instead). Returns the row
   * versions removed with the tables that no anchor holds.
   */
  #rebaseDefinitions(edge: number, anchors: number[], views: View[]): number | undefined {
    const db = this.#db
    const held = views.map((view) => new Set(this.tablesIn(view).map((table) => table.id)))
    const tables = db.prepare('SELECT id, schema_json AS json FROM incarnation WHERE created_lsn <= ?').all(edge) as {
      id: number
      json: string
    }[]
    const plan: { id: number; created: number; dropped: number | null }[] = []
    const dead: number[] = []
    for (const table of tables) {
      const holding = anchors.map((_, i) => held[i]!.has(table.id))
      const from = holding.indexOf(true)
      if (from === -1) {
        dead.push(table.id)
        continue
      }
      const to = holding.lastIndexOf(true)
      if (holding.slice(from, to + 1).some((h) => !h)) return undefined
      plan.push({ id: table.id, created: anchors[from]!, dropped: to === anchors.length - 1 ? null : anchors[to + 1]! })
    }
    let deadRows = 0
    for (const id of dead) {
      deadRows += db.prepare('DELETE FROM row_version WHERE tbl = ?').run(id).changes
      db.prepare('DELETE FROM table_name WHERE tbl = ?').run(id)
      db.prepare('DELETE FROM table_schema WHERE tbl = ?').run(id)
      db.prepare('DELETE FROM table_drop WHERE tbl = ?').run(id)
      db.prepare('DELETE FROM incarnation WHERE id = ?').run(id)
    }
    for (const { id, created, dropped } of plan) {
      // Drops inside the window stay; those before the edge become the one at the first anchor without the table.
      db.prepare('DELETE FROM table_drop WHERE tbl = ? AND lsn <= ?').run(id, edge)
      if (dropped !== null) db.prepare('INSERT INTO table_drop (tbl, lsn) VALUES (?, ?)').run(id, dropped)
      db.prepare(
        'UPDATE incarnation SET created_lsn = ?, dropped_lsn = (SELECT max(lsn) FROM table_drop WHERE tbl = ?) WHERE id = ?',
      ).run(created, id, id)
    }
    const schemaOf = new Map(tables.map((table) => [table.id, table.json]))
    // Names and schema versions: at each anchor, the one its view reads; databases likewise (NULL: not there).
    const line = <V>(
      rows: { owner: string | number; lsn: number; value: V }[],
      fallback: (owner: string | number) => V | undefined,
    ): { owner: string | number; lsn: number; value: V }[] => {
      const byOwner = new Map<string | number, { lsn: number; value: V }[]>()
      for (const row of rows) byOwner.set(row.owner, [...(byOwner.get(row.owner) ?? []), row])
      const out: { owner: string | number; lsn: number; value: V }[] = []
      for (const [owner, versions] of byOwner) {
        let previous: V | undefined
        views.forEach((view, i) => {
          const read = versions.filter((version) => happened(version.lsn, view)).at(-1)?.value ?? fallback(owner)
          if (read !== previous && !(i === 0 && read === undefined)) {
            out.push({ owner, lsn: anchors[i]!, value: read as V })
          }
          previous = read
        })
      }
      return out
    }
    const names = db
      .prepare('SELECT tbl AS owner, lsn, json_array(db, name) AS value FROM table_name ORDER BY tbl, lsn')
      .all() as {
      owner: number
      lsn: number
      value: string
    }[]
    const living = new Set(plan.map((p) => p.id))
    const oldNames = names.filter((row) => row.lsn <= edge && living.has(row.owner))
    // A table's name where no name is in view is its first one: keep that first.
    const newNames = line(oldNames, (owner) => oldNames.find((row) => row.owner === owner)?.value)
    db.prepare('DELETE FROM table_name WHERE lsn <= ?').run(edge)
    for (const row of newNames) {
      const [database, name] = JSON.parse(row.value) as [string, string]
      db.prepare('INSERT OR REPLACE INTO table_name (tbl, lsn, db, name) VALUES (?, ?, ?, ?)').run(
        row.owner,
        row.lsn,
        database,
        name,
      )
    }
    const schemas = (
      db
        .prepare('SELECT tbl AS owner, lsn, schema_json AS value FROM table_schema WHERE lsn <= ? ORDER BY tbl, lsn')
        .all(edge) as {
        owner: number
        lsn: number
        value: string
      }[]
    ).filter((row) => living.has(row.owner))
    const newSchemas = line(schemas, (owner) => schemaOf.get(owner as number))
    db.prepare('DELETE FROM table_schema WHERE lsn <= ?').run(edge)
    for (const row of newSchemas) {
      db.prepare('INSERT OR REPLACE INTO table_schema (tbl, lsn, schema_json) VALUES (?, ?, ?)').run(
        row.owner,
        row.lsn,
        row.value,
      )
    }
    const dbs = db
      .prepare('SELECT db AS owner, lsn, create_sql AS value FROM db_version WHERE lsn <= ? ORDER BY db, lsn')
      .all(edge) as {
      owner: string
      lsn: number
      value: string | null
    }[]
    const newDbs = line(dbs, () => undefined).map((row) => ({ ...row, value: row.value ?? null }))
    db.prepare('DELETE FROM db_version WHERE lsn <= ?').run(edge)
    for (const row of newDbs) {
      db.prepare('INSERT OR REPLACE INTO db_version (db, lsn, create_sql) VALUES (?, ?, ?)').run(
        row.owner,
        row.lsn,
        row.value,
      )
    }
    // A database no anchor holds needs no versions from before the edge.
    for (const name of new Set(newDbs.map((row) => row.owner))) {
      if (newDbs.filter((row) => row.owner === name).every((row) => row.value === null)) {
        db.prepare('DELETE FROM db_version WHERE db = ? AND lsn <= ?').run(name, edge)
      }
    }
    return deadRows
  }

  /** Row versions from before `edge` of the keys with a version in `candidates`: the anchors' ones stay. */
  #pruneRows(edge: number, views: View[], candidates: LsnRange[]): number {
    const db = this.#db
    db.exec(`
      CREATE TEMP TABLE IF NOT EXISTS prune_key (tbl INTEGER NOT NULL, key BLOB NOT NULL, PRIMARY KEY (tbl, key)) WITHOUT ROWID;
      CREATE TEMP TABLE IF NOT EXISTS prune_keep (tbl INTEGER NOT NULL, key BLOB NOT NULL, lsn INTEGER NOT NULL, PRIMARY KEY (tbl, key, lsn)) WITHOUT ROWID;
      DELETE FROM temp.prune_key;
      DELETE FROM temp.prune_keep;`)
    const changed = rangeCondition('lsn', candidates)
    db.prepare(
      `INSERT OR IGNORE INTO temp.prune_key SELECT DISTINCT tbl, key FROM row_version INDEXED BY row_version_lsn WHERE ${changed.sql}`,
    ).run(...changed.params)
    for (const view of views) {
      const inView = rangeCondition('v.lsn', view)
      db.prepare(
        `INSERT OR IGNORE INTO temp.prune_keep SELECT v.tbl, v.key, max(v.lsn) FROM temp.prune_key k
           JOIN row_version v ON v.tbl = k.tbl AND v.key = k.key WHERE ${inView.sql} GROUP BY v.tbl, v.key`,
      ).run(...inView.params)
    }
    const removed = db
      .prepare(
        `DELETE FROM row_version WHERE (tbl, key, lsn) IN (
           SELECT v.tbl, v.key, v.lsn FROM temp.prune_key k JOIN row_version v ON v.tbl = k.tbl AND v.key = k.key AND v.lsn <= ?
            WHERE NOT EXISTS (SELECT 1 FROM temp.prune_keep p WHERE p.tbl = v.tbl AND p.key = v.key AND p.lsn = v.lsn))`,
      )
      .run(edge).changes
    // A key every anchor reads as deleted needs no versions from before the edge at all.
    const tombstones = db
      .prepare(
        `DELETE FROM row_version WHERE (tbl, key, lsn) IN (
           SELECT v.tbl, v.key, v.lsn FROM temp.prune_key k JOIN row_version v ON v.tbl = k.tbl AND v.key = k.key AND v.lsn <= ?
            WHERE v.image IS NULL AND NOT EXISTS (
              SELECT 1 FROM row_version w WHERE w.tbl = v.tbl AND w.key = v.key AND w.lsn <= ? AND w.image IS NOT NULL))`,
      )
      .run(edge, edge).changes
    db.exec('DELETE FROM temp.prune_key; DELETE FROM temp.prune_keep;')
    return removed + tombstones
  }

  /**
   * Table incarnations, names, schema versions and database versions from before `edge` that no anchor's state
   * reads. Returns the row versions removed with the incarnations that went.
   */
  #pruneDefinitions(edge: number, views: View[]): number {
    const db = this.#db
    const alive = new Set(views.flatMap((view) => this.tablesIn(view).map((table) => table.id)))
    const dead = (db.prepare('SELECT id FROM incarnation WHERE created_lsn <= ?').pluck().all(edge) as number[]).filter(
      (id) => !alive.has(id),
    )
    let deadRows = 0
    for (const id of dead) {
      deadRows += db.prepare('DELETE FROM row_version WHERE tbl = ?').run(id).changes
      db.prepare('DELETE FROM table_name WHERE tbl = ?').run(id)
      db.prepare('DELETE FROM table_schema WHERE tbl = ?').run(id)
      db.prepare('DELETE FROM table_drop WHERE tbl = ?').run(id)
      db.prepare('DELETE FROM incarnation WHERE id = ?').run(id)
    }
    /** Of versions (in LSN order per owner) from before the edge, those no anchor reads. */
    const unread = <T extends { owner: string | number; lsn: number }>(rows: T[], keepFirst: boolean): T[] => {
      const read = new Set<T>()
      const byOwner = new Map<string | number, T[]>()
      for (const row of rows) byOwner.set(row.owner, [...(byOwner.get(row.owner) ?? []), row])
      for (const list of byOwner.values()) {
        if (keepFirst) read.add(list[0]!)
        for (const view of views) {
          const newest = list.filter((row) => happened(row.lsn, view)).at(-1)
          if (newest !== undefined) read.add(newest)
        }
      }
      return rows.filter((row) => row.lsn <= edge && !read.has(row))
    }
    // A table's first name is also its name where no later one is in view.
    const names = db.prepare('SELECT tbl AS owner, lsn FROM table_name ORDER BY tbl, lsn').all() as {
      owner: number
      lsn: number
    }[]
    for (const row of unread(names, true))
      db.prepare('DELETE FROM table_name WHERE tbl = ? AND lsn = ?').run(row.owner, row.lsn)
    const schemas = db.prepare('SELECT tbl AS owner, lsn FROM table_schema ORDER BY tbl, lsn').all() as {
      owner: number
      lsn: number
    }[]
    for (const row of unread(schemas, false)) {
      db.prepare('DELETE FROM table_schema WHERE tbl = ? AND lsn = ?').run(row.owner, row.lsn)
    }
    const dbs = db.prepare('SELECT db AS owner, lsn, create_sql AS sql FROM db_version ORDER BY db, lsn').all() as {
      owner: string
      lsn: number
      sql: string | null
    }[]
    for (const row of unread(dbs, false))
      db.prepare('DELETE FROM db_version WHERE db = ? AND lsn = ?').run(row.owner, row.lsn)
    // A database every anchor reads as dropped needs no versions from before the edge.
    const left = db.prepare('SELECT db AS owner, lsn, create_sql AS sql FROM db_version WHERE lsn <= ?').all(edge) as {
      owner: string
      lsn: number
      sql: string | null
    }[]
    for (const name of new Set(left.map((row) => row.owner))) {
      if (left.filter((row) => row.owner === name).every((row) => row.sql === null)) {
        db.prepare('DELETE FROM db_version WHERE db = ? AND lsn <= ?').run(name, edge)
      }
    }
    return deadRows
  }

  /**
   * Bytes the log's pages hold (the merged delta's pages are freed for reuse, so the file's size lags behind), with
   * the delta merged first: the bytes of what is kept, not of the order it came in.
   */
  sizeBytes(): number {
    this.settle()
    const pageCount = this.#db.pragma('page_count', { simple: true }) as number
    const freePages = this.#db.pragma('freelist_count', { simple: true }) as number
    const pageSize = this.#db.pragma('page_size', { simple: true }) as number
    return (pageCount - freePages) * pageSize
  }

  checkpoint(): void {
    this.#db.pragma('wal_checkpoint(TRUNCATE)')
  }

  close(): void {
    if (this.#db.inTransaction) this.#db.exec('ROLLBACK')
    this.#db.close()
  }
}

/** Versions a merge moves per statement: a statement's undo journal (in memory) holds every page it changes. */
const MERGE_CHUNK = 8192

/**
 * Moves the delta's oldest `limit` row versions (all by default) into `row_version`, the later of two for one (table,
 * key, LSN) winning. Returns whether the delta is empty now.
 */
function mergeDelta(db: Database.Database, limit = Number.POSITIVE_INFINITY): boolean {
  const bounds = db.prepare('SELECT min(seq) AS lo, max(seq) AS hi FROM row_delta').get() as {
    lo: number | null
    hi: number | null
  }
  if (bounds.lo === null || bounds.hi === null) return true
  const end = Math.min(bounds.hi + 1, bounds.lo + limit)
  const move = db.prepare(
    'INSERT OR REPLACE INTO row_version (tbl, key, lsn, image) SELECT tbl, key, lsn, image FROM row_delta WHERE seq >= ? AND seq < ? ORDER BY seq',
  )
  for (let from = bounds.lo; from < end; from += MERGE_CHUNK) move.run(from, Math.min(end, from + MERGE_CHUNK))
  if (end <= bounds.hi) {
    db.prepare('DELETE FROM row_delta WHERE seq < ?').run(end)
    return false
  }
  db.exec('DELETE FROM row_delta')
  return true
}

/**
 * A reader's settle: merges the delta through a connection of its own, unless the writer is in a batch (it never
 * waits: a reader in the writer's own process would hold up the batch it waits for) or the file cannot be written.
 */
function settleAside(path: string): void {
  let db: Database.Database | undefined
  try {
    db = new Database(path, { fileMustExist: true, timeout: 0 })
    const hasDelta =
      db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'row_delta'").get() !== undefined
    if (!hasDelta || db.prepare('SELECT 1 FROM row_delta LIMIT 1').get() === undefined) return
    db.transaction(() => mergeDelta(db!)).immediate()
  } catch {
    // Busy or read-only: the reader reads as of the delta's start (see PageLog).
  } finally {
    db?.close()
  }
}
