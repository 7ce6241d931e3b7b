import { join } from 'node:path'
import mysql, { type Connection, type RowDataPacket } from 'mysql2/promise'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startPrivateServer, type StartedMysqlServer } from '@backtrack/mysql-server'
import { tempDir } from '@backtrack/mysql-server/testing'
import { symmetricDifference } from '../page-log/view.js'
import { SimulatorEngine } from '../simulator-engine.js'
import { BacktrackExecutor } from './backtrack-executor.js'

describe('BacktrackExecutor on changed keys (LOAD DATA ... REPLACE, deletes of the keys the target lacks)', () => {
  const dir = tempDir('bt-executor-')
  let server: StartedMysqlServer
  let engine: SimulatorEngine
  let app: Connection

  beforeAll(async () => {
    server = await startPrivateServer({ dataDir: join(dir.path, 'mysql') })
    engine = await SimulatorEngine.start({ server, dataDir: join(dir.path, 'cluster'), database: 'mylab' })
    app = await mysql.createConnection(server.connectionOptions('app', 'mylab'))
  }, 120_000)
  afterAll(async () => {
    await app?.end().catch(() => undefined)
    await engine?.close()
    await server?.stop()
    dir[Symbol.dispose]()
  })

  /** The app's session is closed by every rewind (Aurora closes them all): reconnect when it was. */
  async function sql(statement: string): Promise<RowDataPacket[]> {
    try {
      const [rows] = await app.query<RowDataPacket[]>(statement)
      return rows
    } catch (error) {
      if (!/closed|ECONNRESET|killed|Connection lost/i.test((error as Error).message)) throw error
      app = await mysql.createConnection(server.connectionOptions('app', 'mylab'))
      const [rows] = await app.query<RowDataPacket[]>(statement)
      return rows
    }
  }

  async function rewind(to: Date) {
    const record = await engine.backtrack({ backtrackTo: to })
    await engine.waitForBacktrack(record.BacktrackIdentifier)
    return engine.lastOutcome!.stats!
  }

  const checksum = async (table: string) => String((await sql(`CHECKSUM TABLE ${table}`))[0]!.Checksum)

  it('brings back updated and deleted rows and removes inserted ones, counting each', async () => {
    await sql('CREATE TABLE mixed (id INT PRIMARY KEY, k INT NOT NULL, c VARCHAR(40), KEY k (k))')
    const values = Array.from({ length: 300 }, (_, i) => `(${i + 1}, ${i % 17}, 'row ${i + 1}')`)
    await sql(`INSERT INTO mixed VALUES ${values.join(', ')}`)
    const original = await checksum('mixed')
    const mark = await engine.mark()
    await sql('DELETE FROM mixed WHERE id % 3 = 0') // 100 rows
    await sql("UPDATE mixed SET k = k + 1, c = 'changed' WHERE id % 3 = 1") // 100 rows
    await sql("INSERT INTO mixed VALUES (1001, 1, 'new'), (1002, 2, 'new'), (1003, 3, 'gone again')")
    await sql('DELETE FROM mixed WHERE id = 1003')
    await sql('UPDATE mixed SET id = 2000 WHERE id = 2') // a key change: 2 goes, 2000 comes
    const stats = await rewind(mark)
    expect(await checksum('mixed')).toBe(original)
    // 100 deleted + 100 updated + the moved row come back; 1001, 1002 and 2000 go (1003 is gone already).
    expect(stats).toMatchObject({ rowsRestored: 201, rowsDeleted: 3 })
  })

  it('gives a case-insensitive key changed only in case its exact bytes back (deletes before the load)', async () => {
    await sql('CREATE TABLE names (name VARCHAR(20) COLLATE utf8mb4_general_ci PRIMARY KEY, v INT)')
    await sql("INSERT INTO names VALUES ('alice', 1), ('bob', 2), ('Ève', 3)")
    const mark = await engine.mark()
    // 'alice' → 'ALICE' is a new key in the log and equal to the old one for the server; so are 'Ève' and 'ève'.
    await sql("UPDATE names SET name = 'ALICE' WHERE name = 'alice'")
    await sql("UPDATE names SET name = 'ève', v = 30 WHERE v = 3")
    await sql("UPDATE names SET v = 20 WHERE name = 'bob'")
    await rewind(mark)
    const rows = await sql('SELECT CAST(name AS BINARY) AS name, v FROM names ORDER BY v')
    expect(rows.map((row) => [Buffer.from(row.name as Buffer).toString(), row.v])).toEqual([
      ['alice', 1],
      ['bob', 2],
      ['Ève', 3],
    ])
  })

  it('restores rows whose unique secondary keys were swapped, and keeps the unique key unique', async () => {
    await sql('CREATE TABLE seats (id INT PRIMARY KEY, seat INT NOT NULL, UNIQUE KEY seat (seat))')
    await sql('INSERT INTO seats VALUES (1, 10), (2, 20), (3, 30)')
    const mark = await engine.mark()
    await sql('UPDATE seats SET seat = 99 WHERE id = 1')
    await sql('UPDATE seats SET seat = 10 WHERE id = 2')
    await sql('UPDATE seats SET seat = 20 WHERE id = 1')
    await sql('DELETE FROM seats WHERE id = 3')
    await sql('INSERT INTO seats VALUES (4, 30)') // a new key holding a seat the target gives to id 3
    await rewind(mark)
    const rows = await sql('SELECT id, seat FROM seats ORDER BY id')
    expect(rows.map((row) => [row.id, row.seat])).toEqual([
      [1, 10],
      [2, 20],
      [3, 30],
    ])
  })

  it('deletes more new keys than one pass holds in memory by reading them from the log again', async () => {
    await sql('CREATE TABLE many (id INT PRIMARY KEY, v INT)')
    await sql('INSERT INTO many VALUES (1, 1), (2, 2), (3, 3)')
    const original = await checksum('many')
    const mark = await engine.mark()
    await sql(`INSERT INTO many VALUES ${Array.from({ length: 20 }, (_, i) => `(${100 + i}, ${i})`).join(', ')}`)
    await sql('UPDATE many SET v = 0')
    await engine.capture.catchUp()
    // Drive an executor that holds at most 3 keys, on the engine's log, with the capture held still meanwhile.
    const log = engine.pageLog
    engine.capture.pause()
    const session = await mysql.createConnection(server.connectionOptions('admin'))
    try {
      const head = log.headView()
      const target = log.viewAt(log.lsnAt(mark.getTime() * 1000))
      const executor = new BacktrackExecutor(session, log, { maxHeldKeys: 3 })
      await executor.prepareSession()
      const stats = await executor.apply(head, target)
      expect(stats).toMatchObject({ rowsRestored: 3, rowsDeleted: 20 })
      expect(await checksum('many')).toBe(original)
      expect(symmetricDifference(head, target).length).toBeGreaterThan(0)
      // Put the server back where the log's head says it is, for the engine.
      await executor.apply(target, head)
    } finally {
      await session.end()
      engine.capture.resume()
    }
    expect((await sql('SELECT count(*) AS n FROM many'))[0]!.n).toBe(23)
  })
})
