import { createHash } from 'node:crypto'
import type { Connection, RowDataPacket } from 'mysql2/promise'
import { encodeCells, readCells, type Cell } from '@backtrack/binlog'
import { expandCounts } from '../page-log/keyless-rows.js'
import { isSystemDatabase, readTableRows } from '../capture/schema-reader.js'
import type { PageLog, TableIncarnation } from '../page-log/page-log.js'
import { keyCells, rowKey } from '../page-log/row-key.js'
import type { View } from '../page-log/view.js'

/** How one table of the page log compares with the same table on the server. */
export interface TableVerdict {
  database: string
  table: string
  /** Rows the page log holds for it (keyless rows counted once per copy). */
  rows: number
  /**
   * `same`; `differs` (rows differ: see `firstDifference`); `missing` (in the log, not on the server); `extra` (on the
   * server, not in the log).
   */
  status: 'same' | 'differs' | 'missing' | 'extra'
  /** The first row that differs, in the log's key order. */
  firstDifference?: {
    /** The key's values (the whole row for a table without a key), as text. */
    key: string[]
    /** `missing` from the server, `extra` on the server, or `different` values under the same key. */
    kind: 'missing' | 'extra' | 'different'
  }
}

/** What `verify` found: every captured table, and whether the server holds exactly what the page log says. */
export interface VerifyReport {
  ok: boolean
  /** The LSN whose state was compared (the log's newest, with writes held while it was taken). */
  lsn: number
  tables: TableVerdict[]
}

/** A row image without its generated columns' values (the server computes those; they are never loaded). */
function withoutGenerated(image: Buffer, generated: readonly boolean[]): Buffer {
  if (!generated.some(Boolean)) return image
  const cells = readCells(image)
  return encodeCells(cells.map((cell, i) => (generated[i] ? null : cell)))
}

function hashOf(image: Buffer): bigint {
  return createHash('sha1').update(image).digest().readBigUInt64LE(0)
}

const MASK = (1n << 64n) - 1n
const cellText = (cell: Cell) => (cell === null ? 'NULL' : cell.toString('utf8'))

/**
 * Compares the page log's state as of `view` with the tables on the server, as `connection` sees them (open a
 * consistent snapshot on it first, taken while the log was at `view`). Each table is summed as a multiset of row
 * hashes from both sides; only a table whose sums differ is read again to find its first differing key.
 */
export async function verifyState(connection: Connection, log: PageLog, view: View): Promise<TableVerdict[]> {
  const tables = log.tablesIn(view)
  const verdicts: TableVerdict[] = []
  const known = new Set(tables.map((t) => `${t.database}\u0000${t.name}`))
  const [live] = await connection.query<RowDataPacket[]>(
    "SELECT TABLE_SCHEMA AS db, TABLE_NAME AS name FROM information_schema.TABLES WHERE TABLE_TYPE = 'BASE TABLE'",
  )
  const onServer = new Set<string>()
  for (const row of live) {
    const db = String(row.db)
    if (isSystemDatabase(db)) continue
    onServer.add(`${db}\u0000${String(row.name)}`)
    if (!known.has(`${db}\u0000${String(row.name)}`) && log.databasesIn(view).has(db)) {
      verdicts.push({ database: db, table: String(row.name), rows: 0, status: 'extra' })
    }
  }
  for (const table of tables) {
    if (!onServer.has(`${table.database}\u0000${table.name}`)) {
      verdicts.push({
        database: table.database,
        table: table.name,
        rows: log.countRowsIn(table.id, view),
        status: 'missing',
      })
      continue
    }
    verdicts.push(await verifyTable(connection, log, view, table))
  }
  return verdicts.sort((a, b) => (a.database + '.' + a.table).localeCompare(b.database + '.' + b.table))
}

async function verifyTable(
  connection: Connection,
  log: PageLog,
  view: View,
  table: TableIncarnation,
): Promise<TableVerdict> {
  const generated = table.schema.columns.map((column) => column.generated)
  const logImages = () => expandCounts(log.imagesIn(table.id, view), table.schema)
  let logSum = 0n
  let rows = 0
  for (const image of logImages()) {
    logSum = (logSum + hashOf(withoutGenerated(image, generated))) & MASK
    rows++
  }
  let serverSum = 0n
  let serverRows = 0
  for await (const image of readTableRows(connection, table.database, table.name, table.schema)) {
    serverSum = (serverSum + hashOf(withoutGenerated(image, generated))) & MASK
    serverRows++
  }
  const verdict = { database: table.database, table: table.name, rows }
  if (logSum === serverSum && rows === serverRows) return { ...verdict, status: 'same' }
  return { ...verdict, status: 'differs', firstDifference: await firstDifference(connection, log, view, table) }
}

/**
 * The smallest key (in the log's order) under which the two sides differ. Holds one side's keys and hashes in
 * memory: only done for a table already known to differ.
 */
async function firstDifference(
  connection: Connection,
  log: PageLog,
  view: View,
  table: TableIncarnation,
): Promise<TableVerdict['firstDifference']> {
  const generated = table.schema.columns.map((column) => column.generated)
  const keyless = table.schema.keyColumns.length === 0
  // key (hex) -> [hash of the row(s) under it, how many copies]
  const fromLog = new Map<string, { key: Buffer; hash: bigint; copies: number }>()
  for (const image of expandCounts(log.imagesIn(table.id, view), table.schema)) {
    const row = withoutGenerated(image, generated)
    const key = keyless ? row : rowKey(image, table.schema)
    const entry = fromLog.get(key.toString('hex'))
    if (entry === undefined) fromLog.set(key.toString('hex'), { key, hash: hashOf(row), copies: 1 })
    else entry.copies++
  }
  const differences: { key: Buffer; kind: 'missing' | 'extra' | 'different' }[] = []
  const fromServer = new Map<string, { key: Buffer; hash: bigint; copies: number }>()
  for await (const image of readTableRows(connection, table.database, table.name, table.schema)) {
    const row = withoutGenerated(image, generated)
    const key = keyless ? row : rowKey(image, table.schema)
    const entry = fromServer.get(key.toString('hex'))
    if (entry === undefined) fromServer.set(key.toString('hex'), { key, hash: hashOf(row), copies: 1 })
    else entry.copies++
  }
  for (const [hex, mine] of fromLog) {
    const theirs = fromServer.get(hex)
    if (theirs === undefined) differences.push({ key: mine.key, kind: 'missing' })
    else if (theirs.hash !== mine.hash) differences.push({ key: mine.key, kind: 'different' })
    else if (theirs.copies < mine.copies) differences.push({ key: mine.key, kind: 'missing' })
    else if (theirs.copies > mine.copies) differences.push({ key: mine.key, kind: 'extra' })
  }
  for (const [hex, theirs] of fromServer) {
    if (!fromLog.has(hex)) differences.push({ key: theirs.key, kind: 'extra' })
  }
  differences.sort((a, b) => Buffer.compare(a.key, b.key))
  const first = differences[0]
  if (first === undefined) return undefined
  const cells = keyless ? readCells(first.key) : keyCells(first.key)
  return { key: cells.map(cellText), kind: first.kind }
}
