import { copyFileSync, mkdirSync, readFileSync, writeFileSync, appendFileSync } from 'node:fs'
import { join } from 'node:path'
import { startPrivateServer, type StartedMysqlServer } from '@backtrack/mysql-server'
import { tempDir } from '@backtrack/mysql-server/testing'
import mysql from 'mysql2'
import mysqlPromise, { type Connection, type RowDataPacket } from 'mysql2/promise'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { openBinlogStream, type BinlogStream } from './binlog-client.js'
import type { BinlogEvent, BinlogPosition } from './binlog-event.js'
import { FileBinlogStream, nextBinlogFile } from './binlog-files.js'
import { readCells } from './row-codec.js'

// What only the file reader meets: a server that stops and starts again (a new file without a ROTATE), an event the
// server has written only in part, a file that is gone. Everything both readers share is checked twice in
// binlog-client.int.test.ts.

const dir = tempDir('bt-binlog-files-')
const dataDir = join(dir.path, 'mysql')
let server: StartedMysqlServer
let admin: Connection

async function connectAdmin(): Promise<void> {
  admin = await mysqlPromise.createConnection(server.connectionOptions('admin'))
}

beforeAll(async () => {
  server = await startPrivateServer({ dataDir })
  await connectAdmin()
  await admin.query('CREATE DATABASE f')
  await admin.query('CREATE TABLE f.t (id INT PRIMARY KEY, v LONGBLOB)')
})

afterAll(async () => {
  await admin?.end()
  await server?.stop()
  dir[Symbol.dispose]()
})

async function currentEnd(): Promise<BinlogPosition> {
  const [[row]] = await admin.query<RowDataPacket[]>('SHOW MASTER STATUS')
  return { file: String(row!['File']), position: Number(row!['Position']) }
}

function open(from: BinlogPosition): Promise<BinlogStream> {
  return openBinlogStream({ ...server.connectionOptions('admin'), serverId: 4343, from, dataDir })
}

/** The ids of the rows written by the events read until (and with) the write of `id`'s transaction's XID. */
async function readUntilXidAfter(stream: BinlogStream, id: number): Promise<BinlogEvent[]> {
  const events: BinlogEvent[] = []
  let seen = false
  for await (const event of stream) {
    events.push(event)
    if (event.type === 'write-rows' && event.rows.some((row) => readCells(row)[0]!.toString() === String(id)))
      seen = true
    if (seen && event.type === 'xid') break
  }
  return events
}

const writtenIds = (events: BinlogEvent[]) =>
  events.flatMap((e) => (e.type === 'write-rows' ? e.rows.map((row) => readCells(row)[0]!.toString()) : []))

describe('reading the binlog from the files of a server on this machine', () => {
  it('reads from the files, and goes on to the file a restarted server opened (no ROTATE ends the old one)', async () => {
    const start = await currentEnd()
    const first = await open(start)
    expect(first.source).toBe('files')
    await admin.query('INSERT INTO f.t VALUES (1, NULL)')
    expect(writtenIds(await readUntilXidAfter(first, 1))).toEqual(['1'])
    await first.close()
    const saved = first.position

    // A restart: the old file ends with a STOP event, the server opens the next file.
    await admin.end()
    await server.stop()
    server = await startPrivateServer({ dataDir })
    await connectAdmin()
    await admin.query('INSERT INTO f.t VALUES (2, NULL)')
    const now = await currentEnd()
    expect(now.file).toBe(nextBinlogFile(saved.file))

    const resumed = await open(saved)
    const events = await readUntilXidAfter(resumed, 2)
    await resumed.close()
    expect(writtenIds(events)).toEqual(['2'])
    expect(events.at(-1)!.next).toEqual(now)
  })

  it('waits for an event the server has written only in part, and reads it whole', async () => {
    const start = await currentEnd()
    await admin.query('INSERT INTO f.t VALUES (3, REPEAT(0x5a, 300000))')
    const end = await currentEnd()
    expect(end.file).toBe(start.file)
    const bytes = readFileSync(join(dataDir, start.file)).subarray(0, end.position)

    // A copy of the file, written up to the middle of the rows event.
    const copy = join(dir.path, 'copy')
    mkdirSync(copy)
    copyFileSync(join(dataDir, 'binlog.index'), join(copy, 'binlog.index'))
    const middle = start.position + Math.floor((end.position - start.position) / 2)
    writeFileSync(join(copy, start.file), bytes.subarray(0, middle))
    const connection = mysql.createConnection(server.connectionOptions('admin'))
    const stream = new FileBinlogStream(
      connection,
      {
        basename: join(copy, 'binlog'),
        start,
        serverVersion: server.version,
        clock: { nowMicros: () => Date.now() * 1000 },
        annotateRows: false,
        heartbeatMs: 0,
      },
      true,
    )
    try {
      const seen: BinlogEvent[] = []
      const reading = (async () => {
        for await (const event of stream) {
          seen.push(event)
          if (event.type === 'xid') return
        }
      })()
      await new Promise((resolve) => setTimeout(resolve, 300))
      expect(seen.some((e) => e.type === 'write-rows')).toBe(false)
      const before = seen.length
      appendFileSync(join(copy, start.file), bytes.subarray(middle))
      stream.poke()
      await reading
      expect(seen.length).toBeGreaterThan(before)
      const rows = seen.flatMap((e) => (e.type === 'write-rows' ? e.rows : []))
      expect(rows).toHaveLength(1)
      const cells = readCells(rows[0]!)
      expect(cells[0]!.toString()).toBe('3')
      expect(cells[1]!.equals(Buffer.alloc(300000, 0x5a))).toBe(true)
      expect(stream.position).toEqual(end)
    } finally {
      await stream.close()
    }
  })

  it('answers a file that is not there as the server does (error 1236), so the capture reports it purged', async () => {
    const stream = await open({ file: 'binlog.999999', position: 4 })
    const error = await (async () => {
      for await (const _ of stream) {
        // nothing arrives
      }
    })().catch((e: unknown) => e)
    expect(error).toMatchObject({ errno: 1236, message: expect.stringMatching(/Could not find first log file/) })
  })

  it('reads over the protocol when the binlog is not in the data directory it is given', async () => {
    const stream = await openBinlogStream({
      ...server.connectionOptions('admin'),
      serverId: 4344,
      from: await currentEnd(),
      dataDir: join(dir.path, 'elsewhere'),
    })
    expect(stream.source).toBe('protocol')
    await stream.close()
  })
})
