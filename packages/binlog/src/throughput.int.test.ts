import { readFile } from 'node:fs/promises'
import path from 'node:path'
import mysql, { type RowDataPacket } from 'mysql2/promise'
import { afterAll, beforeAll, expect, it } from 'vitest'
import type { BinlogPosition } from './binlog-event.js'
import { openBinlogStream } from './binlog-client.js'
import { BinlogDecoder } from './decode-event.js'
import { startPrivateServer, type StartedMysqlServer } from '@backtrack/mysql-server'
import { tempDir } from '@backtrack/mysql-server/testing'

const ROWS = 200_000

const dir = tempDir('bt-throughput-')
let server: StartedMysqlServer
let from: BinlogPosition
let to: BinlogPosition

beforeAll(async () => {
  server = await startPrivateServer({ dataDir: path.join(dir.path, 'mysql') })
  const c = await mysql.createConnection({ ...server.connectionOptions('admin'), multipleStatements: true })
  // sysbench's sbtest shape: ~230-byte rows.
  await c.query(`CREATE DATABASE sb; CREATE TABLE sb.sbtest1 (
    id INT NOT NULL AUTO_INCREMENT PRIMARY KEY, k INT NOT NULL DEFAULT 0,
    c CHAR(120) NOT NULL DEFAULT '', pad CHAR(60) NOT NULL DEFAULT '', KEY k_1 (k))`)
  const [[start]] = await c.query<RowDataPacket[]>('SHOW MASTER STATUS')
  from = { file: String(start!['File']), position: Number(start!['Position']) }
  await c.query('SET SESSION binlog_annotate_row_events = OFF')
  await c.query(`INSERT INTO sb.sbtest1 (k, c, pad)
    SELECT FLOOR(RAND(seq) * ${ROWS}),
      CONCAT_WS('-', LPAD(seq, 11, '0'), LPAD(seq * 7 % 99999999999, 11, '0'), LPAD(seq * 13, 11, '0'),
        LPAD(seq * 17, 11, '0'), LPAD(seq * 19, 11, '0'), LPAD(seq * 23, 11, '0'), LPAD(seq * 29, 11, '0'),
        LPAD(seq * 31, 11, '0'), LPAD(seq * 37, 11, '0'), LPAD(seq * 41, 11, '0')),
      CONCAT_WS('-', LPAD(seq * 43, 11, '0'), LPAD(seq * 47, 11, '0'), LPAD(seq * 53, 11, '0'),
        LPAD(seq * 59, 11, '0'), LPAD(seq * 61, 11, '0'))
    FROM sb.seq_1_to_${ROWS}`)
  const [[end]] = await c.query<RowDataPacket[]>('SHOW MASTER STATUS')
  to = { file: String(end!['File']), position: Number(end!['Position']) }
  await c.end()
}, 300_000)

afterAll(async () => {
  await server?.stop()
  dir[Symbol.dispose]()
})

it(`decodes a ${ROWS}-row sysbench-shaped insert from the live stream`, async () => {
  // The first read follows the insert while the server is still busy; the later ones show the steady state.
  for (let run = 0; run < 3; run++) {
    const stream = await openBinlogStream({ ...server.connectionOptions('admin'), serverId: 77 + run, from })
    let rows = 0
    let bytes = 0
    const t0 = performance.now()
    const cpu0 = process.cpuUsage()
    for await (const event of stream) {
      if (event.type === 'write-rows') {
        rows += event.rows.length
        for (const r of event.rows) bytes += r.length
      }
      if (event.next.file === to.file && event.next.position >= to.position) break
    }
    const seconds = (performance.now() - t0) / 1000
    const cpu = process.cpuUsage(cpu0)
    await stream.close()
    expect(rows).toBe(ROWS)
    const cpuPercent = Math.round(((cpu.user + cpu.system) / 1e6 / seconds) * 100)
    console.log(
      `live stream run ${run + 1}: ${rows} rows in ${seconds.toFixed(3)} s = ${Math.round(rows / seconds)} rows/s ` +
        `(avg image ${Math.round(bytes / rows)} B, client CPU ${cpuPercent}%)`,
    )
  }
})

it(`decodes the same binlog file offline (pure decode cost)`, async () => {
  const file = await readFile(path.join(server.dataDir!, from.file))
  let best = Infinity
  let rows = 0
  for (let run = 0; run < 3; run++) {
    const decoder = new BinlogDecoder({ checksum: true, file: from.file })
    rows = 0
    const t0 = performance.now()
    for (let p = 4; p < file.length;) {
      const size = file.readUInt32LE(p + 9)
      const event = decoder.decode(file.subarray(p, p + size))
      if (event.type === 'write-rows') rows += event.rows.length
      p += size
    }
    best = Math.min(best, (performance.now() - t0) / 1000)
  }
  expect(rows).toBe(ROWS)
  console.log(`offline decode: ${rows} rows in ${best.toFixed(3)} s = ${Math.round(rows / best)} rows/s`)
})
