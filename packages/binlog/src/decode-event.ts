import { BinlogError } from './binlog-error.js'
import { RowWriter } from './row-codec.js'
import {
  COLUMN_TYPE as T,
  type BinlogEvent,
  type BinlogPosition,
  type ColumnInfo,
  type TableMap,
} from './binlog-event.js'
import { crc32 } from './crc32.js'
import { columnDecoder, realType, valueKind, type ColumnDecoder } from './decode-value.js'

/** Binlog event type codes (Log_event_type, MySQL and MariaDB). */
export const EVENT_TYPE = {
  UNKNOWN: 0,
  START_V3: 1,
  QUERY: 2,
  STOP: 3,
  ROTATE: 4,
  INTVAR: 5,
  LOAD: 6,
  SLAVE: 7,
  CREATE_FILE: 8,
  APPEND_BLOCK: 9,
  EXEC_LOAD: 10,
  DELETE_FILE: 11,
  NEW_LOAD: 12,
  RAND: 13,
  USER_VAR: 14,
  FORMAT_DESCRIPTION: 15,
  XID: 16,
  BEGIN_LOAD_QUERY: 17,
  EXECUTE_LOAD_QUERY: 18,
  TABLE_MAP: 19,
  PRE_GA_WRITE_ROWS: 20,
  PRE_GA_UPDATE_ROWS: 21,
  PRE_GA_DELETE_ROWS: 22,
  WRITE_ROWS_V1: 23,
  UPDATE_ROWS_V1: 24,
  DELETE_ROWS_V1: 25,
  INCIDENT: 26,
  HEARTBEAT: 27,
  IGNORABLE: 28,
  ROWS_QUERY: 29,
  WRITE_ROWS_V2: 30,
  UPDATE_ROWS_V2: 31,
  DELETE_ROWS_V2: 32,
  GTID: 33,
  ANONYMOUS_GTID: 34,
  PREVIOUS_GTIDS: 35,
  TRANSACTION_CONTEXT: 36,
  VIEW_CHANGE: 37,
  XA_PREPARE: 38,
  PARTIAL_UPDATE_ROWS: 39,
  TRANSACTION_PAYLOAD: 40,
  HEARTBEAT_V2: 41,
  GTID_TAGGED: 42,
  MARIA_ANNOTATE_ROWS: 160,
  MARIA_BINLOG_CHECKPOINT: 161,
  MARIA_GTID: 162,
  MARIA_GTID_LIST: 163,
  MARIA_START_ENCRYPTION: 164,
  MARIA_QUERY_COMPRESSED: 165,
  MARIA_WRITE_ROWS_COMPRESSED_V1: 166,
  MARIA_UPDATE_ROWS_COMPRESSED_V1: 167,
  MARIA_DELETE_ROWS_COMPRESSED_V1: 168,
  MARIA_WRITE_ROWS_COMPRESSED: 169,
  MARIA_UPDATE_ROWS_COMPRESSED: 170,
  MARIA_DELETE_ROWS_COMPRESSED: 171,
} as const

const EVENT_NAME: Record<number, string> = Object.fromEntries(
  Object.entries(EVENT_TYPE).map(([name, code]) => [code, name + '_EVENT']),
)

function eventName(type: number): string {
  return EVENT_NAME[type] ?? `event type ${type}`
}

/** TABLE_MAP optional metadata field types (Table_map_log_event::Optional_metadata_field_type). */
const META = {
  SIGNEDNESS: 1,
  DEFAULT_CHARSET: 2,
  COLUMN_CHARSET: 3,
  COLUMN_NAME: 4,
  SET_STR_VALUE: 5,
  ENUM_STR_VALUE: 6,
  GEOMETRY_TYPE: 7,
  SIMPLE_PRIMARY_KEY: 8,
  PRIMARY_KEY_WITH_PREFIX: 9,
  ENUM_AND_SET_DEFAULT_CHARSET: 10,
  ENUM_AND_SET_COLUMN_CHARSET: 11,
  COLUMN_VISIBILITY: 12,
} as const

/** Which server wrote the binlog: their events differ (GTIDs, metadata, JSON, compression). */
export type ServerFlavor = 'mariadb' | 'mysql'

/**
 * Events the decoder produces besides the public `BinlogEvent`s: the client consumes them (format, GTID list,
 * events that carry nothing for the capture) and does not hand them on.
 */
export type DecodedEvent =
  | BinlogEvent
  | {
      type: 'format-description'
      timestamp: number
      next: BinlogPosition
      serverVersion: string
      flavor: ServerFlavor
      checksum: boolean
    }
  | { type: 'gtid-list'; timestamp: number; next: BinlogPosition; gtids: string[] }
  | { type: 'ignored'; timestamp: number; next: BinlogPosition; eventType: number }

/** Header flag: the server made this event up (fake ROTATE, re-sent FORMAT_DESCRIPTION); its log_pos is not a position. */
const LOG_EVENT_ARTIFICIAL_F = 0x20
/** Header flag of a FORMAT_DESCRIPTION in a binlog file the server still writes. */
const LOG_EVENT_BINLOG_IN_USE_F = 0x1
const HEADER_LENGTH = 19
const STMT_END_F = 1
/** Table ids are only valid until the statement ends; old maps are dropped beyond this many. */
const MAX_CACHED_TABLES = 4096

function fault(message: string): BinlogError {
  return new BinlogError('CaptureFault', message)
}

const NAMES_EVENT = /(?:_EVENT|event type \d+) at [^\s:]*:\d+/

/**
 * `error` as a CaptureFault that names the event and where it starts (`at`): the decoder's own faults get the
 * position added, and anything else a malformed event makes the reads throw (a RangeError past its end) becomes one.
 */
function located(error: unknown, raw: Buffer, at: string): BinlogError {
  const name = raw.length > 4 ? eventName(raw[4]!) : `binlog event of ${raw.length} bytes`
  if (!BinlogError.is(error)) {
    return new BinlogError(
      'CaptureFault',
      `${name} at ${at} could not be decoded (${(error as Error).message}): the binlog stream is corrupt`,
      { cause: error },
    )
  }
  if (NAMES_EVENT.test(error.message)) return error
  const message = error.message.startsWith(name)
    ? `${name} at ${at}${error.message.slice(name.length)}`
    : `${name} at ${at}: ${error.message}`
  return new BinlogError(error.code, message, { cause: error })
}

interface CompiledTable {
  map: TableMap
  raw: Buffer
  decoders: ColumnDecoder[]
  nullBytes: number
}

/** Reads a length-encoded integer (net_field_length). */
function packedInt(buf: Buffer, pos: number): [value: number, next: number] {
  const b = buf[pos]
  if (b === undefined) throw fault('truncated binlog event (length-encoded integer)')
  if (b < 251) return [b, pos + 1]
  if (b === 252) return [buf.readUInt16LE(pos + 1), pos + 3]
  if (b === 253) return [buf.readUIntLE(pos + 1, 3), pos + 4]
  if (b === 254) return [Number(buf.readBigUInt64LE(pos + 1)), pos + 9]
  throw fault(`invalid length-encoded integer 0x${b.toString(16)} in a binlog event`)
}

function isNumeric(type: number): boolean {
  switch (type) {
    case T.TINY:
    case T.SHORT:
    case T.INT24:
    case T.LONG:
    case T.LONGLONG:
    case T.NEWDECIMAL:
    case T.FLOAT:
    case T.DOUBLE:
      return true
    default:
      return false
  }
}

function isCharacter(rt: number): boolean {
  return rt === T.STRING || rt === T.VAR_STRING || rt === T.VARCHAR || rt === T.BLOB
}

function isFileName(name: string): boolean {
  if (name === '') return false
  for (const c of name) {
    if (c < ' ' || c === '\u007f' || c === '\ufffd' || c === '/' || c === '\\') return false
  }
  return true
}

function uuidText(buf: Buffer, pos: number): string {
  const hex = buf.toString('hex', pos, pos + 16)
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`
}

export interface BinlogDecoderOptions {
  /** Whether events carry a CRC32 before the first FORMAT_DESCRIPTION says so (the server's binlog_checksum). */
  checksum?: boolean
  /** The file the stream starts in (the fake ROTATE at the start sets it anyway). */
  file?: string
  position?: number
}

/**
 * Turns raw binlog events (header + body + optional CRC32, as the server sends them after the 0x00 byte) into
 * `DecodedEvent`s. Stateful: FORMAT_DESCRIPTION sets checksum and post-header lengths, TABLE_MAP registers the table
 * that rows events refer to, and ROTATE/log_pos move `position`.
 */
export class BinlogDecoder {
  flavor: ServerFlavor | undefined
  serverVersion = ''
  /** Whether events carry a CRC32 (from the last FORMAT_DESCRIPTION). */
  checksum: boolean
  #sawFormat = false
  #postHeader: Uint8Array = new Uint8Array(0)
  #tables = new Map<number, CompiledTable>()
  #writer = new RowWriter(1024)
  /** Where the event after the last decoded one starts. */
  position: BinlogPosition

  constructor(options: BinlogDecoderOptions = {}) {
    this.checksum = options.checksum ?? true
    this.position = { file: options.file ?? '', position: options.position ?? 4 }
  }

  #postHeaderLength(type: number, fallback: number): number {
    const v = this.#postHeader[type - 1]
    return v === undefined ? fallback : v
  }

  /**
   * Decodes one event. `raw` must be exactly the event (it may be a view; row images are copied out). Whatever the
   * bytes, it returns an event or throws a `BinlogError` (CaptureFault) that names the event type and its position.
   */
  decode(raw: Buffer): DecodedEvent {
    const at = `${this.position.file}:${this.position.position}`
    try {
      return this.#decode(raw)
    } catch (error) {
      throw located(error, raw, at)
    }
  }

  #decode(raw: Buffer): DecodedEvent {
    if (raw.length < HEADER_LENGTH) throw fault(`binlog event of ${raw.length} bytes is shorter than its header`)
    const timestamp = raw.readUInt32LE(0)
    const type = raw[4]!
    const serverId = raw.readUInt32LE(5)
    const size = raw.readUInt32LE(9)
    const logPos = raw.readUInt32LE(13)
    const flags = raw.readUInt16LE(17)
    if (size !== raw.length) throw fault(`${eventName(type)} says it has ${size} bytes but ${raw.length} arrived`)

    let end = raw.length
    if (type === EVENT_TYPE.FORMAT_DESCRIPTION) {
      end = this.#formatChecksum(raw)
    } else if (this.#sawFormat) {
      if (this.checksum) {
        end -= 4
        this.#verify(raw, end, type)
      }
    } else {
      // A stream opens with a fake ROTATE, then the file's FORMAT_DESCRIPTION, and a file with the latter: anything
      // else first is a corrupt type byte (a FORMAT_DESCRIPTION's read as an event to ignore would turn every
      // later CRC check into a guess).
      if (type !== EVENT_TYPE.ROTATE && type !== EVENT_TYPE.HEARTBEAT && type !== EVENT_TYPE.HEARTBEAT_V2) {
        throw fault(`${eventName(type)} arrived before the FORMAT_DESCRIPTION_EVENT that opens every binlog stream`)
      }
      // The fake ROTATE: strip a CRC only if it is one.
      if (this.checksum && raw.length >= HEADER_LENGTH + 4 && crc32(raw, 0, end - 4) === raw.readUInt32LE(end - 4)) {
        end -= 4
      }
    }

    // Position bookkeeping: log_pos is where the next event starts (0 or artificial: not a position).
    const artificial = (flags & LOG_EVENT_ARTIFICIAL_F) !== 0 || logPos === 0
    // Within a file positions only grow: a FORMAT_DESCRIPTION re-sent when a dump starts mid-file carries the
    // log_pos of its original place near the start, which must not move the position back.
    if (!artificial && type !== EVENT_TYPE.ROTATE && logPos >= this.position.position) {
      this.position = { file: this.position.file, position: logPos }
    }
    const next = (): BinlogPosition => ({ file: this.position.file, position: this.position.position })
    const body = HEADER_LENGTH

    switch (type) {
      case EVENT_TYPE.FORMAT_DESCRIPTION:
        return this.#format(raw, body, end, timestamp, next())
      case EVENT_TYPE.ROTATE: {
        const position = Number(raw.readBigUInt64LE(body))
        const file = raw.toString('utf8', body + 8, end)
        // A binlog file name has no control characters, no invalid UTF-8 and no directory. Without a checksum (or
        // before the FORMAT_DESCRIPTION, where the fake ROTATE's CRC is taken on trust) this is what shows that a
        // corrupt event was read as a ROTATE (or a heartbeat), before it moves the position.
        if (!isFileName(file) || !Number.isSafeInteger(position)) {
          throw fault(
            `ROTATE_EVENT names ${JSON.stringify(file)} at ${position}, which is no binlog file and position: ` +
              `the binlog stream is corrupt`,
          )
        }
        this.position = { file, position }
        return { type: 'rotate', timestamp, next: next(), file, position }
      }
      case EVENT_TYPE.QUERY:
        return this.#query(raw, body, end, timestamp, next())
      case EVENT_TYPE.XID:
        return { type: 'xid', timestamp, next: next(), xid: raw.readBigUInt64LE(body) }
      case EVENT_TYPE.TABLE_MAP:
        return { type: 'table-map', timestamp, next: next(), table: this.#tableMap(raw, body, end).map }
      case EVENT_TYPE.WRITE_ROWS_V1:
      case EVENT_TYPE.UPDATE_ROWS_V1:
      case EVENT_TYPE.DELETE_ROWS_V1:
      case EVENT_TYPE.WRITE_ROWS_V2:
      case EVENT_TYPE.UPDATE_ROWS_V2:
      case EVENT_TYPE.DELETE_ROWS_V2:
        return this.#rows(raw, type, body, end, timestamp, next())
      case EVENT_TYPE.MARIA_ANNOTATE_ROWS:
        return { type: 'annotate', timestamp, next: next(), sql: raw.toString('utf8', body, end) }
      case EVENT_TYPE.ROWS_QUERY:
        // 1 byte length (truncated to 255, ignored), then the whole statement.
        return { type: 'annotate', timestamp, next: next(), sql: raw.toString('utf8', body + 1, end) }
      case EVENT_TYPE.MARIA_GTID: {
        const seq = raw.readBigUInt64LE(body)
        const domain = raw.readUInt32LE(body + 8)
        const gtidFlags = raw[body + 12]!
        if (gtidFlags & (0x40 | 0x80)) {
          throw fault(
            `MariaDB GTID_EVENT ${domain}-${serverId}-${seq} belongs to an XA transaction (XA PREPARE/COMMIT), ` +
              `which backtrack does not capture: do not use XA transactions on a simulated cluster`,
          )
        }
        return {
          type: 'gtid',
          timestamp,
          next: next(),
          gtid: `${domain}-${serverId}-${seq}`,
          standalone: (gtidFlags & 1) !== 0,
        }
      }
      case EVENT_TYPE.GTID:
      case EVENT_TYPE.ANONYMOUS_GTID:
        return this.#mysqlGtid(raw, type, body, end, timestamp, next())
      case EVENT_TYPE.MARIA_GTID_LIST: {
        const count = raw.readUInt32LE(body) & 0x0fffffff
        const gtids: string[] = []
        for (let i = 0, p = body + 4; i < count; i++, p += 16) {
          gtids.push(`${raw.readUInt32LE(p)}-${raw.readUInt32LE(p + 4)}-${raw.readBigUInt64LE(p + 8)}`)
        }
        return { type: 'gtid-list', timestamp, next: next(), gtids }
      }
      case EVENT_TYPE.HEARTBEAT:
        return this.#heartbeat(raw.toString('utf8', body, end), logPos, timestamp)
      case EVENT_TYPE.HEARTBEAT_V2:
        return this.#heartbeatV2(raw, body, end, timestamp)
      case EVENT_TYPE.MARIA_BINLOG_CHECKPOINT:
      case EVENT_TYPE.PREVIOUS_GTIDS:
      case EVENT_TYPE.TRANSACTION_CONTEXT:
      case EVENT_TYPE.VIEW_CHANGE:
      case EVENT_TYPE.INTVAR:
      case EVENT_TYPE.RAND:
      case EVENT_TYPE.USER_VAR:
      case EVENT_TYPE.STOP:
        return { type: 'ignored', timestamp, next: next(), eventType: type }
      default:
        throw unsupported(type)
    }
  }

  #verify(raw: Buffer, end: number, type: number): void {
    const expected = raw.readUInt32LE(end)
    const actual = crc32(raw, 0, end)
    if (expected !== actual) {
      throw fault(
        `${eventName(type)} at ${this.position.file}:${this.position.position} failed its CRC32 check ` +
          `(stored ${expected.toString(16)}, computed ${actual.toString(16)}): the binlog stream is corrupt`,
      )
    }
  }

  /**
   * FORMAT_DESCRIPTION always ends with the checksum algorithm byte and 4 checksum bytes (MySQL 5.6.1+/MariaDB 5.3+),
   * and the server fills them with the event's own CRC32 whatever algorithm it names for the events after it (NONE
   * included), so a flipped algorithm byte cannot turn checksums off unnoticed. All-zero checksum bytes under NONE
   * are accepted too: the space was only reserved.
   */
  #formatChecksum(raw: Buffer): number {
    const alg = raw[raw.length - 5]
    const stored = raw.readUInt32LE(raw.length - 4)
    if (!(alg === 0 && stored === 0)) {
      const flags = raw.readUInt16LE(17)
      // In a binlog file still open for writing the server sets the in-use flag after computing the CRC.
      const copy = flags & LOG_EVENT_BINLOG_IN_USE_F ? Buffer.from(raw) : undefined
      copy?.writeUInt16LE(flags & ~LOG_EVENT_BINLOG_IN_USE_F, 17)
      if (copy === undefined || crc32(copy, 0, copy.length - 4) !== stored) {
        this.#verify(raw, raw.length - 4, EVENT_TYPE.FORMAT_DESCRIPTION)
      }
    }
    if (alg !== 0 && alg !== 1) {
      throw fault(`FORMAT_DESCRIPTION_EVENT names checksum algorithm ${alg}; backtrack reads CRC32 or NONE only`)
    }
    this.checksum = alg === 1
    return raw.length - 5
  }

  #format(raw: Buffer, body: number, end: number, timestamp: number, next: BinlogPosition): DecodedEvent {
    const version = raw.toString('latin1', body + 2, body + 52).replace(/\0.*$/s, '')
    const headerLength = raw[body + 56]!
    if (headerLength !== HEADER_LENGTH) throw fault(`binlog event header of ${headerLength} bytes is not supported`)
    this.#postHeader = Uint8Array.from(raw.subarray(body + 57, end))
    this.serverVersion = version
    this.flavor = /mariadb/i.test(version) ? 'mariadb' : 'mysql'
    this.#sawFormat = true
    // A new binlog file: table ids are only valid within the statement that mapped them.
    return {
      type: 'format-description',
      timestamp,
      next,
      serverVersion: version,
      flavor: this.flavor,
      checksum: this.checksum,
    }
  }

  #query(raw: Buffer, body: number, end: number, timestamp: number, next: BinlogPosition): DecodedEvent {
    const postHeader = this.#postHeaderLength(EVENT_TYPE.QUERY, 13)
    const schemaLength = raw[body + 8]!
    const statusLength = raw.readUInt16LE(body + 11)
    const statusAt = body + postHeader
    const charsetId = clientCharset(raw, statusAt, statusAt + statusLength)
    const schemaAt = statusAt + statusLength
    // Schema names are stored in the system character set (UTF-8).
    const schema = raw.toString('utf8', schemaAt, schemaAt + schemaLength)
    const sql = queryText(raw.subarray(schemaAt + schemaLength + 1, end), charsetId)
    const event: DecodedEvent = { type: 'query', timestamp, next, schema, sql }
    if (charsetId !== undefined) event.clientCharsetId = charsetId
    return event
  }

  #mysqlGtid(
    raw: Buffer,
    type: number,
    body: number,
    end: number,
    timestamp: number,
    next: BinlogPosition,
  ): DecodedEvent {
    let p = body + 1 // commit flag
    const sid = uuidText(raw, p)
    p += 16
    const gno = raw.readBigInt64LE(p)
    p += 8
    let commitTimeMicros: bigint | undefined
    if (p < end && raw[p] === 2) {
      p += 1 + 16 // logical timestamps: last_committed, sequence_number
      if (p + 7 <= end) {
        let ts = raw.readUIntLE(p, 6) + raw[p + 6]! * 2 ** 48
        const hasOriginal = ts >= 2 ** 55
        if (hasOriginal) ts -= 2 ** 55
        commitTimeMicros = BigInt(ts)
      }
    }
    const event: DecodedEvent = {
      type: 'gtid',
      timestamp,
      next,
      gtid: type === EVENT_TYPE.ANONYMOUS_GTID ? 'ANONYMOUS' : `${sid}:${gno}`,
      // MySQL has no standalone flag: a DDL transaction is the GTID and one QUERY (no BEGIN, no XID).
      standalone: false,
    }
    if (commitTimeMicros !== undefined) event.commitTimeMicros = commitTimeMicros
    return event
  }

  #heartbeat(file: string, logPos: number, timestamp: number): DecodedEvent {
    if (file && logPos) {
      if (!isFileName(file)) {
        throw fault(`heartbeat names ${JSON.stringify(file)}, which is no binlog file: the binlog stream is corrupt`)
      }
      this.position = { file, position: logPos }
    }
    return { type: 'heartbeat', timestamp, next: { ...this.position } }
  }

  #heartbeatV2(raw: Buffer, body: number, end: number, timestamp: number): DecodedEvent {
    let file = ''
    let position = 0
    let p = body
    while (p < end) {
      const field = raw[p++]!
      const [length, at] = packedInt(raw, p)
      if (field === 0) file = raw.toString('utf8', at, at + length)
      else if (field === 1) position = packedInt(raw, at)[0]
      p = at + length
    }
    return this.#heartbeat(file, position, timestamp)
  }

  #tableMap(raw: Buffer, body: number, end: number): CompiledTable {
    const idLength = this.#postHeaderLength(EVENT_TYPE.TABLE_MAP, 8) === 6 ? 4 : 6
    const tableId = raw.readUIntLE(body, idLength)
    const payload = raw.subarray(body, end)
    const cached = this.#tables.get(tableId)
    if (cached && cached.raw.equals(payload)) {
      // Keep recently used maps at the end (the map is bounded, oldest first out).
      this.#tables.delete(tableId)
      this.#tables.set(tableId, cached)
      return cached
    }

    let p = body + idLength + 2
    const dbLength = raw[p++]!
    const database = raw.toString('utf8', p, p + dbLength)
    p += dbLength + 1
    const tableLength = raw[p++]!
    const table = raw.toString('utf8', p, p + tableLength)
    p += tableLength + 1
    const [count, afterCount] = packedInt(raw, p)
    p = afterCount
    const types = raw.subarray(p, p + count)
    p += count
    const [metaLength, afterMetaLength] = packedInt(raw, p)
    p = afterMetaLength

    // MySQL gives the old TIME/DATETIME/TIMESTAMP no metadata byte, MariaDB's fractional variants one: the total
    // size of the block tells which.
    let oldTemporalHasMeta = false
    let total = 0
    for (let i = 0; i < count; i++) total += metaSize(types[i]!, false)
    if (total !== metaLength) {
      oldTemporalHasMeta = true
      total = 0
      for (let i = 0; i < count; i++) total += metaSize(types[i]!, true)
      if (total !== metaLength) {
        throw fault(`TABLE_MAP_EVENT for ${database}.${table}: column metadata does not add up (unknown column type)`)
      }
    }
    const metas: number[] = []
    for (let i = 0; i < count; i++) {
      const type = types[i]!
      const n = metaSize(type, oldTemporalHasMeta)
      if (n === 0) metas.push(0)
      else if (n === 1) metas.push(raw[p]!)
      else if (type === T.NEWDECIMAL || type === T.STRING || type === T.ENUM || type === T.SET)
        metas.push((raw[p]! << 8) | raw[p + 1]!)
      else metas.push(raw.readUInt16LE(p))
      p += n
    }
    const nullBitmap = raw.subarray(p, p + ((count + 7) >> 3))
    p += (count + 7) >> 3

    const columns: ColumnInfo[] = []
    for (let i = 0; i < count; i++) {
      const type = types[i]!
      const meta = metas[i]!
      columns.push({
        name: '',
        type,
        meta,
        nullable: (nullBitmap[i >> 3]! & (1 << (i & 7))) !== 0,
        unsigned: false,
        kind: valueKind(type, meta),
      })
    }
    const map: TableMap = { tableId: BigInt(tableId), database, table, columns, primaryKey: [] }
    let sawNames = false
    while (p < end) {
      const field = raw[p++]!
      let length: number
      ;[length, p] = packedInt(raw, p)
      const fieldEnd = p + length
      if (fieldEnd > end) throw fault(`TABLE_MAP_EVENT for ${database}.${table}: optional metadata overruns the event`)
      this.#optionalMetadata(map, field, raw, p, fieldEnd)
      if (field === META.COLUMN_NAME) sawNames = true
      p = fieldEnd
    }
    if (!sawNames) {
      throw fault(
        `TABLE_MAP_EVENT for \`${database}\`.\`${table}\` has no column names: set binlog_row_metadata=FULL ` +
          `on the server (SET GLOBAL binlog_row_metadata='FULL')`,
      )
    }
    const decoders = columns.map((c) => columnDecoder(c))
    const compiled: CompiledTable = { map, raw: Buffer.from(payload), decoders, nullBytes: (count + 7) >> 3 }
    this.#tables.delete(tableId)
    this.#tables.set(tableId, compiled)
    if (this.#tables.size > MAX_CACHED_TABLES) this.#tables.delete(this.#tables.keys().next().value!)
    return compiled
  }

  #optionalMetadata(map: TableMap, field: number, raw: Buffer, p: number, end: number): void {
    const columns = map.columns
    const rt = (c: ColumnInfo) => realType(c.type, c.meta)
    const forEachFlagged = (select: (c: ColumnInfo) => boolean, apply: (c: ColumnInfo, bit: boolean) => void) => {
      let k = 0
      for (const c of columns) {
        if (!select(c)) continue
        const byte = raw[p + (k >> 3)] ?? 0
        apply(c, (byte & (0x80 >> (k & 7))) !== 0)
        k++
      }
    }
    const charsetColumns = (enumSet: boolean): ColumnInfo[] => {
      const picked = columns.filter((c) => (enumSet ? rt(c) === T.ENUM || rt(c) === T.SET : isCharacter(rt(c))))
      return picked
    }
    const readDefaultCharset = (targets: ColumnInfo[]) => {
      const [dflt, first] = packedInt(raw, p)
      let q = first
      for (const c of targets) c.charsetId = dflt
      while (q < end) {
        let index: number
        let charset: number
        ;[index, q] = packedInt(raw, q)
        ;[charset, q] = packedInt(raw, q)
        const c = targets[index]
        if (c) c.charsetId = charset
      }
    }
    const readColumnCharset = (targets: ColumnInfo[]) => {
      let q = p
      for (const c of targets) {
        if (q >= end) break
        let charset: number
        ;[charset, q] = packedInt(raw, q)
        c.charsetId = charset
      }
    }
    const readStrings = (): string[][] => {
      const lists: string[][] = []
      let q = p
      while (q < end) {
        let n: number
        ;[n, q] = packedInt(raw, q)
        const values: string[] = []
        for (let i = 0; i < n; i++) {
          let length: number
          ;[length, q] = packedInt(raw, q)
          values.push(raw.toString('utf8', q, q + length))
          q += length
        }
        lists.push(values)
      }
      return lists
    }
    switch (field) {
      case META.SIGNEDNESS:
        // MariaDB gives YEAR (a Field_num) a bit too; MySQL does not.
        forEachFlagged(
          (c) => isNumeric(c.type) || (c.type === T.YEAR && this.flavor === 'mariadb'),
          (c, bit) => (c.unsigned = bit),
        )
        return
      case META.DEFAULT_CHARSET:
        return readDefaultCharset(this.#characterColumns(columns, raw, p, end, true))
      case META.COLUMN_CHARSET:
        return readColumnCharset(this.#characterColumns(columns, raw, p, end, false))
      case META.ENUM_AND_SET_DEFAULT_CHARSET:
        return readDefaultCharset(charsetColumns(true))
      case META.ENUM_AND_SET_COLUMN_CHARSET:
        return readColumnCharset(charsetColumns(true))
      case META.COLUMN_NAME: {
        let q = p
        for (const c of columns) {
          let length: number
          ;[length, q] = packedInt(raw, q)
          c.name = raw.toString('utf8', q, q + length)
          q += length
        }
        return
      }
      case META.SET_STR_VALUE: {
        const lists = readStrings()
        columns.filter((c) => rt(c) === T.SET).forEach((c, i) => (c.setValues = lists[i] ?? []))
        return
      }
      case META.ENUM_STR_VALUE: {
        const lists = readStrings()
        columns.filter((c) => rt(c) === T.ENUM).forEach((c, i) => (c.enumValues = lists[i] ?? []))
        return
      }
      case META.GEOMETRY_TYPE: {
        let q = p
        for (const c of columns) {
          if (c.type !== T.GEOMETRY || q >= end) continue
          let g: number
          ;[g, q] = packedInt(raw, q)
          c.geometryType = g
        }
        return
      }
      case META.SIMPLE_PRIMARY_KEY: {
        let q = p
        while (q < end) {
          let index: number
          ;[index, q] = packedInt(raw, q)
          map.primaryKey.push(index)
        }
        return
      }
      case META.PRIMARY_KEY_WITH_PREFIX: {
        let q = p
        const prefixes: number[] = []
        while (q < end) {
          let index: number
          let prefix: number
          ;[index, q] = packedInt(raw, q)
          ;[prefix, q] = packedInt(raw, q)
          map.primaryKey.push(index)
          prefixes.push(prefix)
        }
        map.primaryKeyPrefixes = prefixes
        return
      }
      case META.COLUMN_VISIBILITY:
        forEachFlagged(
          () => true,
          (c, bit) => (c.visible = bit),
        )
        return
      default:
        // Newer optional metadata (e.g. MySQL 9 vector dimensions) carries nothing the capture needs.
        return
    }
  }

  /**
   * The columns (DEFAULT_)COLUMN_CHARSET covers: CHAR/VARCHAR/TEXT/BLOB, and on MariaDB GEOMETRY too. COLUMN_CHARSET
   * has one entry per such column, which tells which of the two rules the server used.
   */
  #characterColumns(columns: ColumnInfo[], raw: Buffer, p: number, end: number, isDefault: boolean): ColumnInfo[] {
    const plain = columns.filter((c) => isCharacter(realType(c.type, c.meta)))
    const withGeometry = columns.filter((c) => isCharacter(realType(c.type, c.meta)) || c.type === T.GEOMETRY)
    if (plain.length === withGeometry.length) return plain
    if (!isDefault) {
      let q = p
      let n = 0
      while (q < end) {
        q = packedInt(raw, q)[1]
        n++
      }
      return n === withGeometry.length ? withGeometry : plain
    }
    return this.flavor === 'mariadb' ? withGeometry : plain
  }

  #rows(raw: Buffer, type: number, body: number, end: number, timestamp: number, next: BinlogPosition): BinlogEvent {
    const v2 = type >= EVENT_TYPE.WRITE_ROWS_V2
    const idLength = this.#postHeaderLength(type, v2 ? 10 : 8) === 6 ? 4 : 6
    const tableId = raw.readUIntLE(body, idLength)
    let p = body + idLength
    const flags = raw.readUInt16LE(p)
    p += 2
    if (v2) p += raw.readUInt16LE(p) // extra data length includes its own 2 bytes
    const [count, afterCount] = packedInt(raw, p)
    p = afterCount
    const compiled = this.#tables.get(tableId)
    if (!compiled) {
      if (tableId === 0xffffff && flags & STMT_END_F) {
        // A dummy rows event that only ends a statement.
        return { type: 'write-rows', timestamp, next, table: emptyTable, rows: [] }
      }
      throw fault(
        `${eventName(type)} refers to table id ${tableId} without a TABLE_MAP_EVENT before it ` +
          `(the stream started inside a transaction?)`,
      )
    }
    const map = compiled.map
    const where = `\`${map.database}\`.\`${map.table}\``
    if (count !== map.columns.length) {
      throw fault(`${eventName(type)} for ${where} has ${count} columns, its TABLE_MAP_EVENT ${map.columns.length}`)
    }
    const bitmapBytes = (count + 7) >> 3
    const update = type === EVENT_TYPE.UPDATE_ROWS_V1 || type === EVENT_TYPE.UPDATE_ROWS_V2
    for (let image = 0; image < (update ? 2 : 1); image++) {
      for (let i = 0; i < count; i++) {
        if ((raw[p + (i >> 3)]! & (1 << (i & 7))) === 0) {
          throw fault(
            `${eventName(type)} for ${where} has a partial row image (column ${JSON.stringify(map.columns[i]!.name)} ` +
              `is missing): set binlog_row_image=FULL on the server`,
          )
        }
      }
      p += bitmapBytes
    }
    const w = this.#writer
    const decoders = compiled.decoders
    const nullBytes = compiled.nullBytes
    const readRow = (): Buffer => {
      const nullAt = p
      p += nullBytes
      w.reset()
      for (let i = 0; i < count; i++) {
        if ((raw[nullAt + (i >> 3)]! & (1 << (i & 7))) !== 0) w.null()
        else p = decoders[i]!(raw, p, w)
      }
      if (p > end) throw fault(`${eventName(type)} for ${where}: a row runs past the end of the event`)
      return w.finish()
    }
    try {
      if (update) {
        const rows: { before: Buffer; after: Buffer }[] = []
        while (p < end) {
          const before = readRow()
          const after = readRow()
          rows.push({ before, after })
        }
        return { type: 'update-rows', timestamp, next, table: map, rows }
      }
      const rows: Buffer[] = []
      while (p < end) rows.push(readRow())
      return {
        type: type === EVENT_TYPE.DELETE_ROWS_V1 || type === EVENT_TYPE.DELETE_ROWS_V2 ? 'delete-rows' : 'write-rows',
        timestamp,
        next,
        table: map,
        rows,
      }
    } catch (error) {
      if (error instanceof BinlogError) throw error
      throw fault(`${eventName(type)} for ${where} could not be decoded: ${(error as Error).message}`)
    }
  }
}

/** latin1 collation ids: the server's latin1 is Windows-1252. */
const LATIN1_IDS = new Set([5, 8, 15, 31, 47, 48, 49, 94])
const utf8Fatal = new TextDecoder('utf-8', { fatal: true })
// MySQL's latin1 is Windows-1252: 0x80-0x9F are these characters (Node's TextDecoder gives C1 controls instead).
const CP1252_HIGH =
  '\u20ac\u0081\u201a\u0192\u201e\u2026\u2020\u2021\u02c6\u2030\u0160\u2039\u0152\u008d\u017d\u008f' +
  '\u0090\u2018\u2019\u201c\u201d\u2022\u2013\u2014\u02dc\u2122\u0161\u203a\u0153\u009d\u017e\u0178'

function cp1252(bytes: Buffer): string {
  let text = ''
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i]!
    text += b >= 0x80 && b < 0xa0 ? CP1252_HIGH[b - 0x80]! : String.fromCharCode(b)
  }
  return text
}

/**
 * The statement's character_set_client from a QUERY event's status variables (Q_CHARSET_CODE), when it can be
 * reached: the variables are walked in order, and a code this decoder does not know ends the walk.
 */
function clientCharset(raw: Buffer, p: number, end: number): number | undefined {
  while (p < end) {
    const code = raw[p++]!
    switch (code) {
      case 4: // Q_CHARSET_CODE: character_set_client, collation_connection, collation_server
        return raw.readUInt16LE(p)
      case 0: // Q_FLAGS2_CODE
      case 3: // Q_AUTO_INCREMENT
      case 10: // Q_MASTER_DATA_WRITTEN_CODE
        p += 4
        break
      case 1: // Q_SQL_MODE_CODE
      case 9: // Q_TABLE_MAP_FOR_UPDATE_CODE
        p += 8
        break
      case 2: // Q_CATALOG_CODE: length, name, NUL
        p += 1 + raw[p]! + 1
        break
      case 5: // Q_TIME_ZONE_CODE
      case 6: // Q_CATALOG_NZ_CODE
        p += 1 + raw[p]!
        break
      case 7: // Q_LC_TIME_NAMES_CODE
      case 8: // Q_CHARSET_DATABASE_CODE
        p += 2
        break
      case 11: // Q_INVOKER: user, host (each length-prefixed)
        p += 1 + raw[p]!
        p += 1 + raw[p]!
        break
      default:
        return undefined
    }
  }
  return undefined
}

/** SQL text in the client's character set: UTF-8 (checked) or latin1; anything else non-ASCII stops the capture. */
function queryText(bytes: Buffer, charsetId: number | undefined): string {
  if (charsetId !== undefined && LATIN1_IDS.has(charsetId)) return cp1252(bytes)
  try {
    return utf8Fatal.decode(bytes)
  } catch {
    throw fault(
      `QUERY_EVENT text is not valid UTF-8 (character_set_client id ${charsetId ?? 'unknown'}): ` +
        `backtrack reads statements sent in utf8mb4 or latin1; use a utf8mb4 client character set`,
    )
  }
}

const emptyTable: TableMap = { tableId: 0xffffffn, database: '', table: '', columns: [], primaryKey: [] }

/** Metadata bytes per column type in TABLE_MAP (with MariaDB's hires old temporal types having 1). */
function metaSize(type: number, oldTemporalHasMeta: boolean): number {
  switch (type) {
    case T.FLOAT:
    case T.DOUBLE:
    case T.TINY_BLOB:
    case T.MEDIUM_BLOB:
    case T.LONG_BLOB:
    case T.BLOB:
    case T.GEOMETRY:
    case T.JSON:
    case T.TIME2:
    case T.DATETIME2:
    case T.TIMESTAMP2:
    case T.VECTOR:
    case 141:
      return 1
    case T.TIME:
    case T.DATETIME:
    case T.TIMESTAMP:
      return oldTemporalHasMeta ? 1 : 0
    case T.VARCHAR:
    case T.VAR_STRING:
    case T.BIT:
    case T.NEWDECIMAL:
    case T.STRING:
    case T.ENUM:
    case T.SET:
    case 140:
      return 2
    default:
      return 0
  }
}

function unsupported(type: number): BinlogError {
  const name = eventName(type)
  switch (type) {
    case EVENT_TYPE.TRANSACTION_PAYLOAD:
      return fault(
        `${name}: the server compresses transactions in the binlog, which backtrack cannot read: ` +
          `set binlog_transaction_compression=OFF`,
      )
    case EVENT_TYPE.PARTIAL_UPDATE_ROWS:
      return fault(
        `${name}: the server logs partial JSON updates, which have no full after-image: ` +
          `set binlog_row_value_options='' (not PARTIAL_JSON)`,
      )
    case EVENT_TYPE.MARIA_QUERY_COMPRESSED:
    case EVENT_TYPE.MARIA_WRITE_ROWS_COMPRESSED_V1:
    case EVENT_TYPE.MARIA_UPDATE_ROWS_COMPRESSED_V1:
    case EVENT_TYPE.MARIA_DELETE_ROWS_COMPRESSED_V1:
    case EVENT_TYPE.MARIA_WRITE_ROWS_COMPRESSED:
    case EVENT_TYPE.MARIA_UPDATE_ROWS_COMPRESSED:
    case EVENT_TYPE.MARIA_DELETE_ROWS_COMPRESSED:
      return fault(
        `${name}: the server compresses binlog events, which backtrack cannot read: set log_bin_compress=OFF`,
      )
    case EVENT_TYPE.MARIA_START_ENCRYPTION:
      return fault(`${name}: the binlog is encrypted, which backtrack cannot read: set encrypt_binlog=OFF`)
    case EVENT_TYPE.INCIDENT:
      return fault(
        `${name}: the server logged an incident (changes may be missing from the binlog); ` +
          `the capture cannot continue truthfully and must start over from a new base image`,
      )
    case EVENT_TYPE.XA_PREPARE:
      return fault(`${name}: XA transactions are not captured by backtrack; do not use XA on a simulated cluster`)
    case EVENT_TYPE.PRE_GA_WRITE_ROWS:
    case EVENT_TYPE.PRE_GA_UPDATE_ROWS:
    case EVENT_TYPE.PRE_GA_DELETE_ROWS:
      return fault(`${name}: pre-5.1.18 row events are not supported`)
    case EVENT_TYPE.BEGIN_LOAD_QUERY:
    case EVENT_TYPE.EXECUTE_LOAD_QUERY:
    case EVENT_TYPE.APPEND_BLOCK:
    case EVENT_TYPE.DELETE_FILE:
    case EVENT_TYPE.LOAD:
    case EVENT_TYPE.NEW_LOAD:
    case EVENT_TYPE.CREATE_FILE:
    case EVENT_TYPE.EXEC_LOAD:
      return fault(`${name}: a statement-based LOAD DATA was logged; set binlog_format=ROW on the server`)
    default:
      return fault(`${name} is not understood by backtrack's binlog decoder; capture stops rather than skip it`)
  }
}
