import { BinlogError } from './binlog-error.js'
import { describe, expect, it } from 'vitest'
import { readCells } from './row-codec.js'
import { COLUMN_TYPE as T } from './binlog-event.js'
import { crc32 } from './crc32.js'
import { BinlogDecoder, EVENT_TYPE as E, type DecodedEvent } from './decode-event.js'

// Hand-built MySQL 8.0 events (there is no MySQL 8 on this machine): header + body + CRC32.

interface EventOptions {
  timestamp?: number
  serverId?: number
  logPos?: number
  flags?: number
  checksum?: boolean
}

function event(type: number, body: Buffer | number[], options: EventOptions = {}): Buffer {
  const payload = Buffer.isBuffer(body) ? body : Buffer.from(body)
  const checksum = options.checksum ?? true
  const size = 19 + payload.length + (checksum ? 4 : 0)
  const buf = Buffer.alloc(size)
  buf.writeUInt32LE(options.timestamp ?? 1_700_000_000, 0)
  buf[4] = type
  buf.writeUInt32LE(options.serverId ?? 1, 5)
  buf.writeUInt32LE(size, 9)
  buf.writeUInt32LE(options.logPos ?? 0, 13)
  buf.writeUInt16LE(options.flags ?? 0, 17)
  payload.copy(buf, 19)
  if (checksum) buf.writeUInt32LE(crc32(buf, 0, size - 4), size - 4)
  return buf
}

const u16 = (v: number) => {
  const b = Buffer.alloc(2)
  b.writeUInt16LE(v)
  return b
}
const u32 = (v: number) => {
  const b = Buffer.alloc(4)
  b.writeUInt32LE(v)
  return b
}
const u64 = (v: bigint) => {
  const b = Buffer.alloc(8)
  b.writeBigUInt64LE(v)
  return b
}
const u48 = (v: number) => {
  const b = Buffer.alloc(6)
  b.writeUIntLE(v, 0, 6)
  return b
}
const u56 = (v: bigint) => u64(v).subarray(0, 7)
const str = (s: string) => Buffer.from(s, 'utf8')
const packed = (n: number) => (n < 251 ? Buffer.from([n]) : Buffer.concat([Buffer.from([252]), u16(n)]))
const lenStr = (s: string) => Buffer.concat([packed(Buffer.byteLength(s)), str(s)])
const cat = (...parts: (Buffer | number[])[]) =>
  Buffer.concat(parts.map((p) => (Buffer.isBuffer(p) ? p : Buffer.from(p))))

function formatDescription(version: string, checksum = true): Buffer {
  const postHeader = Buffer.alloc(41)
  postHeader[E.QUERY - 1] = 13
  postHeader[E.ROTATE - 1] = 8
  postHeader[E.TABLE_MAP - 1] = 8
  for (const t of [E.WRITE_ROWS_V2, E.UPDATE_ROWS_V2, E.DELETE_ROWS_V2]) postHeader[t - 1] = 10
  const versionField = Buffer.alloc(50)
  versionField.write(version)
  const body = cat(u16(4), versionField, u32(0), [19], postHeader, [checksum ? 1 : 0])
  // The FORMAT_DESCRIPTION always has room for the checksum.
  const ev = event(E.FORMAT_DESCRIPTION, body, { logPos: 126 })
  if (!checksum) ev.fill(0, ev.length - 4)
  return ev
}

const UUID = Buffer.from('3e11fa47-71ca-11e1-9e33-c80aa9429562'.replaceAll('-', ''), 'hex')

function gtidEvent(gno: bigint, commitMicros: bigint, original?: bigint): Buffer {
  const immediate = original !== undefined ? commitMicros | (1n << 55n) : commitMicros
  return event(
    E.GTID,
    cat(
      [1],
      UUID,
      u64(gno),
      [2],
      u64(10n),
      u64(11n),
      u56(immediate),
      original !== undefined ? u56(original) : [],
      [0xfc, 0x34, 0x12], // transaction length (packed)
      u32(80036),
    ),
    { logPos: 300 },
  )
}

function queryEvent(schema: string, sql: string, logPos: number): Buffer {
  const status = Buffer.from([0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x20, 0x00, 0xa0, 0x55, 0x00, 0x00, 0x00, 0x00])
  return event(
    E.QUERY,
    cat(u32(7), u32(0), [Buffer.byteLength(schema)], u16(0), u16(status.length), status, str(schema), [0], str(sql)),
    { logPos },
  )
}

// TABLE_MAP for `shop`.`orders`: id BIGINT UNSIGNED, doc JSON, price DECIMAL(10,2), name VARCHAR(40) utf8mb4,
// at DATETIME(3), state ENUM('new','paid'), hidden INT INVISIBLE
function tableMapEvent(tableId: number, withNames = true): Buffer {
  const types = [T.LONGLONG, T.JSON, T.NEWDECIMAL, T.VARCHAR, T.DATETIME2, T.STRING, T.LONG]
  const meta = cat([4], [10, 2], u16(160), [3], [T.ENUM, 1])
  const optional: Buffer[] = [
    cat([1], packed(1), [0b10000000]), // SIGNEDNESS: id unsigned, price signed, hidden signed (3 numeric columns)
    cat([2], packed(3), packed(255)), // DEFAULT_CHARSET utf8mb4_0900_ai_ci for all character columns
  ]
  if (withNames) {
    const names = cat(...['id', 'doc', 'price', 'name', 'at', 'state', 'hidden'].map(lenStr))
    optional.push(cat([4], packed(names.length), names))
  }
  const enums = cat(packed(2), lenStr('new'), lenStr('paid'))
  optional.push(cat([6], packed(enums.length), enums))
  optional.push(cat([8], packed(1), [0])) // SIMPLE_PRIMARY_KEY (id)
  optional.push(cat([12], packed(1), [0b11111100])) // COLUMN_VISIBILITY: hidden invisible
  return event(
    E.TABLE_MAP,
    cat(
      u48(tableId),
      u16(1),
      [4],
      str('shop'),
      [0],
      [6],
      str('orders'),
      [0],
      packed(types.length),
      types,
      packed(meta.length),
      meta,
      [0b01111110], // nullable: all but id
      ...optional,
    ),
    { logPos: 500 },
  )
}

function jsonDocBytes(): Buffer {
  // {"k": false}
  return Buffer.from([0x00, 0x01, 0x00, 0x0c, 0x00, 0x0b, 0x00, 0x01, 0x00, 0x04, 0x02, 0x00, 0x6b])
}

function rowImage(id: bigint, name: string | null): Buffer {
  const doc = jsonDocBytes()
  const nullBits = name === null ? 0b1000 : 0
  const datetime = Buffer.alloc(7)
  const ymd = ((2024 * 13 + 5) << 5) | 6
  const hms = (7 << 12) | (8 << 6) | 9
  datetime.writeUIntBE(ymd * 2 ** 17 + hms + 0x8000000000, 0, 5)
  datetime.writeUInt16BE(1230, 5) // .123 (fsp 3 stores units of 1/10000 s)
  return cat(
    [nullBits],
    u64(id),
    u32(doc.length),
    doc,
    [0x80 | 0x00, 0x00, 0x00, 0x7b, 0x2d], // DECIMAL(10,2) 123.45: intg 8 -> 4 bytes, frac 2 -> 1 byte
    name === null ? [] : cat(Buffer.from([Buffer.byteLength(name)]), str(name)),
    datetime,
    [2],
    u32(0xffffffff),
  )
}

function rowsEvent(type: number, tableId: number, images: Buffer[], present = 0x7f): Buffer {
  const update = type === E.UPDATE_ROWS_V2
  return event(
    type,
    cat(
      u48(tableId),
      u16(1),
      u16(2 + 3),
      [0, 1, 7], // extra data (e.g. a partition info tag)
      packed(7),
      [present],
      update ? [present] : [],
      ...images,
    ),
    { logPos: 700 },
  )
}

function decodeAll(decoder: BinlogDecoder, events: Buffer[]): DecodedEvent[] {
  return events.map((e) => decoder.decode(e))
}

const cellsOf = (row: Buffer) => readCells(row).map((c) => c?.toString('utf8') ?? null)

describe('BinlogDecoder on MySQL 8.0 events', () => {
  it('decodes a transaction: fake rotate, format, GTID with commit timestamps, BEGIN, table map, rows v2, XID', () => {
    const decoder = new BinlogDecoder({ checksum: true })
    const fakeRotate = event(E.ROTATE, cat(u64(4n), str('binlog.000007')), { timestamp: 0, flags: 0x20 })
    const events = decodeAll(decoder, [
      fakeRotate,
      formatDescription('8.0.36'),
      event(E.PREVIOUS_GTIDS, cat(u64(0n)), { logPos: 157 }),
      gtidEvent(42n, 1_700_000_000_123_456n, 1_700_000_000_000_001n),
      queryEvent('shop', 'BEGIN', 400),
      event(E.ROWS_QUERY, cat([30], str('INSERT INTO orders VALUES (...)')), { logPos: 450 }),
      tableMapEvent(91),
      rowsEvent(E.WRITE_ROWS_V2, 91, [rowImage(18446744073709551615n, 'ü 😀'), rowImage(1n, null)]),
      rowsEvent(E.UPDATE_ROWS_V2, 91, [rowImage(1n, null), rowImage(1n, 'x')]),
      event(E.XID, u64(99n), { logPos: 800 }),
    ])
    expect(events[0]).toMatchObject({ type: 'rotate', file: 'binlog.000007', position: 4 })
    expect(events[1]).toMatchObject({ type: 'format-description', flavor: 'mysql', serverVersion: '8.0.36' })
    expect(decoder.flavor).toBe('mysql')
    expect(events[2]).toMatchObject({ type: 'ignored', eventType: E.PREVIOUS_GTIDS })
    expect(events[3]).toEqual({
      type: 'gtid',
      timestamp: 1_700_000_000,
      next: { file: 'binlog.000007', position: 300 },
      gtid: '3e11fa47-71ca-11e1-9e33-c80aa9429562:42',
      standalone: false,
      commitTimeMicros: 1_700_000_000_123_456n,
    })
    expect(events[4]).toMatchObject({ type: 'query', schema: 'shop', sql: 'BEGIN' })
    expect(events[5]).toMatchObject({ type: 'annotate', sql: 'INSERT INTO orders VALUES (...)' })
    const map = events[6]!
    if (map.type !== 'table-map') throw new Error('expected a table map')
    expect(map.table).toMatchObject({ tableId: 91n, database: 'shop', table: 'orders', primaryKey: [0] })
    expect(map.table.columns.map((c) => [c.name, c.kind, c.unsigned, c.nullable])).toEqual([
      ['id', 'number', true, false],
      ['doc', 'json', false, true],
      ['price', 'number', false, true],
      ['name', 'string', false, true],
      ['at', 'temporal', false, true],
      ['state', 'enum', false, true],
      ['hidden', 'number', false, true],
    ])
    expect(map.table.columns[3]!.charsetId).toBe(255)
    expect(map.table.columns[5]!.enumValues).toEqual(['new', 'paid'])
    expect(map.table.columns.map((c) => c.visible)).toEqual([true, true, true, true, true, true, false])
    const write = events[7]!
    if (write.type !== 'write-rows') throw new Error('expected write-rows')
    expect(write.table).toBe(map.table)
    expect(write.rows.map(cellsOf)).toEqual([
      ['18446744073709551615', '{"k": false}', '123.45', 'ü 😀', '2024-05-06 07:08:09.123', '2', '-1'],
      ['1', '{"k": false}', '123.45', null, '2024-05-06 07:08:09.123', '2', '-1'],
    ])
    const update = events[8]!
    if (update.type !== 'update-rows') throw new Error('expected update-rows')
    expect(update.rows.map((r) => [cellsOf(r.before)[3], cellsOf(r.after)[3]])).toEqual([[null, 'x']])
    expect(events[9]).toMatchObject({ type: 'xid', xid: 99n, next: { file: 'binlog.000007', position: 800 } })
  })

  it('reads GTIDs without an original commit timestamp, anonymous GTIDs and old GTIDs without timestamps', () => {
    const decoder = new BinlogDecoder()
    decoder.decode(formatDescription('8.0.36'))
    expect(decoder.decode(gtidEvent(7n, 123n))).toMatchObject({ commitTimeMicros: 123n })
    const anon = event(E.ANONYMOUS_GTID, cat([1], Buffer.alloc(16), u64(0n), [2], u64(1n), u64(2n), u56(5n)))
    expect(decoder.decode(anon)).toMatchObject({ type: 'gtid', gtid: 'ANONYMOUS', commitTimeMicros: 5n })
    const old = decoder.decode(event(E.GTID, cat([1], UUID, u64(3n))))
    expect(old).toMatchObject({ type: 'gtid', gtid: '3e11fa47-71ca-11e1-9e33-c80aa9429562:3' })
    expect(old.type === 'gtid' && old.commitTimeMicros).toBeUndefined()
  })

  it('reads heartbeats (v1 and v2) as positions', () => {
    const decoder = new BinlogDecoder()
    decoder.decode(formatDescription('8.0.36'))
    expect(decoder.decode(event(E.HEARTBEAT, str('binlog.000003'), { logPos: 1234 }))).toMatchObject({
      type: 'heartbeat',
      next: { file: 'binlog.000003', position: 1234 },
    })
    const v2 = cat([0], lenStr('binlog.000004'), [1], packed(3), [0xfc, 0x10, 0x27])
    expect(decoder.decode(event(E.HEARTBEAT_V2, v2))).toMatchObject({
      type: 'heartbeat',
      next: { file: 'binlog.000004', position: 10000 },
    })
  })

  it('keeps the start position when the server re-sends the FORMAT_DESCRIPTION of a file it resumes in', () => {
    const decoder = new BinlogDecoder({ checksum: true })
    decoder.decode(event(E.ROTATE, cat(u64(5000n), str('binlog.000002')), { timestamp: 0, flags: 0x20 }))
    const format = decoder.decode(formatDescription('8.0.36')) // log_pos 126: its place at the file start
    expect(format.next).toEqual({ file: 'binlog.000002', position: 5000 })
    expect(decoder.decode(event(E.XID, u64(1n), { logPos: 5031 })).next.position).toBe(5031)
  })

  it('decodes statement text per character_set_client and refuses undecodable text', () => {
    const decoder = new BinlogDecoder()
    decoder.decode(formatDescription('10.11.19-MariaDB'))
    const query = (charset: number, sql: Buffer) => {
      const status = cat([0], u32(0), [1], u64(0n), [6], [3], str('std'), [4], u16(charset), u16(charset), u16(8))
      return event(E.QUERY, cat(u32(1), u32(0), [1], u16(0), u16(status.length), status, str('d'), [0], sql))
    }
    expect(decoder.decode(query(8, Buffer.from('DROP TABLE `t\xe9\x80`', 'latin1')))).toMatchObject({
      sql: 'DROP TABLE `té€`',
      schema: 'd',
      clientCharsetId: 8,
    })
    expect(decoder.decode(query(45, str('DROP TABLE `té`')))).toMatchObject({ sql: 'DROP TABLE `té`' })
    expect(() => decoder.decode(query(28, Buffer.from([0x41, 0xa4, 0xa4])))).toThrowError(/utf8mb4 client/)
  })

  it('reads events without checksums when the format description says NONE', () => {
    const decoder = new BinlogDecoder({ checksum: false })
    decoder.decode(formatDescription('8.0.36', false))
    expect(decoder.checksum).toBe(false)
    expect(decoder.decode(event(E.XID, u64(5n), { checksum: false }))).toMatchObject({ type: 'xid', xid: 5n })
  })

  it('detects MariaDB from the server version and reads its GTID, GTID list and annotate events', () => {
    const decoder = new BinlogDecoder()
    decoder.decode(formatDescription('10.11.19-MariaDB-0+deb12u1-log'))
    expect(decoder.flavor).toBe('mariadb')
    const gtid = decoder.decode(event(E.MARIA_GTID, cat(u64(44189n), u32(0), [1]), { serverId: 7, logPos: 42 }))
    expect(gtid).toMatchObject({ type: 'gtid', gtid: '0-7-44189', standalone: true })
    const list = decoder.decode(event(E.MARIA_GTID_LIST, cat(u32(1), u32(0), u32(1), u64(12n))))
    expect(list).toMatchObject({ type: 'gtid-list', gtids: ['0-1-12'] })
    expect(decoder.decode(event(E.MARIA_ANNOTATE_ROWS, str('DELETE FROM t')))).toMatchObject({
      type: 'annotate',
      sql: 'DELETE FROM t',
    })
    expect(() => decoder.decode(event(E.MARIA_GTID, cat(u64(1n), u32(0), [0x40]), { serverId: 7 }))).toThrowError(/XA/)
  })
})

describe('BinlogDecoder refuses what it cannot capture truthfully', () => {
  const cases: [string, number, RegExp][] = [
    [
      'TRANSACTION_PAYLOAD (binlog_transaction_compression)',
      E.TRANSACTION_PAYLOAD,
      /binlog_transaction_compression=OFF/,
    ],
    ['PARTIAL_UPDATE_ROWS (PARTIAL_JSON)', E.PARTIAL_UPDATE_ROWS, /binlog_row_value_options/],
    ['MariaDB QUERY_COMPRESSED', E.MARIA_QUERY_COMPRESSED, /log_bin_compress=OFF/],
    ['MariaDB WRITE_ROWS_COMPRESSED_V1', E.MARIA_WRITE_ROWS_COMPRESSED_V1, /log_bin_compress=OFF/],
    ['MariaDB DELETE_ROWS_COMPRESSED', E.MARIA_DELETE_ROWS_COMPRESSED, /log_bin_compress=OFF/],
    ['START_ENCRYPTION', E.MARIA_START_ENCRYPTION, /encrypt_binlog/],
    ['INCIDENT', E.INCIDENT, /incident/],
    ['XA_PREPARE', E.XA_PREPARE, /XA/],
    ['an unknown event', 99, /event type 99.*not understood/],
  ]
  it.each(cases)('%s', (_name, type, message) => {
    const decoder = new BinlogDecoder()
    decoder.decode(formatDescription('8.0.36'))
    let error: unknown
    try {
      decoder.decode(event(type, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]))
    } catch (e) {
      error = e
    }
    expect(BinlogError.is(error, 'CaptureFault')).toBe(true)
    expect((error as Error).message).toMatch(message)
  })

  it('a TABLE_MAP without column names (binlog_row_metadata not FULL)', () => {
    const decoder = new BinlogDecoder()
    decoder.decode(formatDescription('8.0.36'))
    expect(() => decoder.decode(tableMapEvent(5, false))).toThrowError(/binlog_row_metadata=FULL/)
  })

  it('a rows event with a partial image (binlog_row_image not FULL)', () => {
    const decoder = new BinlogDecoder()
    decoder.decode(formatDescription('8.0.36'))
    decoder.decode(tableMapEvent(5))
    expect(() => decoder.decode(rowsEvent(E.WRITE_ROWS_V2, 5, [], 0x3f))).toThrowError(/binlog_row_image=FULL/)
  })

  it('a rows event for a table it has no map for, and a corrupt checksum', () => {
    const decoder = new BinlogDecoder()
    decoder.decode(formatDescription('8.0.36'))
    expect(() => decoder.decode(rowsEvent(E.WRITE_ROWS_V2, 6, []))).toThrowError(/without a TABLE_MAP_EVENT/)
    const bad = event(E.XID, u64(1n))
    bad[20] = bad[20]! ^ 1
    expect(() => decoder.decode(bad)).toThrowError(/CRC32/)
  })
})
