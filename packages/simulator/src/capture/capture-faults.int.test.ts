import { join } from 'node:path'
import Database from 'better-sqlite3'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { BacktrackError } from '@backtrack/core'
import { startPrivateServer, type StartedMysqlServer } from '@backtrack/mysql-server'
import { tempDir } from '@backtrack/mysql-server/testing'
import { SimulatorEngine } from '../simulator-engine.js'
import { SqlClient } from '../testing/sql-client.js'

// Faults that are not a lost connection: reconnecting cannot help, so the capture must stop at once and say why.
describe('capture faults that are not a lost connection', () => {
  const dir = tempDir('bt-capture-faults-')
  let server: StartedMysqlServer

  beforeAll(async () => {
    server = await startPrivateServer({ dataDir: join(dir.path, 'mysql') })
  })
  afterAll(async () => {
    await server?.stop()
    dir[Symbol.dispose]()
  })

  it('stops at once with a CaptureFault naming the cause when a page-log write fails (no reconnects), and resumes after a restart with nothing lost', async () => {
    const dataDir = join(dir.path, 'cluster-sqlite')
    const warnings: string[] = []
    const logger = { info: () => undefined, warn: (message: string) => void warnings.push(message) }
    let engine = await SimulatorEngine.start({ server, dataDir, database: 'plain', logger })
    const client = new SqlClient(server.connectionOptions('app', 'plain'))
    try {
      await client.query('CREATE TABLE t (id INT PRIMARY KEY)')
      await client.query('INSERT INTO t VALUES (1)')
      const before = await engine.mark()

      // Another connection to the page log makes every new row version fail with a SQLite error, as a corrupt file
      // or a read-only disk would: the capture's write fails, its connection to the server is fine.
      const sabotage = new Database(join(dataDir, 'page-log.sqlite'))
      sabotage.exec(
        "CREATE TRIGGER refuse BEFORE INSERT ON row_delta BEGIN SELECT RAISE(ABORT, 'row versions refused by the test'); END",
      )
      sabotage.close()
      await client.query('INSERT INTO t VALUES (2)')
      const error: unknown = await engine.mark().catch((caught: unknown) => caught)
      expect(BacktrackError.is(error, 'CaptureFault'), String(error)).toBe(true)
      expect((error as Error).message).toMatch(/page log .*could not be written: row versions refused by the test/)
      expect(warnings.filter((warning) => /reconnecting/.test(warning))).toEqual([])
      expect((await engine.describeCluster()).Status).toBe('failed')
      await engine.close()

      // Nothing half-written: once the cause is gone, a restart resumes where the last batch ended.
      const repair = new Database(join(dataDir, 'page-log.sqlite'))
      repair.exec('DROP TRIGGER refuse')
      expect(repair.pragma('integrity_check', { simple: true })).toBe('ok')
      repair.close()
      engine = await SimulatorEngine.start({ server, dataDir, logger })
      const after = await engine.mark()
      const report = await engine.verify()
      expect(report.tables.filter((table) => table.status !== 'same')).toEqual([])
      let record = await engine.backtrack({ backtrackTo: before })
      expect((await engine.waitForBacktrack(record.BacktrackIdentifier)).Status).toBe('completed')
      expect((await client.query('SELECT id FROM t ORDER BY id')).map((row) => row.id)).toEqual([1])
      record = await engine.backtrack({ backtrackTo: after })
      expect((await engine.waitForBacktrack(record.BacktrackIdentifier)).Status).toBe('completed')
      expect((await client.query('SELECT id FROM t ORDER BY id')).map((row) => row.id)).toEqual([1, 2])
      expect((await engine.verify()).ok).toBe(true)
      expect(warnings.filter((warning) => /reconnecting/.test(warning))).toEqual([])
    } finally {
      await client.end()
      await engine.close()
    }
  }, 60_000)
})
