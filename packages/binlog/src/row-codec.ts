/**
 * Row images in the page log are one Buffer per row: for each column either the byte 0x00 (NULL) or a
 * varint of (length + 1), never starting with 0x00, followed by the value's canonical bytes (the text MySQL parses back to the exact same value,
 * or the raw bytes for strings, blobs and geometry). A primary key is encoded the same way over its columns.
 */
export type Cell = Buffer | null

const NULL_MARK = 0x00
const EMPTY = new Uint8Array(0)

/** Appends cells into one growing buffer; `finish()` returns the encoded row. */
export class RowWriter {
  #buf: Buffer
  #len = 0

  constructor(initialSize = 256) {
    this.#buf = Buffer.allocUnsafe(initialSize)
  }

  #ensure(extra: number): void {
    if (this.#len + extra <= this.#buf.length) return
    const next = Buffer.allocUnsafe(Math.max(this.#buf.length * 2, this.#len + extra))
    this.#buf.copy(next, 0, 0, this.#len)
    this.#buf = next
  }

  #varint(n: number): void {
    this.#ensure(5)
    while (n >= 0x80) {
      this.#buf[this.#len++] = (n & 0x7f) | 0x80
      n >>>= 7
    }
    this.#buf[this.#len++] = n
  }

  null(): this {
    this.#ensure(1)
    this.#buf[this.#len++] = NULL_MARK
    return this
  }

  /** Appends a value given as bytes (copied). */
  bytes(value: Uint8Array): this {
    this.#lengthPrefix(value.length)
    this.#ensure(value.length)
    this.#buf.set(value, this.#len)
    this.#len += value.length
    return this
  }

  /** Appends a value given as ASCII/UTF-8 text. */
  text(value: string): this {
    const max = Buffer.byteLength(value)
    this.#lengthPrefix(max)
    this.#ensure(max)
    this.#len += this.#buf.write(value, this.#len)
    return this
  }

  /** Appends `src[start, end)` as a value (copied, no intermediate Buffer). */
  slice(src: Uint8Array, start: number, end: number): this {
    const length = end - start
    this.#lengthPrefix(length)
    this.#ensure(length)
    this.#buf.set(src.subarray(start, end), this.#len)
    this.#len += length
    return this
  }

  /** Appends a value given as a short ASCII-only string (digits, dates): no UTF-8 encoder call. */
  ascii(value: string): this {
    const length = value.length
    this.#lengthPrefix(length)
    this.#ensure(length)
    const buf = this.#buf
    let len = this.#len
    for (let i = 0; i < length; i++) buf[len++] = value.charCodeAt(i)
    this.#len = len
    return this
  }

  /** Appends a safe integer as decimal text, written digit by digit (no string allocation). */
  int(value: number): this {
    if (!Number.isSafeInteger(value)) return this.ascii(String(value))
    const negative = value < 0
    let n = negative ? -value : value
    let digits = 1
    for (let t = n; t >= 10; t = Math.floor(t / 10)) digits++
    const length = digits + (negative ? 1 : 0)
    this.#lengthPrefix(length)
    this.#ensure(length)
    const buf = this.#buf
    if (negative) buf[this.#len] = 0x2d
    let at = this.#len + length - 1
    do {
      const q = Math.floor(n / 10)
      buf[at--] = 0x30 + (n - q * 10)
      n = q
    } while (n > 0)
    this.#len += length
    return this
  }

  /** Starts a new row, keeping the allocated buffer (for writers reused across rows). */
  reset(): this {
    this.#len = 0
    return this
  }

  cell(value: Cell): this {
    return value === null ? this.null() : this.bytes(value)
  }

  // length + 1 >= 1, so its varint's first byte is never 0x00 (the NULL mark).
  #lengthPrefix(length: number): void {
    this.#varint(length + 1)
  }

  finish(): Buffer {
    return Buffer.from(this.#buf.subarray(0, this.#len))
  }
}

/**
 * Walks an encoded row cell by cell without allocating: after `next()` returns true, the cell is NULL
 * (`isNull`) or the bytes `row[start, end)`. The one parser of the format; `readCells` and the LOAD DATA
 * encoder read through it. Throws when a cell runs past the end of the row.
 */
export class CellCursor {
  #row: Uint8Array = EMPTY
  #offset = 0
  #end = 0
  isNull = false
  start = 0
  end = 0

  /** Starts over on `row`, or on the image at `row[start, end)` (one of several laid end to end). */
  reset(row: Uint8Array, start = 0, end = row.length): this {
    this.#row = row
    this.#offset = start
    this.#end = end
    return this
  }

  /** Moves to the next cell; false at the end of the row. */
  next(): boolean {
    const row = this.#row
    let offset = this.#offset
    if (offset >= this.#end) return false
    if (row[offset] === NULL_MARK) {
      this.isNull = true
      this.start = this.end = ++this.#offset
      return true
    }
    // Multiplication rather than shifts: a cell may be longer than 2^31 - 1 bytes' worth of varint.
    let value = 0
    let scale = 1
    let byte: number
    do {
      byte = row[offset++]!
      value += (byte & 0x7f) * scale
      scale *= 128
    } while (byte & 0x80)
    const end = offset + value - 1
    if (end > this.#end) throw new RangeError('corrupt row image: a cell runs past the end of the row')
    this.isNull = false
    this.start = offset
    this.end = this.#offset = end
    return true
  }
}

/** Decodes an encoded row into its cells (the buffers are views into `row`). */
export function readCells(row: Buffer): Cell[] {
  const cells: Cell[] = []
  const cursor = new CellCursor().reset(row)
  while (cursor.next()) cells.push(cursor.isNull ? null : row.subarray(cursor.start, cursor.end))
  return cells
}

/** Encodes cells into a row buffer. */
export function encodeCells(cells: readonly Cell[]): Buffer {
  const writer = new RowWriter()
  for (const cell of cells) writer.cell(cell)
  return writer.finish()
}
