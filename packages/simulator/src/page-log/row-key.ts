import { encodeCells, readCells, type Cell } from '@backtrack/binlog'
import type { TableSchema } from './page-log.js'

const INTEGER_TYPES = new Set(['tinyint', 'smallint', 'mediumint', 'int', 'integer', 'bigint'])
const OFFSET = 2n ** 63n
/** A key never starts with 0x00 otherwise: that would be a NULL first cell, and key columns are NOT NULL. */
const SORTABLE = 0x00
const PREFIX_LENGTH = 10

/**
 * The key a row is stored under in the page log: its key columns' cells, or the whole row for a table without a
 * key. A key whose first column is an integer starts with that integer in sortable binary (decimal text sorts
 * "10" before "9"), so the log hands a table's rows back in primary-key order, which is how InnoDB loads fastest.
 */
export function rowKey(image: Buffer, schema: TableSchema): Buffer {
  if (schema.keyColumns.length === 0) return image
  const cells = readCells(image)
  const keyCells = schema.keyColumns.map((index) => cells[index] ?? null)
  const encoded = encodeCells(keyCells)
  const first = keyCells[0]
  if (first === null || first === undefined || !INTEGER_TYPES.has(schema.columns[schema.keyColumns[0]!]!.dataType)) {
    return encoded
  }
  const prefix = Buffer.alloc(PREFIX_LENGTH)
  prefix[0] = SORTABLE
  const value = BigInt(first.toString('latin1')) + OFFSET
  prefix.writeUInt8(Number(value >> 64n), 1)
  prefix.writeBigUInt64BE(value & 0xffff_ffff_ffff_ffffn, 2)
  return Buffer.concat([prefix, encoded])
}

/** The key columns' cells of a key made by `rowKey` (for a keyed table). */
export function keyCells(key: Buffer): Cell[] {
  return readCells(key[0] === SORTABLE ? key.subarray(PREFIX_LENGTH) : key)
}
