import type { Connection, PoolConnection, RowDataPacket } from 'mysql2/promise'
import { loadChunks, loadDataChunksFromBatches, loadRows } from '../load-data.js'
import { expandCounts } from '../page-log/keyless-rows.js'
import { withTableName } from '../ddl/parse-ddl.js'
import { canonicalExpression, qualifiedName, quoteIdent } from '../ddl/sql-tokens.js'
import type { ColumnMeta, PageLog, TableIncarnation } from '../page-log/page-log.js'
import { keyCells } from '../page-log/row-key.js'
import { symmetricDifference, type LsnRange, type View } from '../page-log/view.js'
import type { Cell } from '@backtrack/binlog'

/** What a rewind did, for the record and the benchmarks. */
export interface ApplyStats {
  tablesDropped: number
  tablesCreated: number
  tablesRenamed: number
  rowsRestored: number
  rowsDeleted: number
  databasesCreated: number
  databasesDropped: number
}

const DELETE_BATCH = 500
/** A table with at least this many changed versions, and at least this share of its rows, is reloaded whole. */
const RELOAD_MIN_VERSIONS = 20_000
const RELOAD_SHARE = 0.3

const MAX_HELD_KEYS = 100_000

/** Whether two values of the column are equal exactly when their canonical bytes in the log are. */
function hasExactEquality(column: ColumnMeta): boolean {
  if (column.kind === 'bit' || column.kind === 'enum' || column.kind === 'set' || column.kind === 'temporal')
    return true
  return column.kind === 'number' && !['float', 'double', 'real'].includes(column.dataType)
}

interface ApplyKeysResult {
  restored: number
  deleted: number
}

/**
 * Makes the server's data equal to the state of one view of the page log, starting from the state of another,
 * touching only what differs: keys with a version between the two views get their target image back, tables alive
 * in one view only are dropped or rebuilt (bulk load), renamed tables get their name back, and databases follow.
 * Every statement runs with `sql_log_bin = 0`, so the rewind is not captured as new history. Each step is
 * idempotent, so running the same rewind again after a failure converges on the target state.
 */
export interface BacktrackExecutorOptions {
  /** Keys to delete that one pass over the log keeps in memory (beyond it they are read again). Default 100,000. */
  maxHeldKeys?: number
}

export class BacktrackExecutor {
  readonly #connection: Connection | PoolConnection
  readonly #log: PageLog
  readonly #maxHeldKeys: number
  /** `prepareSession()` ran: loads need not set time_zone and sql_mode themselves. */
  #prepared = false

  constructor(connection: Connection | PoolConnection, log: PageLog, options: BacktrackExecutorOptions = {}) {
    this.#connection = connection
    this.#log = log
    this.#maxHeldKeys = options.maxHeldKeys ?? MAX_HELD_KEYS
  }

  async prepareSession(): Promise<void> {
    await this.#connection.query(
      "SET SESSION sql_log_bin = 0, SESSION foreign_key_checks = 0, SESSION unique_checks = 0, SESSION time_zone = '+00:00', SESSION sql_mode = 'NO_AUTO_VALUE_ON_ZERO'",
    )
    this.#prepared = true
  }

  async apply(from: View, to: View): Promise<ApplyStats> {
    const stats: ApplyStats = {
      tablesDropped: 0,
      tablesCreated: 0,
      tablesRenamed: 0,
      rowsRestored: 0,
      rowsDeleted: 0,
      databasesCreated: 0,
      databasesDropped: 0,
    }
    const log = this.#log
    const sql = this.#connection
    const diff = symmetricDifference(from, to)
    const dbsFrom = log.databasesIn(from)
    const dbsTo = log.databasesIn(to)
    const tablesFrom = new Map(log.tablesIn(from).map((table) => [table.id, table]))
    const tablesTo = new Map(log.tablesIn(to).map((table) => [table.id, table]))
    const rebuilt = new Set<number>()

    for (const [db, createSql] of dbsTo) {
      if (dbsFrom.has(db)) continue
      await sql.query(createSql.replace(/^CREATE DATABASE\s+(IF NOT EXISTS\s+)?/i, 'CREATE DATABASE IF NOT EXISTS '))
      stats.databasesCreated++
    }
    for (const [id, table] of tablesFrom) {
      if (tablesTo.has(id)) continue
      await sql.query(`DROP TABLE IF EXISTS ${qualifiedName(table.database, table.name)}`)
      stats.tablesDropped++
    }
    // Renames go through temporary names so that swaps (a→b, b→a) cannot collide.
    const renamed = [...tablesTo.values()].filter((table) => {
      const before = tablesFrom.get(table.id)
      return before !== undefined && (before.database !== table.database || before.name !== table.name)
    })
    // A rewind run again after a failure finds some renames done already: each step is skipped when it is.
    for (const table of renamed) {
      const before = tablesFrom.get(table.id)!
      if (!(await this.#exists(before.database, before.name))) continue
      await sql.query(
        `RENAME TABLE ${qualifiedName(before.database, before.name)} TO ${qualifiedName(before.database, `__bt_rename_${table.id}`)}`,
      )
    }
    for (const table of renamed) {
      const before = tablesFrom.get(table.id)!
      if (!(await this.#exists(before.database, `__bt_rename_${table.id}`))) continue
      await sql.query(
        `RENAME TABLE ${qualifiedName(before.database, `__bt_rename_${table.id}`)} TO ${qualifiedName(table.database, table.name)}`,
      )
      stats.tablesRenamed++
    }
    for (const [id, table] of tablesTo) {
      const before = tablesFrom.get(id)
      // Alive in both but defined differently (an index or constraint added or dropped since): rebuild it.
      const redefined =
        before !== undefined &&
        withTableName(before.schema.createSql, 'x') !== withTableName(table.schema.createSql, 'x')
      if (before !== undefined && !redefined) continue
      stats.rowsRestored += await this.#rebuild(table, to)
      if (redefined) rebuilt.add(id)
      stats.tablesCreated++
    }
    const changed = log.tablesChangedIn(diff)
    for (const [id, versions] of changed) {
      const table = tablesTo.get(id)
      if (table === undefined || !tablesFrom.has(id) || rebuilt.has(id)) continue
      if (table.schema.keyColumns.length === 0) {
        await sql.query(`DELETE FROM ${qualifiedName(table.database, table.name)}`)
        stats.rowsRestored += await this.#load(table, expandCounts(log.imagesIn(id, to), table.schema))
        continue
      }
      if (versions >= RELOAD_MIN_VERSIONS && versions >= RELOAD_SHARE * (await this.#estimatedRows(table))) {
        // Most of the table changed (an UPDATE without WHERE): emptying it and loading it whole beats restoring
        // the changed keys one by one.
        stats.rowsRestored += await this.#reload(table, to)
        continue
      }
      const { restored, deleted } = await this.#applyKeys(table, diff, to)
      stats.rowsRestored += restored
      stats.rowsDeleted += deleted
    }
    for (const db of dbsFrom.keys()) {
      if (dbsTo.has(db)) continue
      await sql.query(`DROP DATABASE IF EXISTS ${quoteIdent(db)}`)
      stats.databasesDropped++
    }
    return stats
  }

  async #rebuild(table: TableIncarnation, view: View): Promise<number> {
    await this.#connection.query(`DROP TABLE IF EXISTS ${qualifiedName(table.database, table.name)}`)
    await this.#connection.query(`USE ${quoteIdent(table.database)}`)
    await this.#connection.query(withTableName(table.schema.createSql, table.name))
    return this.#loadWhole(table, view)
  }

  /** Loads every row of a table as of `view` into the (empty) table. */
  async #loadWhole(table: TableIncarnation, view: View): Promise<number> {
    if (table.schema.keyColumns.length === 0) {
      return this.#load(table, expandCounts(this.#log.imagesIn(table.id, view), table.schema))
    }
    // A keyed table's images go from the log's batches straight into LOAD DATA text, no Buffer per row.
    const chunks = loadDataChunksFromBatches(this.#log.imageBatchesIn(table.id, view), table.schema.columns.length)
    try {
      const result = await loadChunks(
        this.#connection,
        { database: table.database, table: table.name, columns: table.schema.columns },
        chunks,
        { sessionPrepared: this.#prepared },
      )
      return result.affectedRows
    } finally {
      // A load that failed leaves the generator suspended, its SQLite statement open: close it.
      chunks.return(undefined)
    }
  }

  /**
   * Loads rows streamed from the page log. The rows' generator is closed whatever happens: an abandoned one would
   * keep its SQLite statement open.
   */
  async #load(table: TableIncarnation, rows: Iterable<Buffer>): Promise<number> {
    const iterator = rows[Symbol.iterator]()
    try {
      const result = await loadRows(
        this.#connection,
        { database: table.database, table: table.name, columns: table.schema.columns },
        { [Symbol.iterator]: () => iterator },
        { sessionPrepared: this.#prepared },
      )
      return result.affectedRows
    } finally {
      iterator.return?.()
    }
  }

  /**
   * Empties a table and loads all its rows as of `view`, keeping the table itself (triggers, foreign keys that
   * name it) and its AUTO_INCREMENT counter.
   */
  async #reload(table: TableIncarnation, view: View): Promise<number> {
    const name = qualifiedName(table.database, table.name)
    const [[info]] = await this.#connection.query<RowDataPacket[]>(
      'SELECT AUTO_INCREMENT AS next FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?',
      [table.database, table.name],
    )
    await this.#connection.query(`TRUNCATE TABLE ${name}`)
    const rows = await this.#loadWhole(table, view)
    const next = info?.next === null || info?.next === undefined ? undefined : BigInt(String(info.next))
    if (next !== undefined) await this.#connection.query(`ALTER TABLE ${name} AUTO_INCREMENT = ${next}`)
    return rows
  }

  async #exists(database: string, name: string): Promise<boolean> {
    const [rows] = await this.#connection.query<RowDataPacket[]>(
      'SELECT 1 FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?',
      [database, name],
    )
    return rows.length > 0
  }

  /** The server's estimate of a table's row count (InnoDB statistics: cheap, roughly right). */
  async #estimatedRows(table: TableIncarnation): Promise<number> {
    const [rows] = await this.#connection.query<RowDataPacket[]>(
      'SELECT TABLE_ROWS AS n FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?',
      [table.database, table.name],
    )
    return Number(rows[0]?.n ?? 0)
  }

  /** Runs `fn` on each key, awaiting it; the keys' generator is closed whatever happens. */
  async #eachKey(keys: Iterable<Buffer>, fn: (key: Buffer) => Promise<void>): Promise<void> {
    const iterator = keys[Symbol.iterator]()
    try {
      for (let next = iterator.next(); !next.done; next = iterator.next()) await fn(next.value)
    } finally {
      iterator.return?.()
    }
  }

  /**
   * Gives the changed keys of a keyed table their images as of the target view, the way a replica applies row
   * events rather than as SQL per row: the images of the keys that exist there are streamed, in key order, into one
   * `LOAD DATA ... REPLACE` (it inserts a row that is missing and overwrites one that is there; InnoDB updates it in
   * place when no other unique key is involved), and the keys that do not exist there are deleted, in batches.
   *
   * When the key's values compare equal only when their bytes are equal (integers, decimals, times, BIT, ENUM, SET),
   * the order does not matter and one pass over the log does both, the deletes after the load. A string or FLOAT key
   * can compare equal to another key's bytes (case, accents, trailing spaces, -0), so there the deletes go first, in
   * a pass of their own, lest one of them remove a row just restored. Neither way holds more than a batch of rows.
   */
  async #applyKeys(table: TableIncarnation, ranges: readonly LsnRange[], to: View): Promise<ApplyKeysResult> {
    const rows = () => this.#log.changedRowsAt(table.id, ranges, to)
    const exact = table.schema.keyColumns.every((index) => hasExactEquality(table.schema.columns[index]!))
    let deleted = 0
    if (!exact) {
      deleted += await this.#deleteKeys(
        table,
        (function* () {
          for (const row of rows()) if (row.image === null) yield row.key
        })(),
      )
    }
    let restored = 0
    const absent: Buffer[] = []
    let moreAbsent = false
    const maxHeld = this.#maxHeldKeys
    const images = function* () {
      for (const row of rows()) {
        if (row.image !== null) {
          restored++
          yield row.image
        } else if (exact) {
          if (absent.length < maxHeld) absent.push(row.key)
          else moreAbsent = true
        }
      }
    }
    // REPLACE must see every unique key: with unique_checks = 0 InnoDB may leave a secondary one unchecked. The
    // primary key is always checked, so a table without another unique key needs no round trips for it.
    const secondaryUnique = /\bUNIQUE\b/i.test(table.schema.createSql)
    if (secondaryUnique) await this.#connection.query('SET SESSION unique_checks = 1')
    const streamed = images()
    try {
      await loadRows(
        this.#connection,
        { database: table.database, table: table.name, columns: table.schema.columns },
        streamed,
        { duplicates: 'replace', sessionPrepared: this.#prepared },
      )
    } finally {
      // A load that failed leaves the generator suspended, its SQLite statement open: close it.
      streamed.return(undefined)
      if (secondaryUnique) await this.#connection.query('SET SESSION unique_checks = 0')
    }
    if (moreAbsent) {
      // Too many to hold: read them again (deleting a key twice is harmless).
      deleted += await this.#deleteKeys(
        table,
        (function* () {
          for (const row of rows()) if (row.image === null) yield row.key
        })(),
      )
    } else {
      deleted += await this.#deleteKeys(table, absent)
    }
    return { restored, deleted }
  }

  /** Deletes rows by key, `DELETE_BATCH` keys a statement; returns how many rows went. */
  async #deleteKeys(table: TableIncarnation, keys: Iterable<Buffer>): Promise<number> {
    const keyColumns = table.schema.keyColumns.map((index) => table.schema.columns[index]!)
    // One key column: a plain IN list, which every server turns into index lookups.
    const tuple =
      keyColumns.length === 1
        ? canonicalExpression(keyColumns[0]!)
        : `(${keyColumns.map(canonicalExpression).join(', ')})`
    // A FLOAT's canonical text is the shortest that reads back as the same float, not as the same double.
    const marks = keyColumns.map((column) => (column.dataType === 'float' ? 'CAST(? AS FLOAT)' : '?'))
    const placeholder = keyColumns.length === 1 ? marks[0]! : `(${marks.join(', ')})`
    let deleted = 0
    let batch: unknown[][] = []
    const flush = async () => {
      if (batch.length === 0) return
      const [result] = await this.#connection.query(
        `DELETE FROM ${qualifiedName(table.database, table.name)} WHERE ${tuple} IN (${batch.map(() => placeholder).join(', ')})`,
        batch.flat(),
      )
      deleted += (result as { affectedRows: number }).affectedRows
      batch = []
    }
    // Numbers and times go as text (a binary literal such as X'31' may be read as the number 49); strings,
    // blobs and geometry as bytes, so they match the stored bytes exactly. Integers and decimals go inline: text
    // would be compared with them as a double (2^64-1 = 2^64-2).
    const asParam = (cell: Cell, i: number) => {
      const { kind, dataType } = keyColumns[i]!
      if (cell === null || !['number', 'temporal', 'bit', 'enum', 'set'].includes(kind)) return cell
      const text = cell.toString('latin1')
      const exact = kind !== 'temporal' && !['float', 'double', 'real', 'year'].includes(dataType)
      return exact && /^-?\d+(\.\d+)?$/.test(text) ? { toSqlString: () => text } : text
    }
    await this.#eachKey(keys, async (key) => {
      batch.push(keyCells(key).map(asParam))
      if (batch.length >= DELETE_BATCH) await flush()
    })
    await flush()
    return deleted
  }
}
