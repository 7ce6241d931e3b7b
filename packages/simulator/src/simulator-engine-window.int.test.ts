import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { BacktrackError } from '@backtrack/core'
import { startPrivateServer, type StartedMysqlServer } from '@backtrack/mysql-server'
import { SimulatorEngine } from './simulator-engine.js'
import { SqlClient } from './testing/sql-client.js'
import { tempDir } from '@backtrack/mysql-server/testing'

describe('SimulatorEngine: backtrack window and binlog purging', () => {
  const dir = tempDir('bt-window-')
  let server: StartedMysqlServer
  let engine: SimulatorEngine
  let sql: SqlClient

  beforeAll(async () => {
    server = await startPrivateServer({ dataDir: join(dir.path, 'mysql') })
    engine = await SimulatorEngine.start({
      server,
      dataDir: join(dir.path, 'cluster'),
      database: 'w',
      backtrackWindow: 3600,
    })
    sql = new SqlClient(server.connectionOptions('app', 'w'))
  })
  afterAll(async () => {
    await sql?.end()
    await engine?.close()
    await server?.stop()
    dir[Symbol.dispose]()
  })

  it('prunes history older than the window, moves EarliestBacktrackTime, and keeps the state inside the window', async () => {
    await sql.query('CREATE TABLE t (id INT PRIMARY KEY, v INT)')
    const veryOld = await engine.mark()
    for (let i = 1; i <= 20; i++)
      await sql.query('INSERT INTO t VALUES (?, ?) ON DUPLICATE KEY UPDATE v = v + 1', [i % 5, i])
    await engine.mark()
    const recordsBefore = (await engine.describeCluster()).BacktrackConsumedChangeRecords
    await sleep(1_500)
    for (let i = 1; i <= 5; i++) await sql.query('UPDATE t SET v = v * 2 WHERE id = ?', [i % 5])
    const inside = await engine.mark()
    const stateInside = await sql.checksum('t')

    const cluster = await engine.modifyBacktrackWindow(1)
    expect(cluster.BacktrackWindow).toBe(1)
    // The newest transaction before the window's start stays as the base, so the earliest time may precede it.
    expect(cluster.EarliestBacktrackTime!.getTime()).toBeGreaterThan(veryOld.getTime())
    expect(cluster.EarliestBacktrackTime!.getTime()).toBeLessThanOrEqual(inside.getTime())
    expect(cluster.BacktrackConsumedChangeRecords).toBeLessThan(recordsBefore + 5)

    await expect(engine.backtrack({ backtrackTo: veryOld })).rejects.toSatisfy(
      (error) => BacktrackError.is(error, 'InvalidParameterValue') && /earliest backtrack time/.test(error.message),
    )
    await sql.query('DELETE FROM t')
    const record = await engine.backtrack({ backtrackTo: inside })
    await engine.waitForBacktrack(record.BacktrackIdentifier)
    expect(await sql.checksum('t')).toBe(stateInside)
    const earliest = await engine.backtrack({ backtrackTo: veryOld, useEarliestTimeOnPointInTimeUnavailable: true })
    expect(earliest.BacktrackTo.getTime()).toBe(cluster.EarliestBacktrackTime!.getTime())
    expect((await engine.waitForBacktrack(earliest.BacktrackIdentifier)).Status).toBe('completed')
  })

  it('refuses to re-enable a disabled window, and backtracks no more once disabled', async () => {
    await engine.modifyBacktrackWindow(0)
    await expect(engine.modifyBacktrackWindow(60)).rejects.toSatisfy((error) =>
      BacktrackError.is(error, 'InvalidDBClusterStateFault'),
    )
    await expect(engine.backtrack({ backtrackTo: await engine.mark() })).rejects.toSatisfy((error) =>
      BacktrackError.is(error, 'InvalidDBClusterStateFault'),
    )
    expect((await engine.describeCluster()).EarliestBacktrackTime).toBeUndefined()
  })

  it('purges binlog files the capture has read', async () => {
    const admin = new SqlClient(server.connectionOptions('admin'))
    for (let i = 0; i < 4; i++) {
      await sql.query('INSERT INTO t VALUES (?, 0)', [100 + i])
      await admin.query('FLUSH BINARY LOGS')
    }
    await sql.query('INSERT INTO t VALUES (200, 0)')
    await engine.mark()
    let files = 99
    for (let i = 0; i < 50 && files > 2; i++) {
      await sql.query('INSERT INTO t VALUES (?, 0) ON DUPLICATE KEY UPDATE v = v + 1', [300])
      await engine.mark()
      files = (await admin.query('SHOW BINARY LOGS')).length
      await sleep(100)
    }
    expect(files).toBeLessThanOrEqual(2)
    await admin.end()
  })
})

describe('SimulatorEngine: the window moves past backtracks (rebase)', () => {
  const dir = tempDir('bt-rebase-')
  let server: StartedMysqlServer
  let engine: SimulatorEngine
  let sql: SqlClient

  beforeAll(async () => {
    server = await startPrivateServer({ dataDir: join(dir.path, 'mysql') })
    engine = await SimulatorEngine.start({
      server,
      dataDir: join(dir.path, 'cluster'),
      database: 'w',
      backtrackWindow: 3600,
    })
    sql = new SqlClient(server.connectionOptions('app', 'w'))
  })
  afterAll(async () => {
    await sql?.end()
    await engine?.close()
    await server?.stop()
    dir[Symbol.dispose]()
  })

  it('moves EarliestBacktrackTime past backtracks and their targets, and every state inside the window stays exact', async () => {
    await sql.query('CREATE TABLE seq (id INT PRIMARY KEY)')
    const ids = async () => (await sql.query('SELECT id FROM seq ORDER BY id')).map((row) => Number(row.id))
    const marks: { at: Date; ids: number[] }[] = []
    const remember = async () => {
      marks.push({ at: await engine.mark(), ids: await ids() })
      return marks.at(-1)!
    }
    const add = async (id: number) => {
      await sql.query('INSERT INTO seq VALUES (?)', [id])
      return remember()
    }
    const rewind = async (to: Date) => {
      const record = await engine.backtrack({ backtrackTo: to })
      expect((await engine.waitForBacktrack(record.BacktrackIdentifier)).Status).toBe('completed')
    }
    for (let id = 1; id <= 5; id++) await add(id)
    await rewind(marks[2]!.at) // {1,2,3}
    await remember()
    for (let id = 6; id <= 8; id++) await add(id)
    const afterEight = marks.at(-1)!
    await rewind(marks[4]!.at) // {1..5}: reads through nothing, undoes the first backtrack
    await remember()
    await add(9)
    const last = await add(10)
    await sleep(3_000)
    const next = await add(11)
    await add(12)
    const seven = marks.find((mark) => mark.ids.join() === '1,2,3,6,7')!
    await rewind(seven.at) // {1,2,3,6,7}: its target lies before the coming edge, the backtrack after it
    await remember()
    await add(13)
    expect(marks.at(-1)!.ids).toEqual([1, 2, 3, 6, 7, 13])

    // A window whose edge lies in the 3 s gap: before it two backtracks and every target, after it the third.
    const middle = (last.at.getTime() + next.at.getTime()) / 2
    const cluster = await engine.modifyBacktrackWindow(Math.round((Date.now() - middle) / 1000))
    await engine.modifyBacktrackWindow(3600) // no further pruning while the states are checked
    const earliest = cluster.EarliestBacktrackTime!.getTime()
    expect(earliest).toBeGreaterThan(afterEight.at.getTime())
    expect(earliest).toBeGreaterThan(seven.at.getTime())
    expect(earliest).toBeLessThanOrEqual(last.at.getTime())
    await expect(engine.backtrack({ backtrackTo: seven.at })).rejects.toSatisfy((error) =>
      BacktrackError.is(error, 'InvalidParameterValue'),
    )

    // Every moment inside the window, back and forth, is what the cluster held then.
    const inside = marks.filter((mark) => mark.at.getTime() > earliest)
    expect(inside.length).toBeGreaterThanOrEqual(5)
    for (const mark of [...inside].reverse().concat(inside)) {
      await rewind(mark.at)
      expect(await ids(), `at ${mark.at.toISOString()}`).toEqual(mark.ids)
    }
    expect((await engine.verify()).ok).toBe(true)
  })
})
