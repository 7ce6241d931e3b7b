import { join } from 'node:path'
import Database from 'better-sqlite3'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startPrivateServer, type StartedMysqlServer } from '@backtrack/mysql-server'
import { tempDir } from '@backtrack/mysql-server/testing'
import { PageLog } from '../page-log/page-log.js'
import { SimulatorEngine } from '../simulator-engine.js'
import { SqlClient } from '../testing/sql-client.js'

/** Rows waiting in the page log's delta, as another connection to the file sees them (committed ones). */
function deltaRowsInFile(path: string): number {
  const db = new Database(path, { readonly: true })
  try {
    return db.prepare('SELECT count(*) FROM row_delta').pluck().get() as number
  } finally {
    db.close()
  }
}

// The capture appends row versions to the page log's delta and merges them later (PageLog): every reader must still
// read every captured row, and the merge must happen without anyone asking once the load stops.
describe('the page log delta under a real capture', () => {
  const dir = tempDir('bt-capture-delta-')
  let server: StartedMysqlServer
  let engine: SimulatorEngine
  let client: SqlClient

  beforeAll(async () => {
    server = await startPrivateServer({ dataDir: join(dir.path, 'mysql') })
    engine = await SimulatorEngine.start({ server, dataDir: join(dir.path, 'cluster'), database: 'delta' })
    client = new SqlClient(server.connectionOptions('app', 'delta'))
    await client.query('CREATE TABLE t (id INT PRIMARY KEY, v INT NOT NULL)')
  })
  afterAll(async () => {
    await client?.end()
    await engine?.close()
    await server?.stop()
    dir[Symbol.dispose]()
  })

  it('leaves a change in the delta, reads it through a reader of its own, and merges it once writes stop', async () => {
    await client.query(`INSERT INTO t VALUES ${Array.from({ length: 200 }, (_, i) => `(${i}, ${i})`).join(', ')}`)
    await engine.mark()
    const path = engine.pageLog.path
    expect(deltaRowsInFile(path)).toBe(200)

    // A reader (find, diff, the console) opened while the capture is idle merges what it needs and reads it all.
    const reader = new PageLog(path, { readonly: true })
    try {
      const [table] = reader.tablesIn(reader.headView()).filter((t) => t.name === 't')
      expect(reader.countRowsIn(table!.id, reader.headView())).toBe(200)
    } finally {
      reader.close()
    }
    expect(deltaRowsInFile(path)).toBe(0)

    await client.query('UPDATE t SET v = v + 1 WHERE id < 50')
    await engine.mark()
    expect(deltaRowsInFile(path)).toBe(50)
    const deadline = Date.now() + 10_000
    while (deltaRowsInFile(path) > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100))
    expect(deltaRowsInFile(path)).toBe(0)
  }, 60_000)

  it('backtracks exactly to a mark whose changes are still in the delta, and verify finds no drift', async () => {
    const before = await engine.mark()
    await client.query('UPDATE t SET v = -v')
    await client.query('DELETE FROM t WHERE id >= 150')
    await engine.mark()
    expect(deltaRowsInFile(engine.pageLog.path)).toBeGreaterThan(0)
    const record = await engine.backtrack({ backtrackTo: before })
    expect((await engine.waitForBacktrack(record.BacktrackIdentifier)).Status).toBe('completed')
    const rows = await client.query('SELECT count(*) AS n, sum(v) AS total FROM t')
    // ids 0..199 with v = id, ids 0..49 one more: 19,900 + 50.
    expect(rows.map((row) => [Number(row.n), Number(row.total)])).toEqual([[200, 19_950]])
    expect((await engine.verify()).ok).toBe(true)
  }, 60_000)
})
