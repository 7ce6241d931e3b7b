import type { BinlogPosition } from '@backtrack/binlog'
import type { Connection, RowDataPacket } from 'mysql2/promise'
import { quoteIdent } from '../ddl/sql-tokens.js'
import { withCount } from '../page-log/keyless-rows.js'
import type { PageLog, TableSchema } from '../page-log/page-log.js'
import { rowKey } from '../page-log/row-key.js'
import { formatPosition, serverBinlogPosition } from './binlog-position.js'
import { tableKey, type Catalog } from './catalog.js'
import { isSystemDatabase, readTableRows, readTableSchema } from './schema-reader.js'
import type { ShadowSchema } from './shadow-schema.js'

/** What the base image needs from the capture. */
export interface BaseImageContext {
  readonly log: PageLog
  readonly admin: Connection
  readonly shadow: ShadowSchema
  readonly catalog: Catalog
  /** The commit time of the base image's transaction. */
  commitMicros(): number
  logger?: { info(message: string): void }
}

/**
 * Takes the base image: every user database and table as they are now, read in one consistent snapshot taken
 * under FLUSH TABLES WITH READ LOCK together with the binlog position it matches, written to the log as one
 * transaction (`kind: 'base'`). Resolves with that position: the stream starts there.
 */
export async function takeBaseImage(context: BaseImageContext): Promise<BinlogPosition> {
  const { log, admin, shadow, catalog } = context
  await shadow.reset(new Map())
  const started = Date.now()
  await admin.query('FLUSH TABLES WITH READ LOCK')
  let position: BinlogPosition
  const schemas = new Map<string, { createDb: string; tables: { name: string; schema: TableSchema }[] }>()
  try {
    position = await serverBinlogPosition(admin)
    const [dbs] = await admin.query<RowDataPacket[]>('SELECT SCHEMA_NAME AS name FROM information_schema.SCHEMATA')
    for (const row of dbs) {
      const db = String(row.name)
      if (isSystemDatabase(db)) continue
      const [[create]] = await admin.query<RowDataPacket[]>(`SHOW CREATE DATABASE ${quoteIdent(db)}`)
      const [tables] = await admin.query<RowDataPacket[]>(
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
          schema: await readTableSchema(admin, db, String(table.name)),
        })
      }
      schemas.set(db, entry)
    }
    await admin.query('START TRANSACTION WITH CONSISTENT SNAPSHOT')
  } finally {
    await admin.query('UNLOCK TABLES')
  }
  const lsn = log.nextLsn()
  log.begin()
  let rows = 0
  for (const [db, entry] of schemas) {
    log.createDatabase(db, lsn, entry.createDb)
    await shadow.createDatabase(db)
    for (const { name, schema } of entry.tables) {
      const id = log.createTable(db, name, schema, lsn)
      catalog.set(tableKey(db, name), { id, database: db, name, createdLsn: lsn, droppedLsn: null, schema })
      await shadow.createTable(db, schema.createSql)
      rows += await putRows(log, id, schema, lsn, readTableRows(admin, db, name, schema))
    }
  }
  await admin.query('COMMIT')
  log.putTxn({
    lsn,
    commitMicros: context.commitMicros(),
    kind: 'base',
    gtid: null,
    sql: null,
    changes: rows,
  })
  log.flush({ binlog_file: position.file, binlog_pos: String(position.position) })
  context.logger?.info(
    `capture: base image of ${schemas.size} database(s), ${rows} row(s) at ${formatPosition(position)} in ${Date.now() - started} ms`,
  )
  return position
}

/**
 * Writes a table's rows into the log under one LSN: each keyed row under its key, each distinct keyless row once
 * with its count. Resolves with the number of rows.
 */
export async function putRows(
  log: PageLog,
  id: number,
  schema: TableSchema,
  lsn: number,
  images: AsyncIterable<Buffer>,
): Promise<number> {
  let count = 0
  if (schema.keyColumns.length === 0) {
    const counts = new Map<string, { image: Buffer; n: number }>()
    for await (const image of images) {
      const entry = counts.get(image.toString('latin1'))
      if (entry === undefined) counts.set(image.toString('latin1'), { image, n: 1 })
      else entry.n++
      count++
    }
    for (const { image, n } of counts.values()) log.putRow(id, image, lsn, withCount(image, n))
    return count
  }
  for await (const image of images) {
    log.putRow(id, rowKey(image, schema), lsn, image)
    count++
  }
  return count
}
