import type { Connection as CoreConnection } from 'mysql2'
import type { Connection, RowDataPacket } from 'mysql2/promise'
import { doubleText, float32Text, RowWriter, type ValueKind } from '@backtrack/binlog'
import type { ColumnMeta, ForeignKey, ReferentialAction, TableSchema } from '../page-log/page-log.js'
import { canonicalExpression, qualifiedName } from '../ddl/sql-tokens.js'

/** Databases that are never captured: the server's own, and the simulator's shadow schemas. */
export function isSystemDatabase(db: string): boolean {
  return (
    ['mysql', 'information_schema', 'performance_schema', 'sys'].includes(db.toLowerCase()) || db.startsWith('__bt_')
  )
}

const KIND_BY_TYPE: Record<string, ValueKind> = {
  tinyint: 'number',
  smallint: 'number',
  mediumint: 'number',
  int: 'number',
  integer: 'number',
  bigint: 'number',
  decimal: 'number',
  numeric: 'number',
  float: 'number',
  double: 'number',
  real: 'number',
  year: 'number',
  date: 'temporal',
  time: 'temporal',
  datetime: 'temporal',
  timestamp: 'temporal',
  bit: 'bit',
  enum: 'enum',
  set: 'set',
  json: 'json',
  geometry: 'geometry',
  point: 'geometry',
  linestring: 'geometry',
  polygon: 'geometry',
  multipoint: 'geometry',
  multilinestring: 'geometry',
  multipolygon: 'geometry',
  geometrycollection: 'geometry',
  geomcollection: 'geometry',
}

/** How a column's value is kept, from its information_schema DATA_TYPE. */
function kindOfDataType(dataType: string): ValueKind {
  return KIND_BY_TYPE[dataType.toLowerCase()] ?? 'string'
}

/** Reads a table's exact definition from the server (or a shadow copy of it). */
export async function readTableSchema(connection: Connection, db: string, table: string): Promise<TableSchema> {
  const [[create]] = await connection.query<RowDataPacket[]>(`SHOW CREATE TABLE ${qualifiedName(db, table)}`)
  const createSql = String(create!['Create Table'])
  const [columnRows] = await connection.query<RowDataPacket[]>(
    `SELECT COLUMN_NAME AS name, DATA_TYPE AS dataType, EXTRA AS extra, GENERATION_EXPRESSION AS generation
       FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION`,
    [db, table],
  )
  const columns: ColumnMeta[] = columnRows.map((row) => ({
    name: String(row.name),
    dataType: String(row.dataType).toLowerCase(),
    kind: kindOfDataType(String(row.dataType)),
    generated: /\b(VIRTUAL|STORED|PERSISTENT)\b/i.test(String(row.extra ?? '')) || Boolean(row.generation),
  }))
  const [indexRows] = await connection.query<RowDataPacket[]>(
    `SELECT s.INDEX_NAME AS indexName, s.COLUMN_NAME AS name, s.NON_UNIQUE AS nonUnique, c.IS_NULLABLE AS nullable
       FROM information_schema.STATISTICS s
       JOIN information_schema.COLUMNS c
         ON c.TABLE_SCHEMA = s.TABLE_SCHEMA AND c.TABLE_NAME = s.TABLE_NAME AND c.COLUMN_NAME = s.COLUMN_NAME
      WHERE s.TABLE_SCHEMA = ? AND s.TABLE_NAME = ? ORDER BY s.INDEX_NAME = 'PRIMARY' DESC, s.INDEX_NAME, s.SEQ_IN_INDEX`,
    [db, table],
  )
  const indexes = new Map<string, { columns: string[]; usable: boolean }>()
  for (const row of indexRows) {
    const name = String(row.indexName)
    const index = indexes.get(name) ?? { columns: [], usable: Number(row.nonUnique) === 0 }
    index.columns.push(String(row.name))
    if (row.nullable === 'YES') index.usable = false
    indexes.set(name, index)
  }
  // The primary key, else the first unique index over NOT NULL columns (InnoDB's clustered key), else none.
  const key = indexes.get('PRIMARY') ?? [...indexes.values()].find((index) => index.usable)
  const keyColumns = (key?.usable ? key.columns : []).map((name) => columns.findIndex((column) => column.name === name))
  const [fkRows] = await connection.query<RowDataPacket[]>(
    `SELECT k.CONSTRAINT_NAME AS name, k.COLUMN_NAME AS col, k.REFERENCED_TABLE_SCHEMA AS parentDb,
            k.REFERENCED_TABLE_NAME AS parentTable, k.REFERENCED_COLUMN_NAME AS parentCol,
            r.DELETE_RULE AS onDelete, r.UPDATE_RULE AS onUpdate
       FROM information_schema.KEY_COLUMN_USAGE k
       JOIN information_schema.REFERENTIAL_CONSTRAINTS r
         ON r.CONSTRAINT_SCHEMA = k.CONSTRAINT_SCHEMA AND r.CONSTRAINT_NAME = k.CONSTRAINT_NAME AND r.TABLE_NAME = k.TABLE_NAME
      WHERE k.TABLE_SCHEMA = ? AND k.TABLE_NAME = ? AND k.REFERENCED_TABLE_NAME IS NOT NULL
      ORDER BY k.CONSTRAINT_NAME, k.ORDINAL_POSITION`,
    [db, table],
  )
  const foreignKeys = new Map<string, ForeignKey>()
  for (const row of fkRows) {
    const name = String(row.name)
    const fk = foreignKeys.get(name) ?? {
      name,
      columns: [],
      parentDatabase: String(row.parentDb),
      parentTable: String(row.parentTable),
      parentColumns: [],
      onDelete: String(row.onDelete) as ReferentialAction,
      onUpdate: String(row.onUpdate) as ReferentialAction,
    }
    fk.columns.push(String(row.col))
    fk.parentColumns.push(String(row.parentCol))
    foreignKeys.set(name, fk)
  }
  return { createSql, columns, keyColumns, foreignKeys: [...foreignKeys.values()] }
}

/**
 * Streams a table's rows as canonical row images (`Cell`s of @backtrack/binlog), for the base image and for rebuilding a
 * table's rows after an ALTER. The connection must use time_zone '+00:00' and binary results.
 */
export async function* readTableRows(
  connection: Connection,
  db: string,
  table: string,
  schema: TableSchema,
): AsyncGenerator<Buffer> {
  const select = schema.columns.map(canonicalExpression).join(', ')
  // Streaming needs the callback API's query object, which the promise wrapper keeps as `connection`.
  const core = (connection as unknown as { connection: CoreConnection }).connection
  const query = core.query({
    sql: `SELECT ${select} FROM ${qualifiedName(db, table)}`,
    rowsAsArray: true,
    typeCast: (field: { buffer(): Buffer | null }) => field.buffer(),
  } as never)
  const stream = query.stream({ highWaterMark: 1000 })
  // The server prints floats its own way (1e300, 9.007199254740992e15); the binlog decoder's text is canonical.
  const floatText = schema.columns.map((c) =>
    c.dataType === 'float' ? float32Text : c.dataType === 'double' || c.dataType === 'real' ? doubleText : undefined,
  )
  for await (const row of stream as AsyncIterable<(Buffer | null)[]>) {
    const writer = new RowWriter()
    row.forEach((cell, i) => {
      const text = floatText[i]
      writer.cell(cell === null || text === undefined ? cell : Buffer.from(text(Number(cell.toString('latin1')))))
    })
    yield writer.finish()
  }
}

/** Prepares an admin session for reading and writing canonical values. */
export async function prepareSession(connection: Connection): Promise<void> {
  await connection.query("SET SESSION time_zone = '+00:00', SESSION character_set_results = NULL")
}
