import Database from 'better-sqlite3'
import type { ValueKind } from '@backtrack/binlog'
import { rangeCondition, viewAt, type BacktrackEvent, type LsnRange, type View } from './view.js'

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
  droppedLsn: number | null
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
CREATE TABLE IF NOT EXISTS marker (name TEXT PRIMARY KEY, commit_us INTEGER NOT NULL);
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
 */
export class PageLog {
  readonly #db: Database.Database
  readonly #stmts: ReturnType<PageLog['prepare']>
  #lastLsn!: number
  #lastCommitMicros!: number
  #backtracks!: BacktrackEvent[]
  #changeRecords!: number
  readonly #rowAtStatements = new Map<number, Database.Statement>()
  /** The log's file. */
  readonly path: string

  /**
   * Opens (creating when needed) the log at `path`. `readonly` opens an existing log for reading while the
   * cluster keeps writing it (find, diff, show): WAL readers see committed batches and never block the writer.
   */
  constructor(path: string, options: { readonly?: boolean } = {}) {
    this.path = path
    this.#db = new Database(path, { readonly: options.readonly === true, fileMustExist: options.readonly === true })
    this.#db.pragma('busy_timeout = 5000')
    this.#db.pragma('cache_size = -65536')
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
      putRow: db.prepare('INSERT OR REPLACE INTO row_version (tbl, key, lsn, image) VALUES (?, ?, ?, ?)'),
      putTxn: db.prepare(
        'INSERT INTO txn (lsn, commit_us, kind, gtid, sql, changes, target_lsn) VALUES (?, ?, ?, ?, ?, ?, ?)',
      ),
      lsnAt: db.prepare('SELECT max(lsn) FROM txn WHERE commit_us <= ?').pluck(),
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
    this.#reload()
  }

  /** Reads the counters the log keeps in memory back from what is committed. */
  #reload(): void {
    const last = this.#db.prepare('SELECT lsn, commit_us FROM txn ORDER BY lsn DESC LIMIT 1').get() as
      { lsn: number; commit_us: number } | undefined
    this.#lastLsn = Math.max(last?.lsn ?? 0, Number(this.getMeta('reserved_lsn') ?? 0))
    this.#lastCommitMicros = last?.commit_us ?? 0
    this.#changeRecords = Number(this.getMeta('change_records') ?? 0)
    this.#backtracks = (
      this.#db.prepare(`SELECT lsn, target_lsn FROM txn WHERE kind = 'backtrack' ORDER BY lsn`).all() as {
        lsn: number
        target_lsn: number
      }[]
    ).map((row) => ({ lsn: row.lsn, targetLsn: row.target_lsn }))
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
    return (this.#stmts.lsnAt.get(micros) as number | null) ?? 0
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
      (table) => inView(table.createdLsn) && (table.droppedLsn === null || !inView(table.droppedLsn)),
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
  #newestStatement(tbl: number, view: View, columns: 'key, image' | 'image') {
    const condition = rangeCondition('+lsn', view)
    const hex = columns === 'image' ? 'hex(image)' : 'hex(key), hex(image)'
    const statement = this.#db
      .prepare(
        `SELECT ${hex} FROM (SELECT ${columns}, max(lsn) FROM row_version WHERE tbl = ? AND ${condition.sql} GROUP BY key)
          WHERE image IS NOT NULL`,
      )
      .raw()
    return { statement, params: [tbl, ...condition.params] }
  }

  /** Streams the rows of a table in `view` (key order), without holding them in memory. */
  *rowsIn(tbl: number, view: View): Generator<{ key: Buffer; image: Buffer }> {
    const { statement, params } = this.#newestStatement(tbl, view, 'key, image')
    for (const [key, image] of statement.iterate(...params) as Iterable<[string, string]>) {
      yield { key: Buffer.from(key, 'hex'), image: Buffer.from(image, 'hex') }
    }
  }

  /** `rowsIn` without the keys: what rebuilding a table needs. */
  *imagesIn(tbl: number, view: View): Generator<{ image: Buffer }> {
    for (const image of this.imagesHexIn(tbl, view)) yield { image: Buffer.from(image, 'hex') }
  }

  /** `imagesIn` as hex text, for a consumer that decodes each into a buffer of its own (a table rebuild). */
  *imagesHexIn(tbl: number, view: View): Generator<string> {
    const { statement, params } = this.#newestStatement(tbl, view, 'image')
    for (const [image] of statement.iterate(...params) as Iterable<[string]>) yield image
  }

  /** Counts the rows of a table in `view`. */
  countRowsIn(tbl: number, view: View): number {
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
    const condition = rangeCondition('lsn', ranges)
    const rows = this.#db
      .prepare(`SELECT tbl, count(*) AS n FROM row_version WHERE ${condition.sql} GROUP BY tbl`)
      .all(...condition.params) as { tbl: number; n: number }[]
    for (const row of rows) result.set(row.tbl, row.n)
    return result
  }

  /** Row versions written by one transaction. */
  rowsOfTxn(lsn: number): { tbl: number; key: Buffer; image: Buffer | null }[] {
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
   * Forgets history before `micros`: transactions and row versions older than the window, except each key's
   * newest old version, which becomes its base. Stops short of the oldest LSN a backtrack still reads through.
   * Returns the number of row versions removed.
   */
  prune(micros: number): number {
    let pruneLsn = this.lsnAt(micros)
    for (const event of this.#backtracks) pruneLsn = Math.min(pruneLsn, event.lsn - 1, event.targetLsn)
    const first = this.#stmts.firstTxn.get() as { lsn: number } | undefined
    if (first === undefined || pruneLsn <= first.lsn) return 0
    return this.transaction(() => {
      // A key's newest version at or before pruneLsn stays (moved to pruneLsn); older ones go.
      const removed = this.#db
        .prepare(
          `DELETE FROM row_version WHERE lsn < ? AND EXISTS (
             SELECT 1 FROM row_version newer WHERE newer.tbl = row_version.tbl AND newer.key = row_version.key
               AND newer.lsn > row_version.lsn AND newer.lsn <= ?)`,
        )
        .run(pruneLsn, pruneLsn).changes
      const tombstones = this.#db
        .prepare(
          'DELETE FROM row_version WHERE lsn <= ? AND image IS NULL AND lsn = (SELECT max(lsn) FROM row_version v WHERE v.tbl = row_version.tbl AND v.key = row_version.key AND v.lsn <= ?)',
        )
        .run(pruneLsn, pruneLsn).changes
      const dead = this.#db
        .prepare('SELECT id FROM incarnation WHERE dropped_lsn IS NOT NULL AND dropped_lsn <= ?')
        .pluck()
        .all(pruneLsn) as number[]
      let deadRows = 0
      for (const id of dead) {
        deadRows += this.#db.prepare('DELETE FROM row_version WHERE tbl = ?').run(id).changes
        this.#db.prepare('DELETE FROM table_name WHERE tbl = ?').run(id)
        this.#db.prepare('DELETE FROM table_schema WHERE tbl = ?').run(id)
        this.#db.prepare('DELETE FROM incarnation WHERE id = ?').run(id)
      }
      // Older rows move up to pruneLsn, which keeps the base transaction.
      this.#db.prepare('UPDATE row_version SET lsn = ? WHERE lsn < ?').run(pruneLsn, pruneLsn)
      this.#db.prepare('UPDATE incarnation SET created_lsn = ? WHERE created_lsn < ?').run(pruneLsn, pruneLsn)
      this.#db
        .prepare(
          'UPDATE table_name SET lsn = ? WHERE lsn < ? AND NOT EXISTS (SELECT 1 FROM table_name t2 WHERE t2.tbl = table_name.tbl AND t2.lsn > table_name.lsn AND t2.lsn <= ?)',
        )
        .run(pruneLsn, pruneLsn, pruneLsn)
      this.#db.prepare('DELETE FROM table_name WHERE lsn < ?').run(pruneLsn)
      this.#db
        .prepare(
          'UPDATE table_schema SET lsn = ? WHERE lsn < ? AND NOT EXISTS (SELECT 1 FROM table_schema s2 WHERE s2.tbl = table_schema.tbl AND s2.lsn > table_schema.lsn AND s2.lsn <= ?)',
        )
        .run(pruneLsn, pruneLsn, pruneLsn)
      this.#db.prepare('DELETE FROM table_schema WHERE lsn < ?').run(pruneLsn)
      this.#db
        .prepare(
          'UPDATE db_version SET lsn = ? WHERE lsn < ? AND NOT EXISTS (SELECT 1 FROM db_version d2 WHERE d2.db = db_version.db AND d2.lsn > db_version.lsn AND d2.lsn <= ?)',
        )
        .run(pruneLsn, pruneLsn, pruneLsn)
      this.#db.prepare('DELETE FROM db_version WHERE lsn < ?').run(pruneLsn)
      this.#db.prepare('DELETE FROM db_version WHERE lsn = ? AND create_sql IS NULL').run(pruneLsn)
      this.#db.prepare('DELETE FROM txn WHERE lsn < ?').run(pruneLsn)
      const total = removed + tombstones + deadRows
      this.#changeRecords -= total
      this.setMeta('change_records', String(this.#changeRecords))
      return total
    })
  }

  /** Size of the log file in bytes (main database; WAL excluded). */
  sizeBytes(): number {
    const pageCount = this.#db.pragma('page_count', { simple: true }) as number
    const pageSize = this.#db.pragma('page_size', { simple: true }) as number
    return pageCount * pageSize
  }

  checkpoint(): void {
    this.#db.pragma('wal_checkpoint(TRUNCATE)')
  }

  close(): void {
    if (this.#db.inTransaction) this.#db.exec('ROLLBACK')
    this.#db.close()
  }
}
