import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { startPrivateServer, type StartedMysqlServer } from '@backtrack/mysql-server'
import { ALL_ROWS, COLUMNS_SQL, insertRows, maxRow, q, tempDir } from '@backtrack/mysql-server/testing'
import mysql, { type Connection, type RowDataPacket } from 'mysql2/promise'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { BinlogError } from './binlog-error.js'
import { crc32 } from './crc32.js'
import { BinlogDecoder, EVENT_TYPE, type DecodedEvent } from './decode-event.js'

// The decoder fed mutated bytes of real binlogs: bit flips, overwritten bytes, boundary values where length fields
// live, truncations (with and without the header's size fixed). Whatever it is given, it either decodes or throws a
// `BinlogError` (CaptureFault) that names the event type and its position; nothing else escapes it. With CRC32 on
// (the default binlog_checksum) a mutated event is refused, or decodes to exactly what the original did (the in-use
// flag of a FORMAT_DESCRIPTION is outside its checksum). Mutations that pass a checksum are those of a binlog
// without one (binlog_checksum=NONE) and those whose checksum is made again after the mutation (a server that wrote
// wrong bytes): there the decoder can only refuse what does not parse, and a flipped value inside a row stays a
// different value; the test holds that to "a BinlogError or a decoded event", never a crash or a hang.
//
// CI runs BACKTRACK_FUZZ_ITERATIONS (default 3000) with BACKTRACK_FUZZ_SEED (default 11); a longer run by hand:
//   BACKTRACK_FUZZ_ITERATIONS=200000 BACKTRACK_FUZZ_SEED=$RANDOM pnpm vitest run packages/binlog/src/decoder-fuzz.int.test.ts

const ITERATIONS = Number(process.env['BACKTRACK_FUZZ_ITERATIONS'] ?? 3000)
const SEED = Number(process.env['BACKTRACK_FUZZ_SEED'] ?? 11)

/** mulberry32: a small seeded PRNG, so a failure can be replayed from its seed and iteration. */
function prng(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

interface BinlogFile {
  name: string
  events: Buffer[]
  checksum: boolean
}

function split(name: string, bytes: Buffer): Buffer[] {
  const events: Buffer[] = []
  for (let p = 4; p < bytes.length;) {
    const size = bytes.readUInt32LE(p + 9)
    events.push(bytes.subarray(p, p + size))
    p += size
  }
  return events
}

/** A decoded event as comparable text (row images as hex). */
function text(event: DecodedEvent): string {
  return JSON.stringify(event, (_key, value: unknown) =>
    typeof value === 'bigint'
      ? `${value}n`
      : value !== null && typeof value === 'object' && (value as { type?: string }).type === 'Buffer'
        ? Buffer.from((value as { data: number[] }).data).toString('hex')
        : value,
  )
}

const MUTATIONS = ['bit-flips', 'bytes', 'length-field', 'header-size', 'truncate', 'truncate-resized'] as const
type Mutation = (typeof MUTATIONS)[number]

/** A copy of `event` mutated; `resign` makes its CRC32 again, as a server writing wrong bytes would. */
function mutate(event: Buffer, kind: Mutation, random: () => number, resign: boolean, checksum: boolean): Buffer {
  const pick = (n: number) => Math.floor(random() * n)
  let out = Buffer.from(event)
  switch (kind) {
    case 'bit-flips':
      for (let n = 1 + pick(3); n > 0; n--) {
        const at = pick(out.length)
        out[at] = out[at]! ^ (1 << pick(8))
      }
      break
    case 'bytes':
      for (let n = 1 + pick(8); n > 0; n--) out[pick(out.length)] = pick(256)
      break
    case 'length-field': {
      // Where packed integers, string lengths and counts live: the values that change how the rest is read.
      const boundary = [0x00, 0x01, 0x7f, 0x80, 0xfa, 0xfb, 0xfc, 0xfd, 0xfe, 0xff]
      out[19 + pick(Math.max(1, out.length - 19))] = boundary[pick(boundary.length)]!
      break
    }
    case 'header-size':
      out.writeUInt32LE([0, 19, out.length - 1, out.length + 1, 0xffffffff, pick(2 ** 16)][pick(6)]!, 9)
      return out
    case 'truncate':
      return out.subarray(0, pick(out.length))
    case 'truncate-resized':
      out = Buffer.from(out.subarray(0, 19 + pick(Math.max(1, out.length - 19))))
      out.writeUInt32LE(out.length, 9)
      break
  }
  if (resign && checksum && out.length >= 23) out.writeUInt32LE(crc32(out, 0, out.length - 4), out.length - 4)
  return out
}

/** Every fixture row, with the maximal row's 135 kB of blobs cut short: each iteration decodes a whole file. */
const ROWS = ALL_ROWS.map((row) =>
  row === maxRow ? { ...row, bl: Buffer.from([0, 255, 10, 9, 92, 0xab]), mb: Buffer.from('\\N\\\\') } : row,
)

const NAMED = /(?:[A-Z0-9_]+_EVENT|event type \d+|binlog event of \d+ bytes) at [^\s:]+:\d+/

describe('binlog decoder fuzzing with mutated real binlogs', () => {
  const dir = tempDir('bt-fuzz-')
  let server: StartedMysqlServer
  let admin: Connection
  const files: BinlogFile[] = []

  /** A workload with every column type, DML of every kind, DDL, a keyless table and non-ASCII text. */
  async function workload(db: string): Promise<void> {
    const table = `${q(db)}.${q('all types')}`
    await admin.query(`CREATE DATABASE ${q(db)} CHARACTER SET utf8mb4`)
    await admin.query(`CREATE TABLE ${table} (${COLUMNS_SQL}) CHARACTER SET utf8mb4`)
    await insertRows((sql, values) => admin.query(sql, values), table, ROWS)
    await admin.query(
      `UPDATE ${table} SET ti = IF(ti > 0, ti - 1, ti), vc = CONCAT('ü', IFNULL(vc, '')), j = '{"a": [1, 2.5, "x"]}'`,
    )
    await admin.query(`DELETE FROM ${table} WHERE id = 2`)
    await admin.query(`CREATE TABLE ${q(db)}.keyless (a INT, b VARCHAR(20)) CHARACTER SET utf8mb4`)
    await admin.query(`INSERT INTO ${q(db)}.keyless VALUES (1, 'x'), (1, 'x'), (NULL, 'ü€')`)
    await admin.query(`ALTER TABLE ${q(db)}.keyless ADD COLUMN c DATETIME(3) DEFAULT '2020-01-02 03:04:05.678'`)
    await admin.query(`UPDATE ${q(db)}.keyless SET b = 'y' WHERE a = 1`)
    await admin.query(`BEGIN; INSERT INTO ${q(db)}.keyless (a) VALUES (7); DELETE FROM ${table} WHERE id = 3; COMMIT`)
  }

  async function readCurrentFile(checksum: boolean): Promise<void> {
    const [[status]] = await admin.query<RowDataPacket[]>('SHOW MASTER STATUS')
    const name = String(status!['File'])
    await admin.query('FLUSH BINARY LOGS')
    files.push({ name, events: split(name, await readFile(join(server.dataDir!, name))), checksum })
  }

  beforeAll(async () => {
    server = await startPrivateServer({ dataDir: join(dir.path, 'mysql') })
    admin = await mysql.createConnection({ ...server.connectionOptions('admin'), multipleStatements: true })
    await admin.query('FLUSH BINARY LOGS')
    await workload('fuzz crc')
    await readCurrentFile(true)
    await admin.query("SET GLOBAL binlog_checksum = 'NONE'")
    await workload('fuzz none')
    await readCurrentFile(false)
  }, 120_000)

  afterAll(async () => {
    await admin?.end()
    await server?.stop()
    dir[Symbol.dispose]()
  })

  function decodeAll(file: BinlogFile, events: Buffer[]): { out: string[]; error?: unknown } {
    const decoder = new BinlogDecoder({ checksum: true, file: file.name, position: 4 })
    const out: string[] = []
    for (const event of events) {
      try {
        out.push(text(decoder.decode(event)))
      } catch (error) {
        return { out, error }
      }
    }
    return { out }
  }

  it('decodes both files unmutated, rows of every type included', () => {
    for (const file of files) {
      const { out, error } = decodeAll(file, file.events)
      expect(error).toBeUndefined()
      expect(out.filter((e) => e.includes('"type":"update-rows"')).length).toBeGreaterThan(0)
      expect(out[0]).toContain(`"checksum":${String(file.checksum)}`)
    }
  })

  it(
    `never crashes, names the event it refuses, and passes no mutated event with a good CRC32 (${ITERATIONS} mutations, seed ${SEED})`,
    () => {
      const random = prng(SEED)
      const baselines = files.map((file) => decodeAll(file, file.events).out)
      const tally = new Map<string, { refused: number; decoded: number; changed: number }>()
      const problems: string[] = []
      for (let iteration = 0; iteration < ITERATIONS; iteration++) {
        const f = Math.floor(random() * files.length)
        const file = files[f]!
        const index = Math.floor(random() * file.events.length)
        const kind = MUTATIONS[Math.floor(random() * MUTATIONS.length)]!
        const resign = random() < 0.3
        const original = file.events[index]!
        const mutated = mutate(original, kind, random, resign, file.checksum)
        if (mutated.equals(original)) continue
        const events = [...file.events]
        events[index] = mutated
        const { out, error } = decodeAll(file, events)
        const label = `${file.checksum ? (resign ? 'crc32, re-signed' : 'crc32') : 'none'} ${kind}`
        const counts = tally.get(label) ?? { refused: 0, decoded: 0, changed: 0 }
        tally.set(label, counts)
        const where = `iteration ${iteration} (seed ${SEED}): ${kind}${resign ? ' re-signed' : ''} of event ${index} (type ${original[4]}) of ${file.name}`
        if (error !== undefined) {
          counts.refused++
          if (!BinlogError.is(error, 'CaptureFault')) {
            problems.push(`${where}: threw ${(error as Error).stack ?? (error as Error).message}`)
          } else if (!NAMED.test(error.message)) {
            problems.push(`${where}: the fault does not name the event and its position: ${error.message}`)
          }
          if (out.length < index)
            problems.push(`${where}: an event before the mutated one failed: ${(error as Error).message}`)
          continue
        }
        counts.decoded++
        const changed = out.some((event, i) => event !== baselines[f]![i])
        if (changed) counts.changed++
        if (changed && file.checksum && !resign) {
          const offsets = [...mutated.keys()].filter((i) => mutated[i] !== original[i])
          const first = out.findIndex((event, i) => event !== baselines[f]![i])
          problems.push(
            `${where}: passed its CRC32 check and decoded differently (bytes ${offsets.join(', ')} of ` +
              `${original.length} changed; event ${first} became ${out[first]}, was ${baselines[f]![first]})`,
          )
        }
      }
      console.log(
        `fuzzing, seed ${SEED}: ${[...tally].map(([label, c]) => `${label}: ${c.refused} refused, ${c.decoded} decoded (${c.changed} differently)`).join('; ')}`,
      )
      expect(problems.slice(0, 20)).toEqual([])
    },
    Math.max(120_000, ITERATIONS * 5),
  )

  it('refuses a FORMAT_DESCRIPTION whose checksum algorithm byte was flipped from CRC32 to NONE', () => {
    const file = files.find((f) => f.checksum)!
    const format = Buffer.from(file.events[0]!)
    expect(format[4]).toBe(EVENT_TYPE.FORMAT_DESCRIPTION)
    format[format.length - 5] = 0
    const decoder = new BinlogDecoder({ checksum: true, file: file.name, position: 4 })
    expect(() => decoder.decode(format)).toThrow(/FORMAT_DESCRIPTION_EVENT at binlog\.\d+:4 failed its CRC32 check/)
  })

  it.each([
    ['ROTATE', EVENT_TYPE.ROTATE, /^ROTATE_EVENT at binlog\.\d+:\d+ names .* which is no binlog file/],
    ['HEARTBEAT', EVENT_TYPE.HEARTBEAT, /^HEARTBEAT_EVENT at binlog\.\d+:\d+: heartbeat names .* no binlog file/],
  ])(
    'refuses a TABLE_MAP read as a %s in a binlog without checksums (found with seed 777: it moved the position to a garbage file)',
    (_name, type, message) => {
      const file = files.find((f) => !f.checksum)!
      const index = file.events.findIndex((event) => event[4] === EVENT_TYPE.TABLE_MAP)
      const decoder = new BinlogDecoder({ checksum: true, file: file.name, position: 4 })
      for (const event of file.events.slice(0, index)) decoder.decode(event)
      const mutated = Buffer.from(file.events[index]!)
      mutated[4] = type
      expect(() => decoder.decode(mutated)).toThrow(message)
    },
  )

  it('refuses a FORMAT_DESCRIPTION whose type byte was flipped (found with seed 4242: it became an ignored RAND)', () => {
    const file = files.find((f) => f.checksum)!
    const format = Buffer.from(file.events[0]!)
    format[4] = EVENT_TYPE.RAND
    const decoder = new BinlogDecoder({ checksum: true, file: file.name, position: 4 })
    expect(() => decoder.decode(format)).toThrow(/RAND_EVENT at binlog\.\d+:4 arrived before the FORMAT_DESCRIPTION/)
  })
})
