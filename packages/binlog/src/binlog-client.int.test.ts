import { appendFileSync, copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
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
import { createConnection as createCallbackConnection } from 'mysql2'
import mysql, { type Connection, type RowDataPacket } from 'mysql2/promise'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { openBinlogStream, type BinlogStream } from './binlog-client.js'
import { BinlogError } from './binlog-error.js'
import { FileBinlogStream, nextBinlogFile } from './binlog-files.js'
import type { BinlogEvent, BinlogPosition } from './binlog-event.js'
import { readCells } from './row-codec.js'

// What the decoder makes of a real server's events. That the cells load back into identical tables (CHECKSUM
// TABLE) is proven where the loader lives: packages/simulator/src/load-data.int.test.ts.

const DB = 'bt db.ü`x'
const TABLE = 'all types.ü`t'

const dir = tempDir('bt-binlog-')
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

/** Where the streams of the running variant read: over the replication protocol, or the server's files. */
let source: BinlogStream['source'] = 'protocol'

async function open(from: BinlogPosition, extra: Partial<Parameters<typeof openBinlogStream>[0]> = {}) {
  const stream = await openBinlogStream({
    ...server.connectionOptions('admin'),
    serverId: 4242,
    from,
    ...(source === 'files' ? { dataDir: server.dataDir! } : {}),
    ...extra,
  })
  expect(stream.source).toBe(source)
  return stream
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

// Every case twice: the same events, positions and errors whether the server sends its binlog or it is read from
// its files (the simulator's private server).
describe.each(['protocol', 'files'] as const)('binlog capture against a private MariaDB, read over %s', (variant) => {
  beforeAll(async () => {
    source = variant
    await admin.query(`DROP DATABASE IF EXISTS ${q(DB)}`)
    await admin.query(`CREATE DATABASE ${q(DB)} CHARACTER SET utf8mb4`)
  })

  it('decodes every column type into canonical cells: INSERT, UPDATE (before/after) and DELETE images', async () => {
    const table = `${q(DB)}.${q(TABLE)}`
    await admin.query(`CREATE TABLE ${table} (${COLUMNS_SQL}) CHARACTER SET utf8mb4`)
    const from = await currentEnd()
    const stream = await open(from, { requestAnnotateRows: true })
    const ins = insertSql(table, [maxRow, minRow, zeroRow, nullRow, ...floatRows])
    await admin.query(ins.sql, ins.values)
    await admin.query(
      `UPDATE ${table} SET ti = ti DIV 2, vc = concat(vc, 'ü'), tm6 = NULL, j = JSON_ARRAY(id), bl = UNHEX('00FF00'), ${q(WEIRD)} = id`,
    )
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
    const map = events.find((e) => e.type === 'table-map')!
    if (map.type !== 'table-map') throw new Error('no table map')
    expect(map.table.database).toBe(DB)
    expect(map.table.table).toBe(TABLE)
    expect(map.table.primaryKey).toEqual([0])
    expect(writes).toHaveLength(4 + floatRows.length)
    expect(updates).toHaveLength(writes.length)
    expect(deletes).toHaveLength(writes.length)
    expect(events.some((e) => e.type === 'annotate' && e.sql.startsWith('INSERT INTO'))).toBe(true)

    // Columns as the TABLE_MAP describes them (generated columns included, see the report).
    const cols = Object.fromEntries(map.table.columns.map((c) => [c.name, c]))
    expect(map.table.columns.map((c) => c.name)).toContain(WEIRD)
    expect(map.table.columns.map((c) => c.name)).toContain('gen')
    expect(cols['biu']!.unsigned).toBe(true)
    expect(cols['bi']!.unsigned).toBe(false)
    expect(cols['e']!.kind).toBe('enum')
    expect(cols['e']!.enumValues).toEqual(['a', 'b', 'ü'])
    expect(cols['s']!.setValues).toEqual(['x', 'y', 'z', 'ü'])
    expect(cols['b64']!.kind).toBe('bit')
    expect(cols['pt']!.kind).toBe('geometry')
    expect(cols['j']!.kind).toBe('string') // MariaDB JSON is LONGTEXT
    expect(cols['ts6']!.kind).toBe('temporal')

    // Canonical text of a few cells, as the page log stores them.
    const byName = (image: Buffer) => {
      const cells = readCells(image)
      return Object.fromEntries(map.table.columns.map((c, k) => [c.name, cells[k]?.toString('utf8') ?? null]))
    }
    const max = byName(writes[0]!)
    expect(max['biu']).toBe('18446744073709551615')
    expect(max['d']).toBe(maxRow['d'])
    expect(max['b64']).toBe('18446744073709551615')
    expect(max['tm6']).toBe('838:59:59.000000')
    expect(max['ts6']).toBe('2038-01-19 03:14:07.999999')
    expect(max['f']).toBe('3.40282e+38')
    expect(max['e']).toBe('3')
    expect(max['s']).toBe('13')
    const min = byName(writes[1]!)
    expect(min['bi']).toBe('-9223372036854775808')
    expect(min['d5']).toBe('-0.00001')
    expect(min['tm3']).toBe('-00:00:00.001')
    expect(min['tm6']).toBe('-838:59:58.999999')
    // A signed column after a YEAR (which takes a signedness bit on MariaDB) keeps its sign.
    expect(cols['gen']!.unsigned).toBe(false)
    expect(min['gen']).toBe('-2147483647')
    const zero = byName(writes[2]!)
    expect(zero['ts0']).toBe('0000-00-00 00:00:00')
    expect(zero['dt']).toBe('0000-00-00')
    expect(zero['y']).toBe('0000')
    expect(zero['tm3']).toBe('-00:00:01.500')
    expect(zero['f']).toBe('0.1')
    expect(zero['d']).toBe('-0.000000000000000000000000000001')
    expect(byName(writes[3]!)['tx']).toBeNull()

    // The before image of each update is the row as inserted, its after image the row as the delete saw it.
    expect(updates.map((u) => u.before)).toEqual(writes)
    expect(updates.map((u) => u.after)).toEqual(deletes)
  })

  it('reads MariaDB data-type plugins (INET6, UUID, INET4) as raw bytes, their trailing zero bytes restored', async () => {
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
    // They travel as BINARY(16)/BINARY(4): type STRING, binary charset.
    expect(write.table.columns.slice(1).map((c) => [c.type, c.charsetId, c.kind])).toEqual([
      [254, 63, 'string'],
      [254, 63, 'string'],
      [254, 63, 'string'],
    ])
    const hex = write.rows.map((row) => readCells(row).map((cell) => cell?.toString('hex') ?? null))
    expect(hex.map(([, inet6]) => inet6)).toEqual([
      '20010db8000000000000ff0000428329',
      '00000000000000000000ffff01020304',
      null,
    ])
    expect(hex.map(([, , uuid]) => uuid?.length ?? null)).toEqual([32, 32, null])
    expect(hex.map(([, , , inet4]) => inet4)).toEqual(['c0a80001', '00000000', null])
  })

  it('reads signedness right for the columns after a YEAR (MariaDB gives YEAR a signedness bit)', async () => {
    const table = `${q(DB)}.${q('after year')}`
    await admin.query(`CREATE TABLE ${table} (y YEAR, a INT, b INT UNSIGNED, bt BIT(3), c BIGINT, d DECIMAL(5,1))`)
    const stream = await open(await currentEnd())
    await admin.query(`INSERT INTO ${table} VALUES (2000, -5, 4000000000, 1, -7, -1.5), (0, 5, 1, 0, 7, 1.5)`)
    const events = await collect(stream, (e) => e.type === 'xid')
    await stream.close()
    const write = events.find((e) => e.type === 'write-rows')
    if (write?.type !== 'write-rows') throw new Error('no rows')
    expect(write.table.columns.map((c) => c.unsigned)).toEqual([true, false, true, false, false, false])
    expect(write.rows.map((r) => readCells(r).map((c) => c?.toString() ?? null))).toEqual([
      ['2000', '-5', '4000000000', '1', '-7', '-1.5'],
      ['0000', '5', '1', '0', '7', '1.5'],
    ])
  })

  it('handles tables without a primary key and with composite keys', async () => {
    await admin.query(`CREATE TABLE ${q(DB)}.nopk (a INT, b VARCHAR(10)) CHARACTER SET utf8mb4`)
    await admin.query(
      `CREATE TABLE ${q(DB)}.comp (a INT NOT NULL, b VARCHAR(20) NOT NULL, c DATE, id INT, PRIMARY KEY (b, a)) CHARACTER SET utf8mb4`,
    )
    const stream = await open(await currentEnd())
    await admin.query(`INSERT INTO ${q(DB)}.nopk VALUES (1, 'x'), (1, 'x'), (NULL, NULL)`)
    await admin.query(`INSERT INTO ${q(DB)}.comp VALUES (1, 'k', '2020-01-01', 1), (2, 'k', NULL, 2)`)
    const events = await collect(stream, (e) => e.type === 'write-rows' && e.table.table === 'comp')
    await stream.close()
    const maps = events.flatMap((e) => (e.type === 'table-map' ? [e.table] : []))
    expect(maps.find((m) => m.table === 'nopk')!.primaryKey).toEqual([])
    expect(maps.find((m) => m.table === 'comp')!.primaryKey).toEqual([1, 0])
    const nopkRows = events.flatMap((e) => (e.type === 'write-rows' && e.table.table === 'nopk' ? e.rows : []))
    expect(nopkRows.map((r) => readCells(r).map((c) => c?.toString() ?? null))).toEqual([
      ['1', 'x'],
      ['1', 'x'],
      [null, null],
    ])
  })

  it('delivers DDL as query events with their schema, and GTIDs marked standalone for DDL only', async () => {
    const stream = await open(await currentEnd())
    await admin.query(`USE ${q(DB)}`)
    await admin.query('CREATE TABLE ddl_t (id INT PRIMARY KEY, v INT)')
    await admin.query('INSERT INTO ddl_t VALUES (1, 1)')
    await admin.query('ALTER TABLE ddl_t ADD COLUMN w VARCHAR(5)')
    await admin.query('TRUNCATE TABLE ddl_t')
    await admin.query('DROP TABLE ddl_t')
    await admin.query('USE mysql')
    const events = await collect(stream, (e) => e.type === 'query' && e.sql.startsWith('DROP TABLE'))
    await stream.close()
    const shape = events
      .filter((e) => e.type === 'gtid' || e.type === 'query' || e.type === 'xid')
      .map((e) => (e.type === 'gtid' ? `gtid:${e.standalone}` : e.type === 'query' ? `${e.schema}|${e.sql}` : 'xid'))
    expect(shape).toEqual([
      'gtid:true',
      `${DB}|CREATE TABLE ddl_t (id INT PRIMARY KEY, v INT)`,
      'gtid:false',
      'xid',
      'gtid:true',
      `${DB}|ALTER TABLE ddl_t ADD COLUMN w VARCHAR(5)`,
      'gtid:true',
      `${DB}|TRUNCATE TABLE ddl_t`,
      'gtid:true',
      `${DB}|DROP TABLE \`ddl_t\` /* generated by server */`,
    ])
    const gtid = events.find((e) => e.type === 'gtid')
    expect(gtid?.type === 'gtid' && gtid.gtid).toMatch(new RegExp(`^0-${server.serverId}-\\d+$`))
  })

  it('decodes statement text in the client character set (utf8mb4 and latin1)', async () => {
    const latin1 = await mysql.createConnection({ ...server.connectionOptions('admin'), charset: 'LATIN1_SWEDISH_CI' })
    const stream = await open(await currentEnd())
    await admin.query(`CREATE TABLE ${q(DB)}.${q('ütf8 ∑')} (id INT)`)
    await latin1.query(`CREATE TABLE ${q(DB)}.${q('lätin1 é')} (id INT)`)
    await latin1.end()
    const events = await collect(stream, (e) => e.type === 'query' && e.sql.includes('tin1'))
    await stream.close()
    const queries = events.flatMap((e) => (e.type === 'query' ? [[e.sql, e.clientCharsetId]] : []))
    expect(queries).toEqual([
      [`CREATE TABLE ${q(DB)}.${q('ütf8 ∑')} (id INT)`, expect.any(Number)],
      [`CREATE TABLE ${q(DB)}.${q('lätin1 é')} (id INT)`, 8],
    ])
  })

  it('ends a transaction on a non-transactional (MyISAM) table with a COMMIT query instead of an XID', async () => {
    await admin.query(`CREATE TABLE ${q(DB)}.isam (id INT PRIMARY KEY) ENGINE=MyISAM`)
    const stream = await open(await currentEnd())
    await admin.query(`INSERT INTO ${q(DB)}.isam VALUES (1), (2)`)
    const events = await collect(stream, (e) => e.type === 'query' || e.type === 'xid')
    await stream.close()
    expect(
      events.map((e) => (e.type === 'gtid' ? `gtid:${e.standalone}` : e.type === 'query' ? e.sql : e.type)),
    ).toEqual(['rotate', 'gtid:false', 'table-map', 'write-rows', 'COMMIT'])
  })

  it('follows FLUSH BINARY LOGS and resumes exactly at a saved position', async () => {
    await admin.query(`CREATE TABLE ${q(DB)}.rot (id INT PRIMARY KEY)`)
    const start = await currentEnd()
    const first = await open(start)
    await admin.query(`INSERT INTO ${q(DB)}.rot VALUES (1)`)
    await admin.query('FLUSH BINARY LOGS')
    await admin.query(`INSERT INTO ${q(DB)}.rot VALUES (2)`)
    await admin.query(`INSERT INTO ${q(DB)}.rot VALUES (3)`)
    const events = await collect(first, (e) => e.type === 'write-rows' && readCells(e.rows[0]!)[0]!.toString() === '3')
    await first.close()
    const rotates = events.filter((e) => e.type === 'rotate')
    expect(rotates.map((e) => e.type === 'rotate' && e.file)).toContain(nextBinlogFile(start.file))
    const ids = events.flatMap((e) => (e.type === 'write-rows' ? e.rows.map((r) => readCells(r)[0]!.toString()) : []))
    expect(ids).toEqual(['1', '2', '3'])
    const two = events.findIndex((e) => e.type === 'write-rows' && readCells(e.rows[0]!)[0]!.toString() === '2')
    const xidAfterTwo = events.slice(two).find((e) => e.type === 'xid')!
    expect(xidAfterTwo.next.file).toBe(nextBinlogFile(start.file))

    // Resume after the transaction that inserted 2: the next thing is the transaction that inserted 3.
    const resumed = await open(xidAfterTwo.next)
    const again = await collect(resumed, (e) => e.type === 'xid')
    await resumed.close()
    expect(again[0]).toMatchObject({ type: 'rotate', file: xidAfterTwo.next.file, position: xidAfterTwo.next.position })
    const strip = (list: BinlogEvent[]) => list.filter((e) => e.type !== 'rotate').map((e) => JSON.stringify(e, big))
    const tail = strip(events.slice(events.indexOf(xidAfterTwo) + 1))
    expect(strip(again).slice(0, tail.length)).toEqual(tail)
    expect(
      again.flatMap((e) => (e.type === 'write-rows' ? e.rows.map((r) => readCells(r)[0]!.toString()) : [])),
    ).toEqual(['3'])
    expect(resumed.position).toEqual(again.at(-1)!.next)
    // Positions never step back (a re-sent FORMAT_DESCRIPTION must not rewind them).
    const positions = again.map((e) => e.next.position)
    expect(positions).toEqual([...positions].sort((a, b) => a - b))
    expect(positions[0]).toBe(xidAfterTwo.next.position)
  })

  it('stops with CaptureFault on compressed events (log_bin_compress)', async () => {
    await admin.query(`CREATE TABLE ${q(DB)}.cmp (id INT PRIMARY KEY, v TEXT)`)
    const stream = await open(await currentEnd())
    await admin.query('SET GLOBAL log_bin_compress = ON')
    try {
      await admin.query(`INSERT INTO ${q(DB)}.cmp VALUES (1, REPEAT('compress me ', 200))`)
    } finally {
      await admin.query('SET GLOBAL log_bin_compress = OFF')
    }
    const error = await collect(stream, () => false).then(
      () => undefined,
      (e: unknown) => e,
    )
    expect(BinlogError.is(error, 'CaptureFault')).toBe(true)
    expect((error as Error).message).toMatch(/log_bin_compress/)
    expect((error as Error).message).toMatch(/COMPRESSED/)
  })

  it('stops with CaptureFault on partial row images and missing column names', async () => {
    await admin.query(`CREATE TABLE ${q(DB)}.part (id INT PRIMARY KEY, v INT)`)
    await admin.query(`INSERT INTO ${q(DB)}.part VALUES (1, 1)`)
    const stream = await open(await currentEnd())
    const session = await connect()
    await session.query("SET SESSION binlog_row_image = 'MINIMAL'")
    await session.query(`UPDATE ${q(DB)}.part SET v = 2`)
    const error = await collect(stream, () => false).catch((e: unknown) => e)
    expect(BinlogError.is(error, 'CaptureFault')).toBe(true)
    expect((error as Error).message).toMatch(/binlog_row_image=FULL/)

    const stream2 = await open(await currentEnd(), { checkSettings: false })
    await admin.query("SET GLOBAL binlog_row_metadata = 'MINIMAL'")
    try {
      const other = await connect() // global settings apply to new sessions
      await other.query(`UPDATE ${q(DB)}.part SET v = 3`)
      await other.end()
    } finally {
      await admin.query("SET GLOBAL binlog_row_metadata = 'FULL'")
    }
    const error2 = await collect(stream2, () => false).catch((e: unknown) => e)
    expect(BinlogError.is(error2, 'CaptureFault')).toBe(true)
    expect((error2 as Error).message).toMatch(/binlog_row_metadata=FULL/)
    await session.end()
  })

  it('pauses the socket instead of buffering when the consumer is slow', async () => {
    await admin.query(`CREATE TABLE ${q(DB)}.bp (id INT PRIMARY KEY, v VARCHAR(200))`)
    const stream = await open(await currentEnd(), { highWaterMark: 8 })
    // ~2000 rows events of ~8 KB each: far more than the high-water mark.
    await admin.query(`INSERT INTO ${q(DB)}.bp SELECT seq, REPEAT('x', 200) FROM ${q(DB)}.seq_1_to_60000`)
    await new Promise((r) => setTimeout(r, 500))
    expect(stream.buffered).toBeLessThanOrEqual(8)
    let rows = 0
    let maxBuffered = 0
    for await (const event of stream) {
      maxBuffered = Math.max(maxBuffered, stream.buffered)
      if (event.type === 'write-rows') rows += event.rows.length
      if (event.type === 'xid') break
    }
    expect(rows).toBe(60000)
    expect(maxBuffered).toBeLessThanOrEqual(8)
  })

  it('reports a lost connection as a plain transport error (not a CaptureFault), to reconnect from position', async () => {
    const stream = await open(await currentEnd(), { heartbeatSeconds: 0.2 })
    const iterator = stream[Symbol.asyncIterator]()
    while ((await iterator.next()).value?.type !== 'heartbeat'); // the dump is running (no break: that closes)
    // Over the protocol the server's dump thread; reading files, the idle connection the reader holds.
    const [dumps] = await admin.query<RowDataPacket[]>(
      source === 'protocol'
        ? "SELECT ID AS id FROM information_schema.PROCESSLIST WHERE COMMAND LIKE 'Binlog Dump%'"
        : "SELECT ID AS id FROM information_schema.PROCESSLIST WHERE ID <> CONNECTION_ID() AND COMMAND = 'Sleep'",
    )
    expect(dumps.length).toBeGreaterThan(0)
    for (const d of dumps) await admin.query(`KILL ${Number(d['id'])}`)
    let error: unknown
    try {
      while (!(await iterator.next()).done); // heartbeats may still arrive before the kill lands
    } catch (e) {
      error = e
    }
    expect(error).toBeInstanceOf(Error)
    expect(BinlogError.is(error)).toBe(false)
    expect(stream.position.file).not.toBe('')
  })

  it('sends heartbeats when idle', async () => {
    const stream = await open(await currentEnd(), { heartbeatSeconds: 0.2 })
    const events = await collect(stream, (e) => e.type === 'heartbeat')
    await stream.close()
    const beat = events.at(-1)!
    expect(beat.type).toBe('heartbeat')
    expect(beat.next).toEqual(await currentEnd())
  })
})

/** The ids of the rows written by the events read until (and with) the write of `id`'s transaction's XID. */
async function readUntilXidAfter(stream: BinlogStream, id: number): Promise<BinlogEvent[]> {
  const events: BinlogEvent[] = []
  let seen = false
  for await (const event of stream) {
    events.push(event)
    if (event.type === 'write-rows' && event.rows.some((row) => readCells(row)[0]!.toString() === String(id)))
      seen = true
    if (seen && event.type === 'xid') break
  }
  return events
}

const writtenIds = (events: BinlogEvent[]) =>
  events.flatMap((e) => (e.type === 'write-rows' ? e.rows.map((row) => readCells(row)[0]!.toString()) : []))

// What only the file reader meets: a server that stops and starts again (a new file without a ROTATE), an event the
// server has written only in part, a file that is gone. It restarts the server, so it runs last.
describe('reading the binlog from the files of a server on this machine', () => {
  beforeAll(async () => {
    source = 'files'
    await admin.query('CREATE DATABASE f')
    await admin.query('CREATE TABLE f.t (id INT PRIMARY KEY, v LONGBLOB)')
  })

  it('reads from the files, and goes on to the file a restarted server opened (no ROTATE ends the old one)', async () => {
    const start = await currentEnd()
    const first = await open(start)
    expect(first.source).toBe('files')
    await admin.query('INSERT INTO f.t VALUES (1, NULL)')
    expect(writtenIds(await readUntilXidAfter(first, 1))).toEqual(['1'])
    await first.close()
    const saved = first.position

    // A restart: the old file ends with a STOP event, the server opens the next file.
    await admin.end()
    await server.stop()
    server = await startPrivateServer({ dataDir: server.dataDir! })
    admin = await connect()
    await admin.query('INSERT INTO f.t VALUES (2, NULL)')
    const now = await currentEnd()
    expect(now.file).toBe(nextBinlogFile(saved.file))

    const resumed = await open(saved)
    const events = await readUntilXidAfter(resumed, 2)
    await resumed.close()
    expect(writtenIds(events)).toEqual(['2'])
    expect(events.at(-1)!.next).toEqual(now)
  })

  it('waits for an event the server has written only in part, and reads it whole', async () => {
    const start = await currentEnd()
    await admin.query('INSERT INTO f.t VALUES (3, REPEAT(0x5a, 300000))')
    const end = await currentEnd()
    expect(end.file).toBe(start.file)
    const bytes = readFileSync(join(server.dataDir!, start.file)).subarray(0, end.position)

    // A copy of the file, written up to the middle of the rows event.
    const copy = join(dir.path, 'copy')
    mkdirSync(copy)
    copyFileSync(join(server.dataDir!, 'binlog.index'), join(copy, 'binlog.index'))
    const middle = start.position + Math.floor((end.position - start.position) / 2)
    writeFileSync(join(copy, start.file), bytes.subarray(0, middle))
    const connection = createCallbackConnection(server.connectionOptions('admin'))
    const stream = new FileBinlogStream(
      connection,
      {
        basename: join(copy, 'binlog'),
        start,
        serverVersion: server.version,
        clock: { nowMicros: () => Date.now() * 1000 },
        annotateRows: false,
        heartbeatMs: 0,
      },
      true,
    )
    try {
      const seen: BinlogEvent[] = []
      const reading = (async () => {
        for await (const event of stream) {
          seen.push(event)
          if (event.type === 'xid') return
        }
      })()
      await new Promise((resolve) => setTimeout(resolve, 300))
      expect(seen.some((e) => e.type === 'write-rows')).toBe(false)
      const before = seen.length
      appendFileSync(join(copy, start.file), bytes.subarray(middle))
      stream.poke()
      await reading
      expect(seen.length).toBeGreaterThan(before)
      const rows = seen.flatMap((e) => (e.type === 'write-rows' ? e.rows : []))
      expect(rows).toHaveLength(1)
      const cells = readCells(rows[0]!)
      expect(cells[0]!.toString()).toBe('3')
      expect(cells[1]!.equals(Buffer.alloc(300000, 0x5a))).toBe(true)
      expect(stream.position).toEqual(end)
    } finally {
      await stream.close()
    }
  })

  it('answers a file that is not there as the server does (error 1236), so the capture reports it purged', async () => {
    const stream = await open({ file: 'binlog.999999', position: 4 })
    const error = await (async () => {
      for await (const _ of stream) {
        // nothing arrives
      }
    })().catch((e: unknown) => e)
    expect(error).toMatchObject({ errno: 1236, message: expect.stringMatching(/Could not find first log file/) })
  })

  it('answers 1236 when the file it reads is deleted under it (RESET MASTER), as the server does over the protocol', async () => {
    const stream = await open(await currentEnd())
    const reading = (async () => {
      for await (const _ of stream) {
        // nothing of interest arrives
      }
    })().catch((e: unknown) => e)
    await admin.query('RESET MASTER')
    await admin.query('INSERT INTO f.t VALUES (5, NULL)')
    expect(await reading).toMatchObject({ errno: 1236 })
  })

  it('reads over the protocol when the binlog is not in the data directory it is given', async () => {
    source = 'protocol'
    await (await open(await currentEnd(), { dataDir: join(dir.path, 'elsewhere') })).close()
    source = 'files'
  })
})

function big(_key: string, value: unknown): unknown {
  return typeof value === 'bigint' ? value.toString() : value
}
