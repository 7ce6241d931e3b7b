import { BinlogError } from './binlog-error.js'
import type { RowWriter } from './row-codec.js'
import { COLUMN_TYPE as T, type ColumnInfo, type ValueKind } from './binlog-event.js'

/**
 * Decodes one non-NULL cell of a rows event at `pos`, appends its canonical bytes to `w` and returns the position
 * after the cell. One decoder is compiled per column of a TABLE_MAP, so the row loop makes no type dispatch.
 */
export type ColumnDecoder = (buf: Buffer, pos: number, w: RowWriter) => number

function fault(message: string): BinlogError {
  return new BinlogError('CaptureFault', message)
}

/** The type a STRING column really has (ENUM and SET travel as STRING with the real type in the metadata). */
export function realType(type: number, meta: number): number {
  if (type === T.STRING && meta >= 256) {
    const byte0 = meta >> 8
    if ((byte0 & 0x30) !== 0x30) return byte0 | 0x30
    if (byte0 === T.ENUM || byte0 === T.SET) return byte0
    return T.STRING
  }
  return type
}

/** STRING metadata: the real type and the length (max bytes for CHAR, storage bytes for ENUM/SET). */
export function stringMeta(meta: number): { realType: number; length: number } {
  if (meta < 256) return { realType: T.STRING, length: meta }
  let byte0 = meta >> 8
  const byte1 = meta & 0xff
  let length = byte1
  if ((byte0 & 0x30) !== 0x30) {
    length = byte1 | (((byte0 & 0x30) ^ 0x30) << 4)
    byte0 |= 0x30
  }
  return { realType: byte0, length }
}

export function valueKind(type: number, meta: number): ValueKind {
  switch (realType(type, meta)) {
    case T.TINY:
    case T.SHORT:
    case T.INT24:
    case T.LONG:
    case T.LONGLONG:
    case T.FLOAT:
    case T.DOUBLE:
    case T.DECIMAL:
    case T.NEWDECIMAL:
    case T.YEAR:
      return 'number'
    case T.DATE:
    case T.NEWDATE:
    case T.TIME:
    case T.TIME2:
    case T.DATETIME:
    case T.DATETIME2:
    case T.TIMESTAMP:
    case T.TIMESTAMP2:
      return 'temporal'
    case T.JSON:
      return 'json'
    case T.BIT:
      return 'bit'
    case T.ENUM:
      return 'enum'
    case T.SET:
      return 'set'
    case T.GEOMETRY:
      return 'geometry'
    default:
      return 'string'
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Text helpers

const TWO_DIGITS: string[] = Array.from({ length: 100 }, (_, i) => (i < 10 ? '0' : '') + i)

function pad2(n: number): string {
  return n < 100 ? TWO_DIGITS[n]! : String(n)
}

function pad4(n: number): string {
  return n < 10 ? '000' + n : n < 100 ? '00' + n : n < 1000 ? '0' + n : String(n)
}

/** `fsp` fractional digits of a microsecond count, with the dot ('' when fsp is 0). */
function fraction(micros: number, fsp: number): string {
  if (fsp === 0) return ''
  const six = String(micros).padStart(6, '0')
  return '.' + six.slice(0, fsp)
}

/** Shortest decimal text that parses back (via double, as MySQL does) to the same float32. */
export function float32Text(value: number): string {
  if (value === 0) return Object.is(value, -0) ? '-0' : '0'
  if (!Number.isFinite(value)) return String(value)
  for (let p = 1; p <= 9; p++) {
    const text = value.toPrecision(p)
    if (Math.fround(Number(text)) === value) return text
  }
  return String(value)
}

/** Double as text: JS's shortest round-trip form; -0 keeps its sign. */
export function doubleText(value: number): string {
  if (value === 0 && Object.is(value, -0)) return '-0'
  return String(value)
}

// ---------------------------------------------------------------------------------------------------------------
// DECIMAL

const DIG2BYTES = [0, 1, 1, 2, 2, 3, 3, 4, 4, 4]

/** Bytes a DECIMAL(precision, scale) takes in the binlog. */
export function decimalSize(precision: number, scale: number): number {
  const intg = precision - scale
  return Math.floor(intg / 9) * 4 + DIG2BYTES[intg % 9]! + Math.floor(scale / 9) * 4 + DIG2BYTES[scale % 9]!
}

/** The exact decimal text of a binary DECIMAL(precision, scale) at `pos` (MySQL's decimal2bin format). */
export function decimalText(buf: Buffer, pos: number, precision: number, scale: number): string {
  const intg = precision - scale
  const intg0 = Math.floor(intg / 9)
  const intg0x = intg % 9
  const frac0 = Math.floor(scale / 9)
  const frac0x = scale % 9
  const size = decimalSize(precision, scale)
  if (pos + size > buf.length) throw fault('DECIMAL value runs past the end of the rows event')
  const negative = (buf[pos]! & 0x80) === 0
  const mask = negative ? 0xff : 0
  // The sign bit is stored flipped; read the first byte with it restored.
  const first = buf[pos]! ^ 0x80
  let p = pos
  let intText = ''
  const readGroup = (bytes: number, isFirst: boolean): number => {
    let v = 0
    for (let i = 0; i < bytes; i++) {
      const b = isFirst && i === 0 ? first : buf[p + i]!
      v = v * 256 + (b ^ mask)
    }
    p += bytes
    return v
  }
  let isFirst = true
  if (intg0x > 0) {
    const v = readGroup(DIG2BYTES[intg0x]!, isFirst)
    isFirst = false
    if (v !== 0) intText = String(v)
  }
  for (let i = 0; i < intg0; i++) {
    const v = readGroup(4, isFirst)
    isFirst = false
    intText = intText === '' ? (v === 0 ? '' : String(v)) : intText + String(v).padStart(9, '0')
  }
  let fracText = ''
  for (let i = 0; i < frac0; i++) {
    const v = readGroup(4, isFirst)
    isFirst = false
    fracText += String(v).padStart(9, '0')
  }
  if (frac0x > 0) {
    const v = readGroup(DIG2BYTES[frac0x]!, isFirst)
    fracText += String(v).padStart(frac0x, '0')
  }
  if (intText === '') intText = '0'
  const text = scale > 0 ? intText + '.' + fracText : intText
  return negative ? '-' + text : text
}

// ---------------------------------------------------------------------------------------------------------------
// Temporal

/** MySQL 5.6+ TIME(fsp) (TIME2) at `pos`: `[-]HH:MM:SS[.f]` with exactly fsp fractional digits. */
export function time2Text(buf: Buffer, pos: number, fsp: number): string {
  const intpart0 = buf.readUIntBE(pos, 3) - 0x800000
  let packed: number // (intpart << 24) + micros, as in MySQL's my_time_packed_from_binary
  switch (fsp) {
    case 1:
    case 2: {
      let intpart = intpart0
      let frac = buf[pos + 3]!
      if (intpart < 0 && frac !== 0) {
        intpart++
        frac -= 0x100
      }
      packed = intpart * 16777216 + frac * 10000
      break
    }
    case 3:
    case 4: {
      let intpart = intpart0
      let frac = buf.readUInt16BE(pos + 3)
      if (intpart < 0 && frac !== 0) {
        intpart++
        frac -= 0x10000
      }
      packed = intpart * 16777216 + frac * 100
      break
    }
    case 5:
    case 6:
      packed = buf.readUIntBE(pos, 6) - 0x800000000000
      break
    default:
      packed = intpart0 * 16777216
  }
  const negative = packed < 0
  if (negative) packed = -packed
  const hms = Math.floor(packed / 16777216)
  const micros = packed - hms * 16777216
  const hour = (hms >> 12) & 0x3ff
  const minute = (hms >> 6) & 0x3f
  const second = hms & 0x3f
  return (negative ? '-' : '') + pad2(hour) + ':' + pad2(minute) + ':' + pad2(second) + fraction(micros, fsp)
}

function fsp2Micros(buf: Buffer, pos: number, fsp: number): number {
  switch (fsp) {
    case 1:
    case 2:
      return buf[pos]! * 10000
    case 3:
    case 4:
      return buf.readUInt16BE(pos) * 100
    case 5:
    case 6:
      return buf.readUIntBE(pos, 3)
    default:
      return 0
  }
}

function fspBytes(fsp: number): number {
  return (fsp + 1) >> 1
}

/** DATETIME2 at `pos`: `YYYY-MM-DD HH:MM:SS[.f]`. */
export function datetime2Text(buf: Buffer, pos: number, fsp: number): string {
  const intpart = buf[pos]! * 4294967296 + buf.readUInt32BE(pos + 1) - 0x8000000000
  const ymd = Math.floor(intpart / 131072) // >> 17
  const hms = intpart - ymd * 131072
  const ym = ymd >> 5
  const day = ymd & 31
  const year = Math.floor(ym / 13)
  const month = ym % 13
  const hour = hms >> 12
  const minute = (hms >> 6) & 63
  const second = hms & 63
  return (
    pad4(year) +
    '-' +
    pad2(month) +
    '-' +
    pad2(day) +
    ' ' +
    pad2(hour) +
    ':' +
    pad2(minute) +
    ':' +
    pad2(second) +
    fraction(fsp2Micros(buf, pos + 5, fsp), fsp)
  )
}

/** Epoch seconds as a UTC `YYYY-MM-DD HH:MM:SS` (0 is MySQL's zero timestamp). */
export function epochText(seconds: number): string {
  if (seconds === 0) return '0000-00-00 00:00:00'
  const days = Math.floor(seconds / 86400)
  let rem = seconds - days * 86400
  const hour = Math.floor(rem / 3600)
  rem -= hour * 3600
  const minute = Math.floor(rem / 60)
  const second = rem - minute * 60
  // civil_from_days (Howard Hinnant)
  const z = days + 719468
  const era = Math.floor(z / 146097)
  const doe = z - era * 146097
  const yoe = Math.floor((doe - Math.floor(doe / 1460) + Math.floor(doe / 36524) - Math.floor(doe / 146096)) / 365)
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100))
  const mp = Math.floor((5 * doy + 2) / 153)
  const day = doy - Math.floor((153 * mp + 2) / 5) + 1
  const month = mp < 10 ? mp + 3 : mp - 9
  const year = yoe + era * 400 + (month <= 2 ? 1 : 0)
  return pad4(year) + '-' + pad2(month) + '-' + pad2(day) + ' ' + pad2(hour) + ':' + pad2(minute) + ':' + pad2(second)
}

/** TIMESTAMP2 at `pos`: UTC text. */
export function timestamp2Text(buf: Buffer, pos: number, fsp: number): string {
  return epochText(buf.readUInt32BE(pos)) + fraction(fsp2Micros(buf, pos + 4, fsp), fsp)
}

function dateText(v: number): string {
  return pad4(v >> 9) + '-' + pad2((v >> 5) & 15) + '-' + pad2(v & 31)
}

// ---------------------------------------------------------------------------------------------------------------
// Integers

function writeInt64(buf: Buffer, pos: number, unsigned: boolean, w: RowWriter): void {
  const lo = buf.readUInt32LE(pos)
  const hi = unsigned ? buf.readUInt32LE(pos + 4) : buf.readInt32LE(pos + 4)
  if (hi >= -0x200000 && hi < 0x200000) w.int(hi * 4294967296 + lo)
  else w.ascii((unsigned ? buf.readBigUInt64LE(pos) : buf.readBigInt64LE(pos)).toString())
}

/** Big-endian unsigned integer of `size` bytes as decimal text (BIT and SET go up to 64 bits). */
function writeUnsignedBE(buf: Buffer, pos: number, size: number, w: RowWriter): void {
  if (size <= 6) {
    w.int(size === 0 ? 0 : buf.readUIntBE(pos, size))
    return
  }
  let v = 0n
  for (let i = 0; i < size; i++) v = (v << 8n) | BigInt(buf[pos + i]!)
  w.ascii(v.toString())
}

function writeUnsignedLE(buf: Buffer, pos: number, size: number, w: RowWriter): void {
  if (size <= 6) {
    w.int(buf.readUIntLE(pos, size))
    return
  }
  let v = 0n
  for (let i = size - 1; i >= 0; i--) v = (v << 8n) | BigInt(buf[pos + i]!)
  w.ascii(v.toString())
}

function readLength(buf: Buffer, pos: number, bytes: number): number {
  switch (bytes) {
    case 1:
      return buf[pos]!
    case 2:
      return buf.readUInt16LE(pos)
    case 3:
      return buf.readUIntLE(pos, 3)
    case 4:
      return buf.readUInt32LE(pos)
    default:
      throw fault(`unexpected length-prefix size ${bytes} in a rows event`)
  }
}

function lengthPrefixed(bytes: number): ColumnDecoder {
  switch (bytes) {
    case 1:
      return (buf, pos, w) => {
        const end = pos + 1 + buf[pos]!
        w.slice(buf, pos + 1, end)
        return end
      }
    case 2:
      return (buf, pos, w) => {
        const end = pos + 2 + buf.readUInt16LE(pos)
        w.slice(buf, pos + 2, end)
        return end
      }
    default:
      return (buf, pos, w) => {
        const end = pos + bytes + readLength(buf, pos, bytes)
        if (end > buf.length) throw fault('string value runs past the end of the rows event')
        w.slice(buf, pos + bytes, end)
        return end
      }
  }
}

// ---------------------------------------------------------------------------------------------------------------
// The per-column decoder

/** The decoder for one column; throws CaptureFault for types whose values cannot be captured exactly. */
export function columnDecoder(col: ColumnInfo): ColumnDecoder {
  const { type, meta, unsigned } = col
  const where = `column ${JSON.stringify(col.name)}`
  switch (type) {
    case T.TINY:
      return unsigned
        ? (buf, pos, w) => (w.int(buf[pos]!), pos + 1)
        : (buf, pos, w) => (w.int(buf.readInt8(pos)), pos + 1)
    case T.SHORT:
      return unsigned
        ? (buf, pos, w) => (w.int(buf.readUInt16LE(pos)), pos + 2)
        : (buf, pos, w) => (w.int(buf.readInt16LE(pos)), pos + 2)
    case T.INT24:
      return unsigned
        ? (buf, pos, w) => (w.int(buf.readUIntLE(pos, 3)), pos + 3)
        : (buf, pos, w) => (w.int(buf.readIntLE(pos, 3)), pos + 3)
    case T.LONG:
      return unsigned
        ? (buf, pos, w) => (w.int(buf.readUInt32LE(pos)), pos + 4)
        : (buf, pos, w) => (w.int(buf.readInt32LE(pos)), pos + 4)
    case T.LONGLONG:
      return (buf, pos, w) => (writeInt64(buf, pos, unsigned, w), pos + 8)
    case T.FLOAT:
      return (buf, pos, w) => (w.ascii(float32Text(buf.readFloatLE(pos))), pos + 4)
    case T.DOUBLE:
      return (buf, pos, w) => (w.ascii(doubleText(buf.readDoubleLE(pos))), pos + 8)
    case T.NEWDECIMAL: {
      const precision = meta >> 8
      const scale = meta & 0xff
      const size = decimalSize(precision, scale)
      return (buf, pos, w) => (w.ascii(decimalText(buf, pos, precision, scale)), pos + size)
    }
    case T.YEAR:
      return (buf, pos, w) => {
        const v = buf[pos]!
        w.ascii(v === 0 ? '0000' : String(1900 + v))
        return pos + 1
      }
    case T.DATE:
    case T.NEWDATE:
      return (buf, pos, w) => (w.ascii(dateText(buf.readUIntLE(pos, 3))), pos + 3)
    case T.TIME2: {
      const size = 3 + fspBytes(meta)
      return (buf, pos, w) => (w.ascii(time2Text(buf, pos, meta)), pos + size)
    }
    case T.DATETIME2: {
      const size = 5 + fspBytes(meta)
      return (buf, pos, w) => (w.ascii(datetime2Text(buf, pos, meta)), pos + size)
    }
    case T.TIMESTAMP2: {
      const size = 4 + fspBytes(meta)
      return (buf, pos, w) => (w.ascii(timestamp2Text(buf, pos, meta)), pos + size)
    }
    case T.TIME:
      if (meta !== 0) throw oldHires(where, 'TIME')
      return (buf, pos, w) => {
        const v = buf.readIntLE(pos, 3)
        const a = Math.abs(v)
        const h = Math.floor(a / 10000)
        const m = Math.floor(a / 100) % 100
        w.ascii((v < 0 ? '-' : '') + pad2(h) + ':' + pad2(m) + ':' + pad2(a % 100))
        return pos + 3
      }
    case T.DATETIME:
      if (meta !== 0) throw oldHires(where, 'DATETIME')
      return (buf, pos, w) => {
        const v = buf.readUInt32LE(pos) + buf.readUInt32LE(pos + 4) * 4294967296
        const date = Math.floor(v / 1000000)
        const time = v - date * 1000000
        const text =
          pad4(Math.floor(date / 10000)) +
          '-' +
          pad2(Math.floor(date / 100) % 100) +
          '-' +
          pad2(date % 100) +
          ' ' +
          pad2(Math.floor(time / 10000)) +
          ':' +
          pad2(Math.floor(time / 100) % 100) +
          ':' +
          pad2(time % 100)
        w.ascii(text)
        return pos + 8
      }
    case T.TIMESTAMP:
      if (meta !== 0) throw oldHires(where, 'TIMESTAMP')
      return (buf, pos, w) => (w.ascii(epochText(buf.readUInt32LE(pos))), pos + 4)
    case T.BIT: {
      const bits = (meta >> 8) * 8 + (meta & 0xff)
      const size = (bits + 7) >> 3
      return (buf, pos, w) => (writeUnsignedBE(buf, pos, size, w), pos + size)
    }
    case T.VARCHAR:
    case T.VAR_STRING:
      return lengthPrefixed(meta < 256 ? 1 : 2)
    case T.STRING: {
      const { realType: rt, length } = stringMeta(meta)
      if (rt === T.ENUM || rt === T.SET) return enumOrSet(rt, length)
      // BINARY(n) (and MariaDB's INET4/INET6/UUID, which travel as BINARY): the binlog strips the trailing 0x00
      // padding; put it back so the image is the stored value (a UUID/INET4 does not load from the short form).
      if (col.charsetId === BINARY_CHARSET) return paddedBinary(length < 256 ? 1 : 2, length)
      return lengthPrefixed(length < 256 ? 1 : 2)
    }
    case T.ENUM:
    case T.SET:
      return enumOrSet(type, meta & 0xff)
    case T.TINY_BLOB:
    case T.MEDIUM_BLOB:
    case T.LONG_BLOB:
    case T.BLOB:
    case T.GEOMETRY:
      return lengthPrefixed(meta)
    case T.JSON: {
      const bytes = meta
      return (buf, pos, w) => {
        const length = readLength(buf, pos, bytes)
        const start = pos + bytes
        if (start + length > buf.length) throw fault('JSON value runs past the end of the rows event')
        w.text(jsonBinaryText(buf.subarray(start, start + length)))
        return start + length
      }
    }
    case 140: // MariaDB MYSQL_TYPE_VARCHAR_COMPRESSED
    case 141: // MariaDB MYSQL_TYPE_BLOB_COMPRESSED
      throw fault(
        `${where} is a MariaDB compressed column (COMPRESSED attribute), whose binlog values backtrack cannot ` +
          `decode: remove the COMPRESSED attribute (ALTER TABLE ... MODIFY the column without COMPRESSED)`,
      )
    default:
      throw fault(`${where} has binlog column type ${type} (meta ${meta}), which backtrack cannot decode`)
  }
}

const BINARY_CHARSET = 63

function paddedBinary(prefix: number, length: number): ColumnDecoder {
  return (buf, pos, w) => {
    const size = prefix === 1 ? buf[pos]! : buf.readUInt16LE(pos)
    const start = pos + prefix
    const end = start + size
    if (end > buf.length) throw fault('BINARY value runs past the end of the rows event')
    if (size >= length) w.slice(buf, start, end)
    else w.bytes(Buffer.concat([buf.subarray(start, end), Buffer.alloc(length - size)]))
    return end
  }
}

function oldHires(where: string, name: string): BinlogError {
  return fault(
    `${where} is a ${name} with fractional seconds in the pre-MySQL-5.6 format, which backtrack cannot decode: ` +
      `set mysql56_temporal_format=ON and rebuild the table (ALTER TABLE ... FORCE)`,
  )
}

function enumOrSet(rt: number, size: number): ColumnDecoder {
  if (rt === T.ENUM) {
    return size === 1
      ? (buf, pos, w) => (w.int(buf[pos]!), pos + 1)
      : (buf, pos, w) => (w.int(buf.readUInt16LE(pos)), pos + 2)
  }
  return (buf, pos, w) => (writeUnsignedLE(buf, pos, size, w), pos + size)
}

// ---------------------------------------------------------------------------------------------------------------
// MySQL binary JSON (sql/json_binary.h)

const JSONB_SMALL_OBJECT = 0x00
const JSONB_LARGE_OBJECT = 0x01
const JSONB_SMALL_ARRAY = 0x02
const JSONB_LARGE_ARRAY = 0x03
const JSONB_LITERAL = 0x04
const JSONB_INT16 = 0x05
const JSONB_UINT16 = 0x06
const JSONB_INT32 = 0x07
const JSONB_UINT32 = 0x08
const JSONB_INT64 = 0x09
const JSONB_UINT64 = 0x0a
const JSONB_DOUBLE = 0x0b
const JSONB_STRING = 0x0c
const JSONB_OPAQUE = 0x0f

/** MySQL's binary JSON document as JSON text (MySQL's own output style: `", "` and `": "` separators). */
export function jsonBinaryText(doc: Buffer): string {
  if (doc.length === 0) return 'null'
  return jsonValue(doc, doc[0]!, 1, doc.length - 1)
}

function jsonVarLength(doc: Buffer, pos: number): [length: number, next: number] {
  let length = 0
  for (let i = 0; i < 5; i++) {
    const b = doc[pos + i]
    if (b === undefined) throw fault('binary JSON: truncated variable-length integer')
    length += (b & 0x7f) * 2 ** (7 * i)
    if ((b & 0x80) === 0) return [length, pos + i + 1]
  }
  throw fault('binary JSON: variable-length integer longer than 5 bytes')
}

function jsonValue(doc: Buffer, type: number, pos: number, size: number): string {
  switch (type) {
    case JSONB_SMALL_OBJECT:
      return jsonContainer(doc, pos, size, false, true)
    case JSONB_LARGE_OBJECT:
      return jsonContainer(doc, pos, size, true, true)
    case JSONB_SMALL_ARRAY:
      return jsonContainer(doc, pos, size, false, false)
    case JSONB_LARGE_ARRAY:
      return jsonContainer(doc, pos, size, true, false)
    default:
      return jsonScalar(doc, type, pos)
  }
}

function jsonScalar(doc: Buffer, type: number, pos: number): string {
  switch (type) {
    case JSONB_LITERAL:
      switch (doc[pos]) {
        case 0:
          return 'null'
        case 1:
          return 'true'
        case 2:
          return 'false'
        default:
          throw fault(`binary JSON: unknown literal ${doc[pos]}`)
      }
    case JSONB_INT16:
      return String(doc.readInt16LE(pos))
    case JSONB_UINT16:
      return String(doc.readUInt16LE(pos))
    case JSONB_INT32:
      return String(doc.readInt32LE(pos))
    case JSONB_UINT32:
      return String(doc.readUInt32LE(pos))
    case JSONB_INT64:
      return doc.readBigInt64LE(pos).toString()
    case JSONB_UINT64:
      return doc.readBigUInt64LE(pos).toString()
    case JSONB_DOUBLE: {
      const v = doc.readDoubleLE(pos)
      const text = doubleText(v)
      // Keep it a double when read back: MySQL parses "1" as an integer, "1.0" as a double.
      return /[.eEn]/.test(text) ? text : text + '.0'
    }
    case JSONB_STRING: {
      const [length, start] = jsonVarLength(doc, pos)
      return JSON.stringify(doc.toString('utf8', start, start + length))
    }
    case JSONB_OPAQUE: {
      const fieldType = doc[pos]!
      const [length, start] = jsonVarLength(doc, pos + 1)
      return jsonOpaque(fieldType, doc.subarray(start, start + length))
    }
    default:
      throw fault(`binary JSON: unknown value type 0x${type.toString(16)}`)
  }
}

function jsonContainer(doc: Buffer, base: number, size: number, large: boolean, isObject: boolean): string {
  const offsetSize = large ? 4 : 2
  const read = large ? (p: number) => doc.readUInt32LE(p) : (p: number) => doc.readUInt16LE(p)
  const count = read(base)
  const bytes = read(base + offsetSize)
  if (bytes > size) throw fault('binary JSON: container larger than its document')
  const keyEntrySize = offsetSize + 2
  const valueEntrySize = 1 + offsetSize
  const headerSize = 2 * offsetSize
  const valuesStart = base + headerSize + (isObject ? count * keyEntrySize : 0)
  const parts: string[] = []
  for (let i = 0; i < count; i++) {
    let key = ''
    if (isObject) {
      const entry = base + headerSize + i * keyEntrySize
      const keyOffset = read(entry)
      const keyLength = doc.readUInt16LE(entry + offsetSize)
      key = JSON.stringify(doc.toString('utf8', base + keyOffset, base + keyOffset + keyLength)) + ': '
    }
    const entry = valuesStart + i * valueEntrySize
    const type = doc[entry]!
    let text: string
    if (isInlined(type, large)) {
      text = jsonScalar(doc, type, entry + 1)
    } else {
      const offset = read(entry + 1)
      text = jsonValue(doc, type, base + offset, bytes - offset)
    }
    parts.push(key + text)
  }
  return isObject ? '{' + parts.join(', ') + '}' : '[' + parts.join(', ') + ']'
}

function isInlined(type: number, large: boolean): boolean {
  switch (type) {
    case JSONB_LITERAL:
    case JSONB_INT16:
    case JSONB_UINT16:
      return true
    case JSONB_INT32:
    case JSONB_UINT32:
      return large
    default:
      return false
  }
}

/**
 * Opaque JSON scalars (values MySQL put into JSON from typed columns). DECIMAL comes out as a JSON number (MySQL
 * reads it back as a DOUBLE, so a DECIMAL inside JSON is not kept as DECIMAL); DATE/TIME/DATETIME/TIMESTAMP as the
 * quoted text MySQL prints (read back as strings); anything else in MySQL's `"base64:typeN:..."` form.
 */
function jsonOpaque(fieldType: number, data: Buffer): string {
  switch (fieldType) {
    case T.NEWDECIMAL: {
      const precision = data[0]!
      const scale = data[1]!
      return decimalText(data, 2, precision, scale)
    }
    case T.DATE:
    case T.DATETIME:
    case T.TIMESTAMP:
    case T.TIME: {
      if (data.length < 8) throw fault('binary JSON: short temporal opaque value')
      return '"' + packedTemporalText(fieldType, data.readBigInt64LE(0)) + '"'
    }
    default:
      return `"base64:type${fieldType}:${data.toString('base64')}"`
  }
}

/** MySQL's longlong packed temporal (TIME_from_longlong_*_packed) as text. */
export function packedTemporalText(fieldType: number, packed: bigint): string {
  const negative = packed < 0n
  const tmp = negative ? -packed : packed
  const micros = Number(tmp % 16777216n)
  const intPart = Number(tmp >> 24n)
  if (fieldType === T.TIME) {
    const hour = Math.floor(intPart / 4096) % 1024
    const minute = Math.floor(intPart / 64) % 64
    const second = intPart % 64
    return (negative ? '-' : '') + pad2(hour) + ':' + pad2(minute) + ':' + pad2(second) + fraction(micros, 6)
  }
  const ymd = Math.floor(intPart / 131072)
  const hms = intPart % 131072
  const ym = Math.floor(ymd / 32)
  const day = ymd % 32
  const month = ym % 13
  const year = Math.floor(ym / 13)
  const date = pad4(year) + '-' + pad2(month) + '-' + pad2(day)
  if (fieldType === T.DATE) return date
  const hour = Math.floor(hms / 4096)
  const minute = Math.floor(hms / 64) % 64
  const second = hms % 64
  return date + ' ' + pad2(hour) + ':' + pad2(minute) + ':' + pad2(second) + fraction(micros, 6)
}
