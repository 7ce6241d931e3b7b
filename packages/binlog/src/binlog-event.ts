/** A place in the server's binlog: the file and the offset of the next event to read. */
export interface BinlogPosition {
  file: string
  position: number
}

/** Column types as the binlog's TABLE_MAP event names them (MYSQL_TYPE_*). */
export const COLUMN_TYPE = {
  DECIMAL: 0,
  TINY: 1,
  SHORT: 2,
  LONG: 3,
  FLOAT: 4,
  DOUBLE: 5,
  NULL: 6,
  TIMESTAMP: 7,
  LONGLONG: 8,
  INT24: 9,
  DATE: 10,
  TIME: 11,
  DATETIME: 12,
  YEAR: 13,
  NEWDATE: 14,
  VARCHAR: 15,
  BIT: 16,
  TIMESTAMP2: 17,
  DATETIME2: 18,
  TIME2: 19,
  TYPED_ARRAY: 20,
  VECTOR: 242,
  JSON: 245,
  NEWDECIMAL: 246,
  ENUM: 247,
  SET: 248,
  TINY_BLOB: 249,
  MEDIUM_BLOB: 250,
  LONG_BLOB: 251,
  BLOB: 252,
  VAR_STRING: 253,
  STRING: 254,
  GEOMETRY: 255,
} as const

/** How a column's canonical bytes must be turned back into its value when loading (see `Cell`). */
export type ValueKind =
  | 'number' // integers, DECIMAL, FLOAT, DOUBLE, YEAR: decimal text
  | 'temporal' // DATE, TIME, DATETIME, TIMESTAMP (UTC): text
  | 'string' // CHAR/VARCHAR/TEXT/BINARY/VARBINARY/BLOB and MariaDB JSON: raw bytes in the column's charset
  | 'json' // MySQL 8 JSON: JSON text
  | 'bit' // BIT(n): unsigned integer as decimal text
  | 'enum' // ENUM: 1-based index as decimal text (0 = the empty error value)
  | 'set' // SET: bitmask as decimal text
  | 'geometry' // GEOMETRY: the server's internal bytes (4-byte SRID + WKB)

export interface ColumnInfo {
  /** From TABLE_MAP optional metadata (requires binlog_row_metadata=FULL). */
  name: string
  type: number
  /** Type-specific metadata from TABLE_MAP (e.g. precision/scale, length bytes, fsp). */
  meta: number
  nullable: boolean
  unsigned: boolean
  kind: ValueKind
  /** Character set/collation id for string columns, when the server sent it. */
  charsetId?: number
  enumValues?: string[]
  setValues?: string[]
  /** GEOMETRY columns: the geometry type (0 GEOMETRY, 1 POINT, 2 LINESTRING, 3 POLYGON, ...), when sent. */
  geometryType?: number
  /** MySQL 8.0.23+: false for INVISIBLE columns (COLUMN_VISIBILITY metadata), when sent. */
  visible?: boolean
}

/** A TABLE_MAP event: the table a following rows event refers to, with its columns. */
export interface TableMap {
  tableId: bigint
  database: string
  table: string
  columns: ColumnInfo[]
  /** Indexes into `columns` of the primary key, in key order (empty when the table has none). */
  primaryKey: number[]
  /** With PRIMARY_KEY_WITH_PREFIX metadata: the prefix length of each key column (0 = whole column). */
  primaryKeyPrefixes?: number[]
}

interface EventBase {
  /** The event header's timestamp (whole seconds, the server's clock). */
  timestamp: number
  /** Where the event after this one starts. */
  next: BinlogPosition
  /**
   * When the client read the event off the socket (microseconds, the machine's clock), before any queueing: a
   * consumer that stamps commits with it is not thrown off by its own processing delays.
   */
  receivedMicros?: number
}

/** The decoded events the capture consumes. Anything the decoder does not understand throws instead. */
export type BinlogEvent =
  | (EventBase & {
      type: 'gtid'
      /** `domain-server-seq` (MariaDB) or `uuid:n` (MySQL). */
      gtid: string
      /** MariaDB: a DDL or other statement that is its own transaction (no BEGIN/COMMIT follows). */
      standalone: boolean
      /** MySQL 8: the commit time in microseconds since the epoch (immediate_commit_timestamp). */
      commitTimeMicros?: bigint
    })
  | (EventBase & {
      type: 'query'
      schema: string
      sql: string
      /** The statement's character_set_client (collation id), when the status variables carry it. */
      clientCharsetId?: number
    })
  | (EventBase & { type: 'annotate'; sql: string })
  | (EventBase & { type: 'table-map'; table: TableMap })
  | (EventBase & { type: 'write-rows'; table: TableMap; rows: Buffer[] })
  | (EventBase & { type: 'delete-rows'; table: TableMap; rows: Buffer[] })
  | (EventBase & { type: 'update-rows'; table: TableMap; rows: { before: Buffer; after: Buffer }[] })
  | (EventBase & { type: 'xid'; xid: bigint })
  | (EventBase & { type: 'rotate'; file: string; position: number })
  | (EventBase & { type: 'heartbeat' })
