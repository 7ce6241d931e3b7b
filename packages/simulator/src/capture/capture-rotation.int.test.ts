import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startPrivateServer, type StartedMysqlServer } from '@backtrack/mysql-server'
import { SimulatorEngine } from '../simulator-engine.js'
import { SqlClient } from '../testing/sql-client.js'
import { tempDir } from '@backtrack/mysql-server/testing'

/** Fails with `what` when `promise` takes longer than `ms` (the defect was a 60 s wait, then a CaptureFault). */
async function within<T>(ms: number, what: string, promise: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} took longer than ${ms} ms`)), ms)
  })
  try {
    return await Promise.race([promise, timeout])
  } finally {
    clearTimeout(timer)
  }
}

describe('capture across a new binlog file', () => {
  const dir = tempDir('bt-rotation-')
  let server: StartedMysqlServer
  let engine: SimulatorEngine
  let sql: SqlClient
  let admin: SqlClient

  beforeAll(async () => {
    server = await startPrivateServer({ dataDir: join(dir.path, 'mysql') })
    engine = await SimulatorEngine.start({ server, dataDir: join(dir.path, 'cluster'), database: 'rot' })
    sql = new SqlClient(server.connectionOptions('app', 'rot'))
    admin = new SqlClient(server.connectionOptions('admin'))
    await sql.query('CREATE TABLE t (id INT PRIMARY KEY, k INT NOT NULL, c CHAR(60) NOT NULL)')
  })
  afterAll(async () => {
    await sql?.end()
    await admin?.end()
    await engine?.close()
    await server?.stop()
    dir[Symbol.dispose]()
  })

  const rewind = async (to: Date) => {
    const record = await engine.backtrack({ backtrackTo: to })
    return (await engine.waitForBacktrack(record.BacktrackIdentifier)).Status
  }

  it('marks at once after FLUSH BINARY LOGS with no write after it, and a backtrack then completes', async () => {
    await sql.query('INSERT INTO t VALUES (1, 1, "a")')
    const before = await engine.mark()
    await sql.query('INSERT INTO t VALUES (2, 2, "b")')
    const after = await within(5_000, 'mark() before the flush', engine.mark())
    await admin.query('FLUSH BINARY LOGS')
    await within(5_000, 'mark() right after FLUSH BINARY LOGS', engine.mark())
    expect(await within(10_000, 'a backtrack right after FLUSH BINARY LOGS', rewind(before))).toBe('completed')
    expect((await sql.query('SELECT id FROM t ORDER BY id')).map((row) => row.id)).toEqual([1])
    expect(await rewind(after)).toBe('completed')
    expect((await sql.query('SELECT id FROM t ORDER BY id')).map((row) => row.id)).toEqual([1, 2])
  })

  it('marks at once after the server restarts on the same data dir (a new binlog file), with no write since', async () => {
    const before = await engine.mark()
    await sql.end()
    await admin.end()
    const port = server.port
    await server.stop()
    server = await startPrivateServer({ dataDir: join(dir.path, 'mysql'), port })
    await within(10_000, 'mark() after a restart', engine.mark())
    await sql.query('DELETE FROM t')
    await within(10_000, 'mark() after a restart and a write', engine.mark())
    expect(await rewind(before)).toBe('completed')
    expect((await sql.query('SELECT id FROM t ORDER BY id')).map((row) => row.id)).toEqual([1, 2])
  })

  it('undoes an UPDATE without WHERE that the server rotated the binlog right after', async () => {
    const rows = 20_000
    for (let chunk = 0; chunk < rows / 2000; chunk++) {
      const values = Array.from({ length: 2000 }, (_, i) => {
        const id = 100 + chunk * 2000 + i
        return `(${id}, ${id % 97}, 'c-${id}')`
      })
      await sql.query(`INSERT INTO t VALUES ${values.join(',')}`)
    }
    const before = await engine.mark()
    const expected = await sql.checksum('t')
    // The smallest binlog file size the server allows: the big transaction is followed at once by a ROTATE.
    await admin.query('SET GLOBAL max_binlog_size = 4096')
    try {
      const fileBefore = String((await admin.query('SHOW MASTER STATUS'))[0]!.File)
      await sql.query("UPDATE t SET k = k + 1, c = CONCAT('u-', id)")
      const fileAfter = String((await admin.query('SHOW MASTER STATUS'))[0]!.File)
      expect(fileAfter).not.toBe(fileBefore)
      await within(30_000, 'mark() after the UPDATE and the rotation', engine.mark())
      expect(await within(60_000, 'the undo of the UPDATE', rewind(before))).toBe('completed')
      expect(await sql.checksum('t')).toBe(expected)
    } finally {
      await admin.query('SET GLOBAL max_binlog_size = 268435456')
    }
  })
})
