import { createServer } from 'node:net'
import mysql, { type RowDataPacket } from 'mysql2/promise'
import { describe, expect, it } from 'vitest'
import { tempDir } from '@backtrack/mysql-server/testing'
import { startLocalCluster } from './local-cluster.js'

function freePort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen({ host, port: 0 }, () => {
      const address = server.address()
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error())))
    })
  })
}

// DECISIONS §1: no proxy in the data path. `up --host 127.0.0.2 --sql-port 3306` makes mariadbd itself listen there,
// so the lab's `--mysql-port=3306` runs beside a system server on 127.0.0.1:3306 (a free port stands in for 3306).
describe('the SQL endpoint is the server itself', () => {
  it('listens on the cluster host and SQL port, and a resumed cluster keeps them', async () => {
    using dir = tempDir('bt-sql-endpoint-')
    const port = await freePort('127.0.0.2')
    {
      await using cluster = await startLocalCluster({ dataDir: dir.path, host: '127.0.0.2', sqlPort: port })
      const { sql } = cluster.info()
      expect(sql).toMatchObject({ host: '127.0.0.2', port })
      expect(await cluster.node.describeCluster()).toMatchObject({ Endpoint: '127.0.0.2', Port: port })
      const conn = await mysql.createConnection(sql)
      try {
        const [[row]] = await conn.query<RowDataPacket[]>('SELECT @@bind_address AS bind, @@port AS port')
        expect(row).toMatchObject({ bind: '127.0.0.2', port })
      } finally {
        await conn.end()
      }
    }
    await using resumed = await startLocalCluster({ dataDir: dir.path })
    expect(resumed.info().sql).toMatchObject({ host: '127.0.0.2', port })
  })

  it('refuses an SQL port that is taken, naming --sql-port', async () => {
    using dir = tempDir('bt-sql-endpoint-')
    const taken = createServer()
    await new Promise<void>((resolve) => taken.listen({ host: '127.0.0.1', port: 0 }, resolve))
    const address = taken.address()
    const port = typeof address === 'object' && address !== null ? address.port : 0
    try {
      await expect(startLocalCluster({ dataDir: dir.path, sqlPort: port })).rejects.toThrow(
        new RegExp(`SQL port ${port} on 127.0.0.1 is already in use: choose another --sql-port`),
      )
    } finally {
      taken.close()
    }
  })
})
