import { describe, expect, it } from 'vitest'
import { BinlogError } from './binlog-error.js'
import { RowWriter, readCells } from './row-codec.js'
import { COLUMN_TYPE as T, type ColumnInfo } from './binlog-event.js'
import { crc32, crc32Js } from './crc32.js'
import {
  columnDecoder,
  datetime2Text,
  decimalSize,
  decimalText,
  epochText,
  float32Text,
  jsonBinaryText,
  packedTemporalText,
  stringMeta,
  time2Text,
  timestamp2Text,
  valueKind,
} from './decode-value.js'

// ---------------------------------------------------------------------------------------------------------------
// Test-side encoders, written from MySQL's decimal2bin / my_time_packed_to_binary / json_binary::serialize.

const DIG2BYTES = [0, 1, 1, 2, 2, 3, 3, 4, 4, 4]

function encodeDecimal(text: string, precision: number, scale: number): Buffer {
  const negative = text.startsWith('-')
  const [ip = '', fp = ''] = text.replace('-', '').split('.')
  const intg = precision - scale
  const intDigits = ip.padStart(intg, '0')
  const fracDigits = fp.padEnd(scale, '0')
  const bytes: number[] = []
  const push = (digits: string, size: number) => {
    let v = Number(digits || '0')
    const out: number[] = []
    for (let i = 0; i < size; i++) {
      out.unshift(v % 256)
      v = Math.floor(v / 256)
    }
    bytes.push(...out)
  }
  const intg0x = intg % 9
  push(intDigits.slice(0, intg0x), DIG2BYTES[intg0x]!)
  for (let i = intg0x; i < intg; i += 9) push(intDigits.slice(i, i + 9), 4)
  const frac0 = Math.floor(scale / 9)
  for (let i = 0; i < frac0; i++) push(fracDigits.slice(i * 9, i * 9 + 9), 4)
  const frac0x = scale % 9
  push(fracDigits.slice(frac0 * 9), DIG2BYTES[frac0x]!)
  const buf = Buffer.from(bytes)
  if (negative) for (let i = 0; i < buf.length; i++) buf[i] = buf[i]! ^ 0xff
  buf[0] = buf[0]! ^ 0x80
  return buf
}

/** TIME(fsp) '[-]h:m:s.micros' -> MySQL's TIME2 bytes. */
function encodeTime2(negative: boolean, h: number, m: number, s: number, micros: number, fsp: number): Buffer {
  const hms = (h << 12) | (m << 6) | s
  let packed = BigInt(hms) * 16777216n + BigInt(micros)
  if (negative) packed = -packed
  const intPart = packed >> 24n // arithmetic shift (floor)
  const fracPart = packed % 16777216n // C remainder (sign of dividend)
  const buf = Buffer.alloc(3 + ((fsp + 1) >> 1))
  switch (fsp) {
    case 0:
      buf.writeUIntBE(Number(intPart + 0x800000n), 0, 3)
      break
    case 1:
    case 2:
      buf.writeUIntBE(Number(intPart + 0x800000n), 0, 3)
      buf[3] = Number(fracPart / 10000n) & 0xff
      break
    case 3:
    case 4:
      buf.writeUIntBE(Number(intPart + 0x800000n), 0, 3)
      buf.writeUInt16BE(Number(fracPart / 100n) & 0xffff, 3)
      break
    default:
      buf.writeUIntBE(Number(packed + 0x800000000000n), 0, 6)
  }
  return buf
}

type Json = null | boolean | number | string | bigint | Json[] | { [key: string]: Json }

function varLength(n: number): number[] {
  const out: number[] = []
  do {
    let b = n & 0x7f
    n = Math.floor(n / 128)
    if (n > 0) b |= 0x80
    out.push(b)
  } while (n > 0)
  return out
}

/** A binary JSON value: [type, bytes] (bytes without the type). */
function encodeJson(value: Json, large = false): [number, Buffer] {
  if (value === null) return [0x04, Buffer.from([0])]
  if (value === true) return [0x04, Buffer.from([1])]
  if (value === false) return [0x04, Buffer.from([2])]
  if (typeof value === 'bigint') {
    const b = Buffer.alloc(8)
    if (value < 0n) {
      b.writeBigInt64LE(value)
      return [0x09, b]
    }
    b.writeBigUInt64LE(value)
    return [0x0a, b]
  }
  if (typeof value === 'number') {
    if (Number.isInteger(value) && value >= -32768 && value <= 32767) {
      const b = Buffer.alloc(2)
      b.writeInt16LE(value)
      return [0x05, b]
    }
    if (Number.isInteger(value) && value >= -(2 ** 31) && value < 2 ** 31) {
      const b = Buffer.alloc(4)
      b.writeInt32LE(value)
      return [0x07, b]
    }
    const b = Buffer.alloc(8)
    b.writeDoubleLE(value)
    return [0x0b, b]
  }
  if (typeof value === 'string') {
    const s = Buffer.from(value, 'utf8')
    return [0x0c, Buffer.concat([Buffer.from(varLength(s.length)), s])]
  }
  const isObject = !Array.isArray(value)
  const entries: [string, Json][] = isObject ? Object.entries(value) : value.map((v) => ['', v])
  const o = large ? 4 : 2
  const writeOffset = (b: Buffer, at: number, v: number) => (large ? b.writeUInt32LE(v, at) : b.writeUInt16LE(v, at))
  const headerSize = 2 * o + (isObject ? entries.length * (o + 2) : 0) + entries.length * (1 + o)
  const keys = entries.map(([k]) => Buffer.from(k, 'utf8'))
  const keyBytes = isObject ? keys.reduce((n, k) => n + k.length, 0) : 0
  const values = entries.map(([, v]) => encodeJson(v, large))
  const inlined = (type: number) =>
    type === 0x04 || type === 0x05 || type === 0x06 || (large && (type === 0x07 || type === 0x08))
  let dataSize = headerSize + keyBytes
  const valueOffsets = values.map(([type, bytes]) => {
    if (inlined(type)) return -1
    const at = dataSize
    dataSize += bytes.length
    return at
  })
  const out = Buffer.alloc(dataSize)
  writeOffset(out, 0, entries.length)
  writeOffset(out, o, dataSize)
  let keyAt = headerSize
  entries.forEach((_, i) => {
    if (isObject) {
      const entry = 2 * o + i * (o + 2)
      writeOffset(out, entry, keyAt)
      out.writeUInt16LE(keys[i]!.length, entry + o)
      keys[i]!.copy(out, keyAt)
      keyAt += keys[i]!.length
    }
    const [type, bytes] = values[i]!
    const entry = 2 * o + (isObject ? entries.length * (o + 2) : 0) + i * (1 + o)
    out[entry] = type
    if (valueOffsets[i] === -1) bytes.copy(out, entry + 1)
    else {
      writeOffset(out, entry + 1, valueOffsets[i]!)
      bytes.copy(out, valueOffsets[i])
    }
  })
  const type = (isObject ? 0x00 : 0x02) + (large ? 1 : 0)
  return [type, out]
}

function jsonDoc(value: Json, large = false): Buffer {
  const [type, bytes] = encodeJson(value, large)
  return Buffer.concat([Buffer.from([type]), bytes])
}

function column(type: number, meta: number, extra: Partial<ColumnInfo> = {}): ColumnInfo {
  return { name: 'c', type, meta, nullable: true, unsigned: false, kind: valueKind(type, meta), ...extra }
}

function decodeCell(col: ColumnInfo, bytes: Buffer): { text: string; used: number } {
  const w = new RowWriter(8)
  const used = columnDecoder(col)(bytes, 0, w)
  return { text: readCells(w.finish())[0]!.toString('utf8'), used }
}

// ---------------------------------------------------------------------------------------------------------------

describe('DECIMAL', () => {
  it('decodes the MySQL documentation example and its negative', () => {
    const buf = Buffer.from([0x81, 0x0d, 0xfb, 0x38, 0xd2, 0x04, 0xd2])
    expect(decimalText(buf, 0, 14, 4)).toBe('1234567890.1234')
    const neg = Buffer.from(buf.map((b) => b ^ 0xff))
    expect(decimalText(neg, 0, 14, 4)).toBe('-1234567890.1234')
    expect(encodeDecimal('1234567890.1234', 14, 4)).toEqual(buf)
  })

  it.each([
    ['99999999999999999999999999999999999.999999999999999999999999999999', 65, 30],
    ['-99999999999999999999999999999999999.999999999999999999999999999999', 65, 30],
    ['0.000000000000000000000000000001', 65, 30],
    ['-0.000000000000000000000000000001', 65, 30],
    ['12345678901234567890123456789012345.123456789012345678901234567890', 65, 30],
    ['0.00000', 5, 5],
    ['-0.00001', 5, 5],
    ['0.99999', 5, 5],
    ['99999999999999999999999999999999999999999999999999999999999999999', 65, 0],
    ['-1', 1, 0],
    ['0', 10, 0],
    ['-1000000000.5', 11, 1],
    ['123456789.123456789', 18, 9],
    ['-7.1', 2, 1],
  ])('round-trips %s as DECIMAL(%i,%i)', (text, precision, scale) => {
    const buf = encodeDecimal(text, precision, scale)
    expect(buf.length).toBe(decimalSize(precision, scale))
    expect(decimalText(buf, 0, precision, scale)).toBe(text)
    expect(decodeCell(column(T.NEWDECIMAL, (precision << 8) | scale), buf)).toEqual({ text, used: buf.length })
  })

  it('round-trips random values of random precision and scale', () => {
    let seed = 12345
    const rand = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31
      return seed % n
    }
    for (let k = 0; k < 2000; k++) {
      const precision = 1 + rand(65)
      const scale = rand(Math.min(precision, 30) + 1)
      const intg = precision - scale
      let ip = ''
      const intLen = rand(intg + 1)
      for (let i = 0; i < intLen; i++) ip += String(i === 0 ? 1 + rand(9) : rand(10))
      let fp = ''
      for (let i = 0; i < scale; i++) fp += String(rand(10))
      const body = (ip || '0') + (scale > 0 ? '.' + fp : '')
      const negative = rand(2) === 1 && /[1-9]/.test(body)
      const text = (negative ? '-' : '') + body
      expect(decimalText(encodeDecimal(text, precision, scale), 0, precision, scale)).toBe(text)
    }
  })
})

describe('TIME2', () => {
  it.each([
    [false, 0, 0, 0, 0, 0, '00:00:00'],
    [true, 838, 59, 59, 0, 0, '-838:59:59'],
    [true, 0, 0, 1, 500000, 1, '-00:00:01.5'],
    [true, 0, 0, 1, 500000, 2, '-00:00:01.50'],
    [true, 0, 0, 1, 500000, 3, '-00:00:01.500'],
    [true, 0, 0, 0, 1000, 3, '-00:00:00.001'],
    [true, 0, 0, 0, 100, 4, '-00:00:00.0001'],
    [true, 0, 0, 1, 500000, 6, '-00:00:01.500000'],
    [true, 0, 0, 0, 1, 6, '-00:00:00.000001'],
    [true, 838, 59, 58, 999999, 6, '-838:59:58.999999'],
    [false, 838, 59, 59, 0, 6, '838:59:59.000000'],
    [false, 12, 34, 56, 789000, 3, '12:34:56.789'],
    [false, 12, 34, 56, 789012, 5, '12:34:56.78901'],
    [true, 1, 2, 3, 990000, 2, '-01:02:03.99'],
    [true, 1, 2, 3, 10000, 2, '-01:02:03.01'],
  ])('neg=%s %i:%i:%i µs=%i fsp=%i -> %s', (neg, h, m, s, micros, fsp, text) => {
    const buf = encodeTime2(neg, h, m, s, micros, fsp)
    expect(time2Text(buf, 0, fsp)).toBe(text)
    expect(decodeCell(column(T.TIME2, fsp), buf)).toEqual({ text, used: buf.length })
  })

  it('decodes hand-written bytes of -00:00:01.5 in TIME(1)', () => {
    // int part OFS-2 = 0x7FFFFE, fraction byte (char)(-50) = 0xCE
    expect(time2Text(Buffer.from([0x7f, 0xff, 0xfe, 0xce]), 0, 1)).toBe('-00:00:01.5')
  })
})

describe('DATETIME2 / TIMESTAMP2 / old formats', () => {
  const datetime2 = (y: number, mo: number, d: number, h: number, mi: number, s: number, frac: Buffer) => {
    const ymd = ((y * 13 + mo) << 5) | d
    const hms = (h << 12) | (mi << 6) | s
    const intpart = ymd * 2 ** 17 + hms + 0x8000000000
    const b = Buffer.alloc(5)
    b.writeUIntBE(intpart, 0, 5)
    return Buffer.concat([b, frac])
  }
  it('decodes DATETIME2 with each fsp', () => {
    expect(datetime2Text(datetime2(9999, 12, 31, 23, 59, 59, Buffer.alloc(0)), 0, 0)).toBe('9999-12-31 23:59:59')
    expect(datetime2Text(datetime2(2024, 2, 29, 1, 2, 3, Buffer.from([50])), 0, 1)).toBe('2024-02-29 01:02:03.5')
    expect(datetime2Text(datetime2(2024, 2, 29, 1, 2, 3, Buffer.from([0x0f, 0x3c])), 0, 4)).toBe(
      '2024-02-29 01:02:03.3900',
    )
    const f6 = Buffer.alloc(3)
    f6.writeUIntBE(999999, 0, 3)
    expect(datetime2Text(datetime2(1000, 1, 1, 0, 0, 0, f6), 0, 6)).toBe('1000-01-01 00:00:00.999999')
    expect(datetime2Text(datetime2(0, 0, 0, 0, 0, 0, Buffer.alloc(0)), 0, 0)).toBe('0000-00-00 00:00:00')
  })
  it('decodes TIMESTAMP2 as UTC and the zero timestamp', () => {
    const ts = Buffer.alloc(7)
    ts.writeUInt32BE(2147483647, 0)
    ts.writeUIntBE(999999, 4, 3)
    expect(timestamp2Text(ts, 0, 6)).toBe('2038-01-19 03:14:07.999999')
    expect(timestamp2Text(Buffer.alloc(4), 0, 0)).toBe('0000-00-00 00:00:00')
    expect(timestamp2Text(Buffer.alloc(5), 0, 2)).toBe('0000-00-00 00:00:00.00')
    for (const s of [1, 86399, 951782400, 1709251199, 4102444800]) {
      expect(epochText(s)).toBe(new Date(s * 1000).toISOString().slice(0, 19).replace('T', ' '))
    }
  })
  it('decodes DATE, YEAR and the pre-5.6 TIME/DATETIME/TIMESTAMP', () => {
    const date = Buffer.alloc(3)
    date.writeUIntLE((2024 << 9) | (2 << 5) | 29, 0, 3)
    expect(decodeCell(column(T.DATE, 0), date).text).toBe('2024-02-29')
    expect(decodeCell(column(T.YEAR, 0), Buffer.from([0])).text).toBe('0000')
    expect(decodeCell(column(T.YEAR, 0), Buffer.from([255])).text).toBe('2155')
    const time = Buffer.alloc(3)
    time.writeIntLE(-8385959, 0, 3)
    expect(decodeCell(column(T.TIME, 0), time).text).toBe('-838:59:59')
    const dt = Buffer.alloc(8)
    dt.writeBigUInt64LE(20240229235958n)
    expect(decodeCell(column(T.DATETIME, 0), dt).text).toBe('2024-02-29 23:59:58')
    const ts = Buffer.alloc(4)
    ts.writeUInt32LE(86400)
    expect(decodeCell(column(T.TIMESTAMP, 0), ts).text).toBe('1970-01-02 00:00:00')
  })
})

describe('numbers', () => {
  it('gives FLOAT the shortest text that reads back to the same float32', () => {
    expect(float32Text(Math.fround(0.1))).toBe('0.1')
    expect(float32Text(Math.fround(1 / 3))).toBe('0.33333334')
    expect(float32Text(Math.fround(16777217))).toBe('16777216')
    expect(float32Text(Math.fround(3.4028234663852886e38))).toBe('3.4028235e+38')
    expect(float32Text(Math.fround(1.401298464324817e-45))).toBe('1e-45')
    expect(float32Text(-0)).toBe('-0')
    const buf = Buffer.alloc(4)
    for (let i = 0; i < 20000; i++) {
      buf.writeUInt32LE((Math.random() * 2 ** 32) >>> 0)
      const v = buf.readFloatLE(0)
      if (!Number.isFinite(v)) continue
      const text = float32Text(v)
      expect(Math.fround(Number(text))).toBe(v)
      expect(text.replace(/^-/, '').replace(/e.*$/, '').replace('.', '').replace(/^0+/, '').length).toBeLessThanOrEqual(
        9,
      )
    }
  })

  it('decodes integer limits, signed and unsigned, including 64-bit', () => {
    const le = (bytes: number[]) => Buffer.from(bytes)
    expect(decodeCell(column(T.TINY, 0), le([0x80])).text).toBe('-128')
    expect(decodeCell(column(T.TINY, 0, { unsigned: true }), le([0xff])).text).toBe('255')
    expect(decodeCell(column(T.INT24, 0), le([0, 0, 0x80])).text).toBe('-8388608')
    expect(decodeCell(column(T.INT24, 0, { unsigned: true }), le([0xff, 0xff, 0xff])).text).toBe('16777215')
    expect(decodeCell(column(T.LONG, 0), le([0, 0, 0, 0x80])).text).toBe('-2147483648')
    const b = Buffer.alloc(8)
    b.writeBigInt64LE(-9223372036854775808n)
    expect(decodeCell(column(T.LONGLONG, 0), b)).toEqual({ text: '-9223372036854775808', used: 8 })
    b.writeBigUInt64LE(18446744073709551615n)
    expect(decodeCell(column(T.LONGLONG, 0, { unsigned: true }), b).text).toBe('18446744073709551615')
    expect(decodeCell(column(T.LONGLONG, 0), b).text).toBe('-1')
    b.writeBigInt64LE(-9007199254740993n)
    expect(decodeCell(column(T.LONGLONG, 0), b).text).toBe('-9007199254740993')
    b.writeBigInt64LE(9007199254740993n)
    expect(decodeCell(column(T.LONGLONG, 0), b).text).toBe('9007199254740993')
    b.writeBigInt64LE(-4503599627370497n)
    expect(decodeCell(column(T.LONGLONG, 0), b).text).toBe('-4503599627370497')
  })

  it('writes DOUBLE with JS round-trip text and BIT as an unsigned integer', () => {
    const d = Buffer.alloc(8)
    d.writeDoubleLE(0.30000000000000004)
    expect(decodeCell(column(T.DOUBLE, 8), d).text).toBe('0.30000000000000004')
    d.writeDoubleLE(-0)
    expect(decodeCell(column(T.DOUBLE, 8), d).text).toBe('-0')
    // BIT(64): meta = bytes << 8 | bits % 8
    expect(decodeCell(column(T.BIT, 8 << 8), Buffer.alloc(8, 0xff))).toEqual({ text: '18446744073709551615', used: 8 })
    // BIT(13): 1 full byte + 5 bits -> 2 bytes
    expect(decodeCell(column(T.BIT, (1 << 8) | 5), Buffer.from([0x10, 0x01]))).toEqual({ text: '4097', used: 2 })
  })
})

describe('strings, ENUM and SET', () => {
  it('unpacks STRING metadata, including CHAR longer than 255 bytes and ENUM/SET', () => {
    expect(stringMeta((T.STRING << 8) | 80)).toEqual({ realType: T.STRING, length: 80 })
    // CHAR(120) utf8mb4 = 480 bytes: the high bits of the length ride in byte 0
    const meta480 = (((T.STRING & 0xcf) | (((480 >> 4) & 0x30) ^ 0x30)) << 8) | (480 & 0xff)
    expect(stringMeta(meta480)).toEqual({ realType: T.STRING, length: 480 })
    expect(valueKind(T.STRING, (T.ENUM << 8) | 1)).toBe('enum')
    expect(valueKind(T.STRING, (T.SET << 8) | 8)).toBe('set')
    const two = Buffer.from([3, 0, 0x41, 0x00, 0x42])
    expect(decodeCell(column(T.STRING, meta480), two)).toEqual({ text: 'A\0B', used: 5 })
    expect(decodeCell(column(T.STRING, (T.ENUM << 8) | 2), Buffer.from([0x2c, 0x01])).text).toBe('300')
    expect(decodeCell(column(T.STRING, (T.SET << 8) | 8), Buffer.alloc(8, 0xff)).text).toBe('18446744073709551615')
  })

  it('puts back the 0x00 padding the binlog strips from BINARY(n)', () => {
    const binary4 = column(T.STRING, (T.STRING << 8) | 4, { charsetId: 63 })
    expect(decodeCell(binary4, Buffer.from([2, 0x61, 0x00]))).toEqual({ text: 'a\0\0\0', used: 3 })
    expect(decodeCell(binary4, Buffer.from([0]))).toEqual({ text: '\0\0\0\0', used: 1 })
    expect(decodeCell(binary4, Buffer.from([4, 1, 2, 3, 4])).used).toBe(5)
    const char4 = column(T.STRING, (T.STRING << 8) | 4, { charsetId: 8 })
    expect(decodeCell(char4, Buffer.from([1, 0x61]))).toEqual({ text: 'a', used: 2 })
  })

  it('copies VARCHAR and BLOB bytes with 1- to 4-byte length prefixes', () => {
    expect(decodeCell(column(T.VARCHAR, 255), Buffer.from([2, 0, 0xff]))).toEqual({ text: '\0\ufffd', used: 3 })
    expect(decodeCell(column(T.VARCHAR, 1200), Buffer.from([1, 0, 0x5c]))).toEqual({ text: '\\', used: 3 })
    const blob = Buffer.from([3, 0, 0, 0x61, 0x62, 0x63])
    expect(decodeCell(column(T.BLOB, 3), blob)).toEqual({ text: 'abc', used: 6 })
    expect(decodeCell(column(T.GEOMETRY, 4), Buffer.from([1, 0, 0, 0, 7])).used).toBe(5)
  })

  it('refuses MariaDB compressed columns naming the attribute', () => {
    expect(() => columnDecoder(column(140, 100))).toThrowError(/COMPRESSED/)
    try {
      columnDecoder(column(141, 2))
    } catch (error) {
      expect(BinlogError.is(error, 'CaptureFault')).toBe(true)
    }
  })
})

describe('MySQL binary JSON', () => {
  it('decodes hand-written documents', () => {
    // [1, "ab"]: small array, int16 inlined, string at offset 10
    const arr = Buffer.from([0x02, 0x02, 0x00, 0x0d, 0x00, 0x05, 0x01, 0x00, 0x0c, 0x0a, 0x00, 0x02, 0x61, 0x62])
    expect(jsonBinaryText(arr)).toBe('[1, "ab"]')
    // {"k": false}
    const obj = Buffer.from([0x00, 0x01, 0x00, 0x0c, 0x00, 0x0b, 0x00, 0x01, 0x00, 0x04, 0x02, 0x00, 0x6b])
    expect(jsonBinaryText(obj)).toBe('{"k": false}')
    const one = Buffer.alloc(9)
    one[0] = 0x0b
    one.writeDoubleLE(1, 1)
    expect(jsonBinaryText(one)).toBe('1.0')
    expect(jsonBinaryText(Buffer.alloc(0))).toBe('null')
  })

  it('decodes scalars, nesting, escapes and both container sizes', () => {
    const value: Json = {
      a: [1, -2, 70000, -70000, 2.5, 1e300, 'x\ty"\\', true, null, false],
      nested: { deeper: { list: [[], {}, [[['😀']]]] } },
      big: 18446744073709551615n,
      neg: -9223372036854775808n,
      ü: 'ünï',
    }
    for (const large of [false, true]) {
      const text = jsonBinaryText(jsonDoc(value, large))
      const parsedBack = JSON.parse(text.replace(/(-?\d{16,})/g, '"$1"'))
      expect(parsedBack).toEqual({
        ...JSON.parse(JSON.stringify(value, (_k, v) => (typeof v === 'bigint' ? v.toString() : v))),
      })
      expect(text).toContain('"big": 18446744073709551615')
      expect(text).toContain('"neg": -9223372036854775808')
      expect(text).toContain('"x\\ty\\"\\\\"')
    }
  })

  it('decodes opaque DECIMAL and temporal values', () => {
    // DECIMAL(4,2) 12.34
    const dec = Buffer.from([0x0f, T.NEWDECIMAL, 4, 4, 2, 0x8c, 0x22])
    expect(jsonBinaryText(dec)).toBe('12.34')
    const ymd = ((2015 * 13 + 1) << 5) | 15
    const hms = (23 << 12) | (24 << 6) | 25
    const packed = ((BigInt(ymd) << 17n) | BigInt(hms)) << 24n
    const data = Buffer.alloc(8)
    data.writeBigInt64LE(packed + 123456n)
    const dt = Buffer.concat([Buffer.from([0x0f, T.DATETIME, 8]), data])
    expect(jsonBinaryText(dt)).toBe('"2015-01-15 23:24:25.123456"')
    expect(packedTemporalText(T.DATE, packed)).toBe('2015-01-15')
    const time = -((BigInt((838 << 12) | (59 << 6) | 59) << 24n) + 1n)
    expect(packedTemporalText(T.TIME, time)).toBe('-838:59:59.000001')
    const blob = Buffer.from([0x0f, T.BLOB, 2, 0xde, 0xad])
    expect(jsonBinaryText(blob)).toBe(`"base64:type${T.BLOB}:3q0="`)
  })

  it('decodes a JSON column cell through its length prefix', () => {
    const doc = jsonDoc({ k: [1, 2] })
    const cell = Buffer.concat([Buffer.alloc(4), doc])
    cell.writeUInt32LE(doc.length, 0)
    expect(decodeCell(column(T.JSON, 4), cell)).toEqual({ text: '{"k": [1, 2]}', used: cell.length })
  })
})

describe('crc32', () => {
  it('matches the pure-JS table implementation', () => {
    const data = Buffer.from('The quick brown fox jumps over the lazy dog')
    expect(crc32(data, 0, data.length)).toBe(0x414fa339)
    expect(crc32Js(data, 0, data.length)).toBe(0x414fa339)
    expect(crc32(data, 4, 9)).toBe(crc32Js(data, 4, 9))
  })
})

describe('RowWriter helpers', () => {
  it('writes ints, ascii and slices', () => {
    const w = new RowWriter(1)
    w.int(0).int(-1).int(9007199254740991).int(-9007199254740991).ascii('12:00').slice(Buffer.from('xabcx'), 1, 4)
    expect(readCells(w.finish()).map((c) => c!.toString())).toEqual([
      '0',
      '-1',
      '9007199254740991',
      '-9007199254740991',
      '12:00',
      'abc',
    ])
    w.reset().null()
    expect(readCells(w.finish())).toEqual([null])
  })
})
