import { execFile, spawnSync } from 'node:child_process'
import mysql, { type Connection, type RowDataPacket } from 'mysql2/promise'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startPrivateServer, type StartedMysqlServer } from '@backtrack/mysql-server'
import { tempDir } from '@backtrack/mysql-server/testing'
import { READ_ONLY_ERROR } from './read-only-protocol.js'
import { SqlProxy } from './sql-proxy.js'

const hasMariadbClient = spawnSync('sh', ['-c', 'command -v mariadb']).status === 0

describe('SqlProxy with readOnly (a reader endpoint) over a real server', () => {
  const dir = tempDir('backtrack-reader-proxy-')
  let server: StartedMysqlServer
  let proxy: SqlProxy
  let writer: Connection
  let reader: Connection

  beforeAll(async () => {
    server = await startPrivateServer({ dataDir: dir.path })
    proxy = await SqlProxy.start({ target: { host: server.host, port: server.port }, readOnly: true })
    writer = await mysql.createConnection(server.connectionOptions('app'))
    await writer.query('CREATE DATABASE IF NOT EXISTS shop')
    await writer.query('CREATE TABLE IF NOT EXISTS shop.item (id INT PRIMARY KEY, name TEXT)')
    await writer.query('DELETE FROM shop.item')
    await writer.query("INSERT INTO shop.item VALUES (1, 'one'), (2, 'two')")
    reader = await mysql.createConnection({
      ...server.connectionOptions('app'),
      host: '127.0.0.1',
      port: proxy.address.port,
      multipleStatements: true,
    })
  }, 120_000)

  afterAll(async () => {
    await reader?.end().catch(() => undefined)
    await writer?.end().catch(() => undefined)
    await proxy?.close()
    await server?.stop()
    dir[Symbol.dispose]()
  })

  it('reads the same data as the writer', async () => {
    const [rows] = await reader.query<RowDataPacket[]>('SELECT id, name FROM shop.item ORDER BY id')
    expect(rows.map((row) => [row.id, row.name])).toEqual([
      [1, 'one'],
      [2, 'two'],
    ])
    await writer.query("INSERT INTO shop.item VALUES (3, 'three')")
    const [after] = await reader.query<RowDataPacket[]>('SELECT COUNT(*) AS n FROM shop.item')
    expect(Number(after[0]!.n)).toBe(3)
  })

  it.each([
    "INSERT INTO shop.item VALUES (9, 'nine')",
    'UPDATE shop.item SET name = NULL',
    'DELETE FROM shop.item',
    'DROP TABLE shop.item',
    'SELECT 1; DELETE FROM shop.item',
  ])('refuses %s with error 1290 and changes nothing', async (sql) => {
    await expect(reader.query(sql)).rejects.toMatchObject({
      errno: READ_ONLY_ERROR.code,
      sqlState: READ_ONLY_ERROR.sqlState,
      message: READ_ONLY_ERROR.message,
    })
    const [rows] = await writer.query<RowDataPacket[]>('SELECT COUNT(*) AS n, MIN(name) AS first FROM shop.item')
    expect(Number(rows[0]!.n)).toBe(3)
    expect(rows[0]!.first).toBe('one')
    // The session still works after the refusal.
    const [one] = await reader.query<RowDataPacket[]>('SELECT 1 AS one')
    expect(one[0]!.one).toBe(1)
  })

  it('refuses a prepared write and runs a prepared read', async () => {
    await expect(reader.execute('UPDATE shop.item SET name = ? WHERE id = 1', ['x'])).rejects.toMatchObject({
      errno: 1290,
    })
    const [rows] = await reader.execute<RowDataPacket[]>('SELECT name FROM shop.item WHERE id = ?', [2])
    expect(rows[0]!.name).toBe('two')
  })

  it('streams a large result through', async () => {
    const [rows] = await reader.query<RowDataPacket[]>(
      'SELECT REPEAT("x", 1000000) AS big FROM shop.seq_1_to_20', // MariaDB's sequence engine
    )
    expect(rows).toHaveLength(20)
    expect(String(rows[19]!.big).length).toBe(1_000_000)
  })

  const cliIt = hasMariadbClient ? it : it.skip
  cliIt(
    `answers the mariadb client as Aurora's reader does${hasMariadbClient ? '' : ' (skipped: no mariadb client)'}`,
    async () => {
      const { app } = server
      const run = (sql: string) =>
        new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
          execFile(
            'mariadb',
            ['-h127.0.0.1', `-P${proxy.address.port}`, `-u${app.user}`, `-p${app.password}`, '-N', '-e', sql],
            (error, stdout, stderr) => resolve({ code: error === null ? 0 : Number(error.code), stdout, stderr }),
          )
        })
      const read = await run('SELECT COUNT(*) FROM shop.item')
      expect(read).toMatchObject({ code: 0, stdout: '3\n' })
      const write = await run("INSERT INTO shop.item VALUES (10, 'ten')")
      expect(write.code).toBe(1)
      expect(write.stderr).toContain(`ERROR 1290 (HY000)`)
      expect(write.stderr).toContain(READ_ONLY_ERROR.message)
    },
  )
})
