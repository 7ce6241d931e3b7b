export { openBinlogStream, type BinlogStream, type BinlogStreamOptions } from './binlog-client.js'
export { BinlogDecoder, type BinlogDecoderOptions, type DecodedEvent, type ServerFlavor } from './decode-event.js'
export {
  COLUMN_TYPE,
  type BinlogEvent,
  type BinlogPosition,
  type ColumnInfo,
  type TableMap,
  type ValueKind,
} from './binlog-event.js'
export { doubleText, float32Text } from './decode-value.js'
export { CellCursor, encodeCells, readCells, RowWriter, type Cell } from './row-codec.js'
export { BinlogError, type BinlogErrorCode } from './binlog-error.js'
