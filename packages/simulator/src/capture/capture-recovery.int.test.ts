import { truncateSync } from 'node:fs'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startPrivateServer, type StartedMysqlServer } from '@backtrack/mysql-server'
import { BinlogError } from '@backtrack/binlog'
import { BacktrackError } from '@backtrack/core'
import { SimulatorEngine } from '../simulator-engine.js'
import { SqlClient } from '../testing/sql-client.js'
import { tempDir } from '@backtrack/mysql-server/testing'

describe('capture crash recovery and concurrent writers', () => {
  const dir = tempDir('bt-recovery-')
  let server: StartedMysqlServer

  beforeAll(async () => {
    server = await startPrivateServer({ dataDir: join(dir.path, 'mysql') })
  })
  afterAll(async () => {
    await server?.stop()
    dir[Symbol.dispose]()
  })

  it('loses and doubles nothing when killed mid-stream, with four writers running', async () => {
    const dataDir = join(dir.path, 'cluster')
    let engine = await SimulatorEngine.start({ server, dataDir, database: 'mylab' })
    const setup = new SqlClient(server.connectionOptions('app', 'mylab'))
    await setup.query('CREATE TABLE counter (writer INT, n INT, PRIMARY KEY (writer, n))')
    // Four writers, one row per transaction each; the capture is killed while they run.
    const writers = [0, 1, 2, 3].map(async (writer) => {
      const client = new SqlClient(server.connectionOptions('app', 'mylab'))
      for (let n = 1; n <= 250; n++) await client.query('INSERT INTO counter VALUES (?, ?)', [writer, n])
      await client.end()
    })
    let atCrash = 0
    while ((atCrash = Number((await setup.query('SELECT count(*) AS n FROM counter'))[0]!.n)) < 100) {
      await new Promise((resolve) => setTimeout(resolve, 5))
    }
    await engine.crash()
    expect(atCrash).toBeLessThan(1000)
    await Promise.all(writers)
    const expected = await setup.checksum('counter')

    engine = await SimulatorEngine.start({ server, dataDir })
    const all = await engine.mark()
    const log = engine.pageLog
    const table = log.tablesIn(log.headView()).find((t) => t.name === 'counter')!
    expect(log.countRowsIn(table.id, log.headView())).toBe(1000)
    // Every transaction is one LSN: none lost, none doubled.
    const txns = log.txnsBetween(0, Number.MAX_SAFE_INTEGER).filter((txn) => txn.kind === 'dml')
    expect(txns.length).toBe(1000)
    expect(txns.every((txn) => txn.changes === 1)).toBe(true)
    const times = txns.map((txn) => txn.commitMicros)
    expect([...times].sort((a, b) => a - b)).toEqual(times)
    expect(new Set(times).size).toBe(times.length)

    // And the log is usable: rewind to the middle, then to the end.
    const middle = new Date(Math.floor(txns[299]!.commitMicros / 1000))
    const record = await engine.backtrack({ backtrackTo: middle })
    await engine.waitForBacktrack(record.BacktrackIdentifier)
    const rows = Number((await setup.query('SELECT count(*) AS n FROM counter'))[0]!.n)
    expect(rows).toBe(txns.filter((txn) => txn.commitMicros <= middle.getTime() * 1000).length)
    const back = await engine.backtrack({ backtrackTo: all })
    await engine.waitForBacktrack(back.BacktrackIdentifier)
    expect(await setup.checksum('counter')).toBe(expected)
    await setup.end()
    await engine.close()
  })

  it('reconnects when the server restarts, and captures what follows', async () => {
    const dataDir = join(dir.path, 'cluster-restart')
    const engine = await SimulatorEngine.start({ server, dataDir, database: 'restart' })
    const client = new SqlClient(server.connectionOptions('app', 'restart'))
    await client.query('CREATE TABLE r (id INT PRIMARY KEY)')
    await client.query('INSERT INTO r VALUES (1)')
    const beforeRestart = await engine.mark()
    await client.end()
    await server.stop()
    server = await startPrivateServer({ dataDir: join(dir.path, 'mysql'), port: server.port })
    await client.query('INSERT INTO r VALUES (2), (3)')
    const afterRestart = await engine.mark()
    let record = await engine.backtrack({ backtrackTo: beforeRestart })
    await engine.waitForBacktrack(record.BacktrackIdentifier)
    expect((await client.query('SELECT id FROM r ORDER BY id')).map((row) => row.id)).toEqual([1])
    record = await engine.backtrack({ backtrackTo: afterRestart })
    await engine.waitForBacktrack(record.BacktrackIdentifier)
    expect((await client.query('SELECT id FROM r ORDER BY id')).map((row) => row.id)).toEqual([1, 2, 3])
    await client.end()
    await engine.close()
  })

  it('drops a transaction that a crash left half-written at the end of a binlog file, and captures what follows', async () => {
    const dataDir = join(dir.path, 'cluster-torn')
    let engine = await SimulatorEngine.start({ server, dataDir, database: 'torn' })
    let client = new SqlClient(server.connectionOptions('app', 'torn'))
    await client.query('CREATE TABLE t (id INT PRIMARY KEY, v TEXT)')
    await client.query("INSERT INTO t VALUES (1, 'a')")
    await engine.mark()
    await engine.close()
    const admin = new SqlClient(server.connectionOptions('admin'))
    const position = async () => {
      const [row] = await admin.query('SHOW MASTER STATUS')
      return { file: String(row!.File), position: Number(row!.Position) }
    }
    // A transaction of two rows events (a row event holds 8 KB), then the file cut inside it: what a server that
    // crashed while writing it leaves behind. It restarts in the next file, without that transaction.
    const start = await position()
    await client.query("INSERT INTO t VALUES (2, REPEAT('b', 6000)), (3, REPEAT('c', 6000))")
    const end = await position()
    await client.end()
    await admin.end()
    await server.stop()
    truncateSync(join(server.dataDir!, start.file), start.position + Math.floor((end.position - start.position) * 0.6))
    server = await startPrivateServer({ dataDir: join(dir.path, 'mysql'), port: server.port })
    client = new SqlClient(server.connectionOptions('app', 'torn'))
    await client.query("INSERT INTO t VALUES (4, 'd')")

    engine = await SimulatorEngine.start({ server, dataDir })
    await engine.mark()
    const log = engine.pageLog
    const table = log.tablesIn(log.headView()).find((t) => t.name === 't')!
    // Rows 1 and 4; nothing of the transaction the file does not hold whole.
    expect(log.countRowsIn(table.id, log.headView())).toBe(2)
    const dml = log.txnsBetween(0, Number.MAX_SAFE_INTEGER).filter((txn) => txn.kind === 'dml')
    expect(dml.map((txn) => txn.changes)).toEqual([1, 1])
    await client.end()
    await engine.close()
  })

  it('finishes a backtrack that a crash interrupted while applying, before clients are let back', async () => {
    const dataDir = join(dir.path, 'cluster-mid-apply')
    let engine = await SimulatorEngine.start({ server, dataDir, database: 'midapply' })
    const client = new SqlClient(server.connectionOptions('app', 'midapply'))
    await client.query('CREATE TABLE big (id INT PRIMARY KEY, pad CHAR(200))')
    for (let chunk = 0; chunk < 20; chunk++) {
      const values = Array.from({ length: 5000 }, (_, i) => `(${chunk * 5000 + i}, REPEAT('x', 200))`)
      await client.query(`INSERT INTO big VALUES ${values.join(',')}`)
    }
    const expected = await client.checksum('big')
    const beforeDrop = await engine.mark()
    await client.query('DROP TABLE big')
    const record = await engine.backtrack({ backtrackTo: beforeDrop })
    for (;;) {
      const [current] = (await engine.describeBacktracks({ backtrackIdentifier: record.BacktrackIdentifier }))
        .backtracks
      if (current!.Status === 'applying') break
      await sleep(1)
    }
    await engine.crash()
    engine = await SimulatorEngine.start({ server, dataDir })
    const [finished] = (await engine.describeBacktracks({ backtrackIdentifier: record.BacktrackIdentifier })).backtracks
    expect(finished!.Status).toBe('completed')
    expect(await client.checksum('big')).toBe(expected)
    await client.end()
    await engine.close()
  })

  it('stops on an event it cannot record truthfully with a CaptureFault that names the setting', async () => {
    const engine = await SimulatorEngine.start({ server, dataDir: join(dir.path, 'cluster-fault'), database: 'fault' })
    const admin = new SqlClient(server.connectionOptions('admin'))
    const client = new SqlClient(server.connectionOptions('app', 'fault'))
    try {
      await client.query('CREATE TABLE p (id INT PRIMARY KEY, a INT, b INT)')
      await client.query('INSERT INTO p VALUES (1, 1, 1)')
      await engine.mark()
      await admin.query("SET GLOBAL binlog_row_image = 'MINIMAL'")
      const minimal = new SqlClient(server.connectionOptions('app', 'fault'))
      await minimal.query('UPDATE p SET a = 2 WHERE id = 1')
      await minimal.end()
      const error: unknown = await engine.mark().catch((caught: unknown) => caught)
      expect(BacktrackError.is(error, 'CaptureFault'), String(error)).toBe(true)
      expect((error as BacktrackError).message).toMatch(/set binlog_row_image=FULL/)
      expect(BinlogError.is((error as BacktrackError).cause, 'CaptureFault')).toBe(true)
    } finally {
      await admin.query("SET GLOBAL binlog_row_image = 'FULL'")
      await admin.end()
      await client.end()
      await engine.close()
    }
  })
})
