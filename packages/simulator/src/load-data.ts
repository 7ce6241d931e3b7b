import { Readable } from 'node:stream'
import type { Connection, ResultSetHeader } from 'mysql2/promise'
import { CellCursor, type ValueKind } from '@backtrack/binlog'

/** A column of the target table, in row-image order (`ColumnInfo`, or the capture's `ColumnMeta`, fit). */
export interface LoadColumn {
  name: string
  kind: ValueKind
  /** Generated (virtual or stored) columns: their value in the image is skipped, the server computes it. */
  generated?: boolean
}

export interface LoadTarget {
  /** Default: the connection's current database. */
  database?: string
  table: string
  columns: readonly LoadColumn[]
}

export interface LoadOptions {
  /** `REPLACE` rows whose key exists, or `IGNORE` them (default: neither; a duplicate key is an error). */
  duplicates?: 'replace' | 'ignore'
  /**
   * The session already has time_zone '+00:00' and sql_mode 'NO_AUTO_VALUE_ON_ZERO' (the executor's): the load
   * neither sets nor restores them, two round trips fewer for each table of a small rewind.
   */
  sessionPrepared?: boolean
}

export interface LoadResult {
  affectedRows: number
  warnings: number
}

const CHUNK = 64 * 1024
const TAB = 0x09
const NL = 0x0a
const BACKSLASH = 0x5c

function quoteIdent(name: string): string {
  return '`' + name.replaceAll('`', '``') + '`'
}

/**
 * The column list and SET clause: each canonical form goes straight into its column except BIT/ENUM/SET (decimal
 * text, which must reach the column as a number: an ENUM given the string '2' would look for a member named '2'),
 * JSON (a binary-charset string is not valid JSON text on MySQL 8) and generated columns (skipped).
 */
export function loadDataColumns(columns: readonly LoadColumn[]): { list: string; set: string } {
  const list: string[] = []
  const set: string[] = []
  columns.forEach((column, i) => {
    if (column.generated) {
      list.push('@bt_skip')
      return
    }
    const variable = `@bt_v${i}`
    switch (column.kind) {
      case 'bit':
      case 'enum':
      case 'set':
        list.push(variable)
        set.push(`${quoteIdent(column.name)} = CAST(${variable} AS UNSIGNED)`)
        return
      case 'json':
        list.push(variable)
        set.push(`${quoteIdent(column.name)} = CONVERT(${variable} USING utf8mb4)`)
        return
      default:
        list.push(quoteIdent(column.name))
    }
  })
  return { list: list.join(', '), set: set.length > 0 ? ' SET ' + set.join(', ') : '' }
}

/**
 * Encodes row images (`RowWriter` encoding, one cell per column) as LOAD DATA's text format: tab-separated,
 * newline-terminated, `\N` for NULL, and `\\`, `\t`, `\n`, `\0` escaped, into chunks of about 64 KiB.
 */
class LineEncoder {
  #out = Buffer.allocUnsafe(CHUNK)
  #len = 0
  readonly #columnCount: number
  readonly #cursor = new CellCursor()

  constructor(columnCount: number) {
    this.#columnCount = columnCount
  }

  /** Adds a row (the image `row[start, end)`); returns a full chunk when one is ready. */
  push(row: Buffer, start = 0, end = row.length): Buffer | undefined {
    let ready: Buffer | undefined
    // Worst case: every byte escaped, plus separators and a varint's worth of slack.
    const need = (end - start) * 2 + this.#columnCount * 3 + 2
    if (this.#len + need > this.#out.length) {
      if (this.#len > 0) {
        ready = this.#out.subarray(0, this.#len)
        this.#out = Buffer.allocUnsafe(Math.max(CHUNK, need))
        this.#len = 0
      } else if (need > this.#out.length) {
        this.#out = Buffer.allocUnsafe(need)
      }
    }
    const out = this.#out
    let len = this.#len
    let cells = 0
    const cursor = this.#cursor.reset(row, start, end)
    while (cursor.next()) {
      if (cells > 0) out[len++] = TAB
      cells++
      if (cursor.isNull) {
        out[len++] = BACKSLASH
        out[len++] = 0x4e // N
        continue
      }
      for (let p = cursor.start, end = cursor.end; p < end; p++) {
        const b = row[p]!
        switch (b) {
          case BACKSLASH:
            out[len++] = BACKSLASH
            out[len++] = BACKSLASH
            break
          case TAB:
            out[len++] = BACKSLASH
            out[len++] = 0x74 // t
            break
          case NL:
            out[len++] = BACKSLASH
            out[len++] = 0x6e // n
            break
          case 0:
            out[len++] = BACKSLASH
            out[len++] = 0x30 // 0
            break
          default:
            out[len++] = b
        }
      }
    }
    if (cells !== this.#columnCount) {
      throw new Error(`loadRows: a row image has ${cells} cells but the table has ${this.#columnCount} columns`)
    }
    out[len++] = NL
    this.#len = len
    return ready
  }

  /** The last, partial chunk. */
  finish(): Buffer | undefined {
    return this.#len > 0 ? this.#out.subarray(0, this.#len) : undefined
  }
}

/** LOAD DATA text of row images, in chunks; never holds more than one chunk. */
export function* loadDataChunks(rows: Iterable<Buffer>, columnCount: number): Generator<Buffer> {
  const encoder = new LineEncoder(columnCount)
  for (const row of rows) {
    const chunk = encoder.push(row)
    if (chunk !== undefined) yield chunk
  }
  const last = encoder.finish()
  if (last !== undefined) yield last
}

/**
 * `loadDataChunks` for row images in batches laid end to end (the page log's table scans, `ImageBatch`): each image
 * is encoded where it lies, so no row gets a Buffer of its own.
 */
export function* loadDataChunksFromBatches(
  batches: Iterable<{ images: Buffer; ends: Int32Array }>,
  columnCount: number,
): Generator<Buffer> {
  const encoder = new LineEncoder(columnCount)
  for (const { images, ends } of batches) {
    let start = 0
    for (let i = 0; i < ends.length; i++) {
      const end = ends[i]!
      const chunk = encoder.push(images, start, end)
      if (chunk !== undefined) yield chunk
      start = end
    }
  }
  const last = encoder.finish()
  if (last !== undefined) yield last
}

/** `loadDataChunks` for rows that arrive asynchronously. */
export async function* loadDataLines(
  rows: AsyncIterable<Buffer> | Iterable<Buffer>,
  columnCount: number,
): AsyncGenerator<Buffer> {
  if (Symbol.iterator in rows) {
    yield* loadDataChunks(rows, columnCount)
    return
  }
  const encoder = new LineEncoder(columnCount)
  for await (const row of rows) {
    const chunk = encoder.push(row)
    if (chunk !== undefined) yield chunk
  }
  const last = encoder.finish()
  if (last !== undefined) yield last
}

/**
 * Loads row images into a table with `LOAD DATA LOCAL INFILE` (streamed; the file never exists), reading the values
 * exactly as the binlog decoder wrote them: `CHARACTER SET binary` (strings are raw bytes in the column's charset),
 * session time_zone '+00:00' (TIMESTAMPs are UTC text) and sql_mode 'NO_AUTO_VALUE_ON_ZERO' (a 0 in an
 * AUTO_INCREMENT column stays 0; zero dates load). The session's time_zone and sql_mode are restored afterwards.
 * The server must allow local_infile and the connection the LOCAL_FILES flag (mysql2's default).
 */
export async function loadRows(
  connection: Pick<Connection, 'query'>,
  target: LoadTarget,
  rows: AsyncIterable<Buffer> | Iterable<Buffer>,
  options: LoadOptions = {},
): Promise<LoadResult> {
  // Synchronous rows (the page log) are encoded without a promise per row.
  const chunks =
    Symbol.iterator in rows ? loadDataChunks(rows, target.columns.length) : loadDataLines(rows, target.columns.length)
  return loadChunks(connection, target, chunks, options)
}

/** `loadRows` for rows already encoded as LOAD DATA text (`loadDataChunks`), e.g. by a worker thread. */
export async function loadChunks(
  connection: Pick<Connection, 'query'>,
  target: LoadTarget,
  chunks: AsyncIterable<Buffer> | Iterable<Buffer>,
  options: LoadOptions = {},
): Promise<LoadResult> {
  const { list, set } = loadDataColumns(target.columns)
  const table = target.database
    ? `${quoteIdent(target.database)}.${quoteIdent(target.table)}`
    : quoteIdent(target.table)
  const duplicates = options.duplicates === 'replace' ? ' REPLACE' : options.duplicates === 'ignore' ? ' IGNORE' : ''
  const sql =
    `LOAD DATA LOCAL INFILE 'backtrack-rows'${duplicates} INTO TABLE ${table} CHARACTER SET binary ` +
    `FIELDS TERMINATED BY '\\t' ENCLOSED BY '' ESCAPED BY '\\\\' LINES TERMINATED BY '\\n' STARTING BY '' ` +
    `(${list})${set}`
  const prepared = options.sessionPrepared === true
  if (!prepared) {
    await connection.query(
      'SET @bt_saved_time_zone = @@session.time_zone, @bt_saved_sql_mode = @@session.sql_mode, ' +
        "time_zone = '+00:00', sql_mode = 'NO_AUTO_VALUE_ON_ZERO'",
    )
  }
  let streamError: Error | undefined
  try {
    const [result] = await connection.query<ResultSetHeader>({
      sql,
      infileStreamFactory: () => {
        // A deep buffer lets the encoding run ahead while the server is busy inserting.
        const stream = Readable.from(chunks, { objectMode: false, highWaterMark: 4 * 1024 * 1024 })
        stream.on('error', (error: Error) => (streamError = error))
        return stream
      },
    })
    if (streamError) throw streamError
    return { affectedRows: result.affectedRows, warnings: result.warningStatus }
  } catch (error) {
    // The rows' own failure says more than the connection's report of the aborted LOAD DATA.
    if (streamError !== undefined) throw streamError
    throw error
  } finally {
    if (!prepared) await connection.query('SET time_zone = @bt_saved_time_zone, sql_mode = @bt_saved_sql_mode')
  }
}
