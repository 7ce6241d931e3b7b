import { join } from 'node:path'
import {
  openBinlogStream,
  type BinlogEvent,
  type BinlogPosition,
  type BinlogStream,
  type TableMap,
} from '@backtrack/binlog'
import { startPrivateServer, type StartedMysqlServer } from '@backtrack/mysql-server'
import {
  COLUMNS_SQL,
  floatRows,
  insertSql,
  maxRow,
  minRow,
  nullRow,
  q,
  tempDir,
  WEIRD,
  zeroRow,
} from '@backtrack/mysql-server/testing'
import mysql, { type Connection, type RowDataPacket } from 'mysql2/promise'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { loadRows, type LoadColumn } from './load-data.js'

// The page log stores rows as the binlog decoder's cells; a rewind loads them back with loadRows. These tests
// prove the pair exact on a real server: every image set loaded into a copy equals the source (CHECKSUM TABLE).

const DB = 'bt db.ü`x'
const TABLE = 'all types.ü`t'

const dir = tempDir('bt-load-data-')
let server: StartedMysqlServer
let admin: Connection

/** A new admin connection (multipleStatements, exact numbers and dates as text). */
function connect(extra: mysql.ConnectionOptions = {}): Promise<Connection> {
  return mysql.createConnection({
    ...server.connectionOptions('admin'),
    multipleStatements: true,
    supportBigNumbers: true,
    bigNumberStrings: true,
    dateStrings: true,
    timezone: 'Z',
    ...extra,
  })
}

beforeAll(async () => {
  server = await startPrivateServer({ dataDir: join(dir.path, 'mysql') })
  admin = await connect()
  await admin.query("SET time_zone = '+00:00'")
  await admin.query(`CREATE DATABASE ${q(DB)} CHARACTER SET utf8mb4`)
})

afterAll(async () => {
  await admin?.end()
  await server?.stop()
  dir[Symbol.dispose]()
})

async function currentEnd(): Promise<BinlogPosition> {
  const [[row]] = await admin.query<RowDataPacket[]>('SHOW MASTER STATUS')
  return { file: String(row!['File']), position: Number(row!['Position']) }
}

function open(from: BinlogPosition, extra: Partial<Parameters<typeof openBinlogStream>[0]> = {}) {
  return openBinlogStream({ ...server.connectionOptions('admin'), serverId: 4242, from, ...extra })
}

/** Reads events until `until` says stop (inclusive). */
async function collect(stream: BinlogStream, until: (e: BinlogEvent) => boolean): Promise<BinlogEvent[]> {
  const events: BinlogEvent[] = []
  for await (const event of stream) {
    events.push(event)
    if (until(event)) break
  }
  return events
}

async function checksum(table: string): Promise<string> {
  const [[row]] = await admin.query<RowDataPacket[]>(`CHECKSUM TABLE ${table} EXTENDED`)
  return String(row!['Checksum'])
}

async function generatedColumns(db: string, table: string): Promise<Set<string>> {
  const [rows] = await admin.query<RowDataPacket[]>(
    "SELECT COLUMN_NAME AS n FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? AND EXTRA REGEXP 'VIRTUAL|STORED|PERSISTENT'",
    [db, table],
  )
  return new Set(rows.map((r) => String(r['n'])))
}

async function loadCopy(map: TableMap, copy: string, images: Buffer[]): Promise<void> {
  const generated = await generatedColumns(map.database, map.table)
  await admin.query(`DROP TABLE IF EXISTS ${q(DB)}.${q(copy)}`)
  await admin.query(`CREATE TABLE ${q(DB)}.${q(copy)} LIKE ${q(map.database)}.${q(map.table)}`)
  const columns: LoadColumn[] = map.columns.map((c) => ({
    name: c.name,
    kind: c.kind,
    generated: generated.has(c.name),
  }))
  const result = await loadRows(admin, { database: DB, table: copy, columns }, images)
  if (result.warnings > 0) {
    const [warnings] = await admin.query('SHOW WARNINGS')
    throw new Error('LOAD DATA warnings: ' + JSON.stringify(warnings))
  }
  expect(result.affectedRows).toBe(images.length)
}

async function allRows(table: string): Promise<unknown[]> {
  const [rows] = await admin.query({ sql: `SELECT * FROM ${table} ORDER BY 1`, rowsAsArray: true })
  return rows as unknown[]
}

async function expectSameTable(source: string, copy: string): Promise<void> {
  expect(await allRows(copy)).toEqual(await allRows(source))
  expect(await checksum(copy)).toBe(await checksum(source))
}

describe('loadRows reloads binlog row images exactly (private MariaDB)', () => {
  it('every column type: INSERT, UPDATE (before/after) and DELETE images reload into identical tables', async () => {
    const table = `${q(DB)}.${q(TABLE)}`
    await admin.query(`CREATE TABLE ${table} (${COLUMNS_SQL}) CHARACTER SET utf8mb4`)
    const stream = await open(await currentEnd())
    const ins = insertSql(table, [maxRow, minRow, zeroRow, nullRow, ...floatRows])
    await admin.query(ins.sql, ins.values)
    const afterInsert = await checksum(table)
    const update =
      `UPDATE ${table} SET ti = ti DIV 2, vc = concat(vc, 'ü'), tm6 = NULL, j = JSON_ARRAY(id), ` +
      `bl = UNHEX('00FF00'), ${q(WEIRD)} = id`
    await admin.query(update)
    await admin.query(`DELETE FROM ${table}`)

    let deleting = false
    const events = await collect(stream, (e) => {
      if (e.type === 'delete-rows' && e.table.table === TABLE) deleting = true
      return deleting && e.type === 'xid'
    })
    await stream.close()
    const writes = events.flatMap((e) => (e.type === 'write-rows' ? e.rows : []))
    const updates = events.flatMap((e) => (e.type === 'update-rows' ? e.rows : []))
    const deletes = events.flatMap((e) => (e.type === 'delete-rows' ? e.rows : []))
    const map = events.find((e) => e.type === 'table-map')
    if (map?.type !== 'table-map') throw new Error('no table map')
    expect(writes).toHaveLength(4 + floatRows.length)

    await admin.query(ins.sql, ins.values)
    expect(await checksum(table)).toBe(afterInsert)
    await loadCopy(map.table, 'copy_insert', writes)
    await expectSameTable(table, `${q(DB)}.${q('copy_insert')}`)
    await loadCopy(
      map.table,
      'copy_before',
      updates.map((u) => u.before),
    )
    await expectSameTable(table, `${q(DB)}.${q('copy_before')}`)

    await admin.query(update)
    await loadCopy(
      map.table,
      'copy_after',
      updates.map((u) => u.after),
    )
    await expectSameTable(table, `${q(DB)}.${q('copy_after')}`)
    await loadCopy(map.table, 'copy_deleted', deletes)
    await expectSameTable(table, `${q(DB)}.${q('copy_deleted')}`)
  })

  it('MariaDB data-type plugins (INET6, UUID, INET4), which travel as BINARY(n)', async () => {
    const table = `${q(DB)}.${q('fbt')}`
    await admin.query(`CREATE TABLE ${table} (id INT PRIMARY KEY, a INET6, u UUID, b INET4)`)
    const stream = await open(await currentEnd())
    await admin.query(
      `INSERT INTO ${table} VALUES (1, '2001:db8::ff00:42:8329', '123e4567-e89b-12d3-a456-426655440000', '192.168.0.1'),
        (2, '::ffff:1.2.3.4', '00000000-0000-0000-0000-000000000001', '0.0.0.0'), (3, NULL, NULL, NULL)`,
    )
    const events = await collect(stream, (e) => e.type === 'xid')
    await stream.close()
    const write = events.find((e) => e.type === 'write-rows')
    if (write?.type !== 'write-rows') throw new Error('no rows')
    await loadCopy(write.table, 'fbt_copy', write.rows)
    await expectSameTable(table, `${q(DB)}.${q('fbt_copy')}`)
  })

  it('the columns after a YEAR (MariaDB gives YEAR a signedness bit)', async () => {
    const table = `${q(DB)}.${q('after year')}`
    await admin.query(`CREATE TABLE ${table} (y YEAR, a INT, b INT UNSIGNED, bt BIT(3), c BIGINT, d DECIMAL(5,1))`)
    const stream = await open(await currentEnd())
    await admin.query(`INSERT INTO ${table} VALUES (2000, -5, 4000000000, 1, -7, -1.5), (0, 5, 1, 0, 7, 1.5)`)
    const events = await collect(stream, (e) => e.type === 'xid')
    await stream.close()
    const write = events.find((e) => e.type === 'write-rows')
    if (write?.type !== 'write-rows') throw new Error('no rows')
    await loadCopy(write.table, 'after year copy', write.rows)
    await expectSameTable(table, `${q(DB)}.${q('after year copy')}`)
  })
})
