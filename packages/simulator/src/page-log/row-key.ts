import { CellCursor, readCells, type Cell } from '@backtrack/binlog'
import type { TableSchema } from './page-log.js'

const INTEGER_TYPES = new Set(['tinyint', 'smallint', 'mediumint', 'int', 'integer', 'bigint'])
const OFFSET = 2n ** 63n
/** A key never starts with 0x00 otherwise: that would be a NULL first cell, and key columns are NOT NULL. */
const SORTABLE = 0x00
const PREFIX_LENGTH = 10
const TWO_32 = 2 ** 32
/** Decimal digits that always fit a double exactly (2^53 has 16). */
const SAFE_DIGITS = 15

const cursor = new CellCursor()
/** Per key column: where its cell's encoding (length prefix included) starts and ends in the image. */
let starts = new Int32Array(8)
let ends = new Int32Array(8)

/**
 * The key a row is stored under in the page log: its key columns' cells, or the whole row for a table without a
 * key. A key whose first column is an integer starts with that integer in sortable binary (decimal text sorts
 * "10" before "9"), so the log hands a table's rows back in primary-key order, which is how InnoDB loads fastest.
 *
 * The capture calls this for every row version, so it copies the key cells' encodings straight out of the image
 * (an encoding is self-delimiting, so the key columns' encodings side by side are the key's cells encoded) and
 * reads the integer without a BigInt when it has at most 15 digits: one allocation a key.
 */
export function rowKey(image: Buffer, schema: TableSchema): Buffer {
  const keyColumns = schema.keyColumns
  if (keyColumns.length === 0) return image
  if (starts.length < keyColumns.length) {
    starts = new Int32Array(keyColumns.length * 2)
    ends = new Int32Array(keyColumns.length * 2)
  }
  let last = 0
  for (const index of keyColumns) last = Math.max(last, index)
  cursor.reset(image)
  let column = 0
  let cellStart = 0
  let length = 0
  let firstIsNull = false
  let firstStart = 0
  let firstEnd = 0
  for (; column <= last && cursor.next(); column++) {
    for (let k = 0; k < keyColumns.length; k++) {
      if (keyColumns[k] !== column) continue
      starts[k] = cellStart
      ends[k] = cursor.end
      length += cursor.end - cellStart
      if (k === 0) {
        firstIsNull = cursor.isNull
        firstStart = cursor.start
        firstEnd = cursor.end
      }
    }
    cellStart = cursor.end
  }
  // Key columns past the image's end (a schema with more columns than the image) are NULL cells.
  for (let k = 0; k < keyColumns.length; k++) {
    if (keyColumns[k]! >= column) {
      starts[k] = ends[k] = -1
      length += 1
      if (k === 0) firstIsNull = true
    }
  }
  const sortable = !firstIsNull && INTEGER_TYPES.has(schema.columns[keyColumns[0]!]!.dataType)
  const key = Buffer.allocUnsafe(length + (sortable ? PREFIX_LENGTH : 0))
  let at = 0
  if (sortable) {
    writeSortablePrefix(key, image, firstStart, firstEnd)
    at = PREFIX_LENGTH
  }
  for (let k = 0; k < keyColumns.length; k++) {
    if (starts[k] === -1) key[at++] = 0x00
    else at += image.copy(key, at, starts[k], ends[k])
  }
  return key
}

/** Writes 0x00, then the decimal integer `text[start, end)` plus 2^63 as 72-bit big-endian. */
function writeSortablePrefix(out: Buffer, text: Buffer, start: number, end: number): void {
  out[0] = SORTABLE
  const negative = text[start] === 0x2d
  const digits = end - start - (negative ? 1 : 0)
  if (digits > SAFE_DIGITS || digits < 1) {
    const value = BigInt(text.toString('latin1', start, end)) + OFFSET
    out[1] = Number(value >> 64n)
    out.writeBigUInt64BE(value & 0xffff_ffff_ffff_ffffn, 2)
    return
  }
  let n = 0
  for (let i = negative ? start + 1 : start; i < end; i++) {
    const digit = text[i]! - 0x30
    if (digit < 0 || digit > 9) throw new Error(`rowKey: ${text.toString('latin1', start, end)} is not an integer`)
    n = n * 10 + digit
  }
  if (negative) n = -n
  // |n| < 10^15 < 2^50: n + 2^63 is below 2^64, so the top byte is 0; the high word cannot wrap.
  const high = Math.floor(n / TWO_32)
  out[1] = 0
  out.writeUInt32BE(high + 0x8000_0000, 2)
  out.writeUInt32BE(n - high * TWO_32, 6)
}

/** The key columns' cells of a key made by `rowKey` (for a keyed table). */
export function keyCells(key: Buffer): Cell[] {
  return readCells(key[0] === SORTABLE ? key.subarray(PREFIX_LENGTH) : key)
}
