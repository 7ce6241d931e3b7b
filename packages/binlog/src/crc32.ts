import * as zlib from 'node:zlib'

type Crc32 = (data: Uint8Array, start: number, end: number) => number

// node:zlib has crc32 from Node 20.15 / 22.2 on (Node 20.20 has it); older 20.x fall back to a table.
const native = (zlib as { crc32?: (data: Uint8Array, value?: number) => number }).crc32

let table: Uint32Array | undefined

function tableCrc32(data: Uint8Array, start: number, end: number): number {
  if (!table) {
    table = new Uint32Array(256)
    for (let n = 0; n < 256; n++) {
      let c = n
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1
      table[n] = c >>> 0
    }
  }
  let crc = 0xffffffff
  for (let i = start; i < end; i++) crc = table[(crc ^ data[i]!) & 0xff]! ^ (crc >>> 8)
  return (crc ^ 0xffffffff) >>> 0
}

/** CRC-32 (ISO-HDLC, the binlog's CRC32) of `data[start, end)`. */
export const crc32: Crc32 = native
  ? (data, start, end) => native(start === 0 && end === data.length ? data : data.subarray(start, end)) >>> 0
  : tableCrc32

/** The pure-JS implementation (exported for tests against the native one). */
export const crc32Js: Crc32 = tableCrc32
