import { existsSync } from 'node:fs'
import { BacktrackDBClusterCommand, DescribeDBClustersCommand, RDSClient } from '@aws-sdk/client-rds'
import mysql, { type Pool, type RowDataPacket } from 'mysql2/promise'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startLocalCluster, type StartedLocalCluster } from './local-cluster.js'

// What a team's test suite does: one cluster, the application's pool, a mark after seeding, a rewind after each test.
describe.sequential('startLocalCluster() for a test suite', () => {
  let cluster: StartedLocalCluster
  let pool: Pool
  let seeded: Date

  const count = async (table: string) =>
    Number((await pool.query<RowDataPacket[]>(`SELECT COUNT(*) AS n FROM ${table}`))[0][0]!.n)
  const threadIds = async () => {
    // Every connection of the pool, checked out at once, so each one's id is seen.
    const connections = await Promise.all([pool.getConnection(), pool.getConnection(), pool.getConnection()])
    const ids = await Promise.all(
      connections.map(async (c) => Number((await c.query<RowDataPacket[]>('SELECT CONNECTION_ID() AS id'))[0][0]!.id)),
    )
    for (const connection of connections) connection.release()
    return ids.sort((a, b) => a - b)
  }

  beforeAll(async () => {
    cluster = await startLocalCluster()
    pool = mysql.createPool({ ...cluster.info().sql, connectionLimit: 3 })
    await pool.query('CREATE TABLE accounts (id INT PRIMARY KEY, balance INT NOT NULL)')
    await pool.query('INSERT INTO accounts SELECT seq, 100 FROM seq_1_to_50')
    seeded = await cluster.mark()
  })

  afterAll(async () => {
    await pool?.end()
    await cluster?.stop()
  })

  it('info() says how to reach the cluster: SQL as the application account, the RDS endpoint', () => {
    const info = cluster.info()
    expect(info.sql).toMatchObject({ host: '127.0.0.1', user: 'admin', database: 'mylab' })
    expect(info.sql.port).toBeGreaterThan(0)
    expect(info.sql.password).not.toBe('')
    expect(info.rdsEndpoint).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/)
    expect(existsSync(info.dataDir)).toBe(true)
  })

  it('rewind(mark) restores the data and keeps the pool: the same idle connections work after it', async () => {
    const before = await threadIds()
    await pool.query('UPDATE accounts SET balance = 0 WHERE id <= 10')
    await pool.query('DELETE FROM accounts WHERE id > 40')
    await pool.query('CREATE TABLE audit (id INT PRIMARY KEY)')
    const record = await cluster.rewind(seeded)
    expect(record).toMatchObject({ Status: 'completed', BacktrackTo: seeded, DBClusterIdentifier: 'labstack-cluster' })
    expect(await count('accounts')).toBe(50)
    const [[sum]] = await pool.query<RowDataPacket[]>('SELECT SUM(balance) AS total FROM accounts')
    expect(Number(sum!.total)).toBe(5000)
    const [tables] = await pool.query<RowDataPacket[]>("SHOW TABLES LIKE 'audit'")
    expect(tables).toHaveLength(0)
    expect(await threadIds()).toEqual(before)
    // And it writes again at once (read_only is off).
    await pool.query('INSERT INTO accounts VALUES (51, 1)')
    await cluster.rewind(seeded)
    expect(await count('accounts')).toBe(50)
  })

  it('a connection inside an open transaction is closed: its next query fails, the pool replaces it', async () => {
    const inTransaction = await pool.getConnection()
    await inTransaction.query('BEGIN')
    await inTransaction.query('UPDATE accounts SET balance = balance - 1 WHERE id = 1')
    await cluster.rewind(seeded)
    await expect(inTransaction.query('COMMIT')).rejects.toThrow(/Connection lost|closed/i)
    inTransaction.release()
    const [[row]] = await pool.query<RowDataPacket[]>('SELECT balance FROM accounts WHERE id = 1')
    expect(row!.balance).toBe(100)
  })

  it('BacktrackDBCluster keeps Aurora: every connection is closed and logins are refused until available', async () => {
    const idle = await mysql.createConnection(cluster.info().sql)
    await idle.query('SELECT 1')
    const rds = new RDSClient({
      endpoint: cluster.info().rdsEndpoint,
      region: 'us-east-1',
      credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
    })
    try {
      const before = await cluster.mark()
      await cluster.engine.capture.catchUp()
      const started = await rds.send(
        new BacktrackDBClusterCommand({ DBClusterIdentifier: 'labstack-cluster', BacktrackTo: before }),
      )
      const refusals = new Set<string>()
      for (;;) {
        const status = (await rds.send(new DescribeDBClustersCommand({ DBClusterIdentifier: 'labstack-cluster' })))
          .DBClusters![0]!.Status
        if (status === 'available') break
        await mysql.createConnection(cluster.info().sql).then(
          (connection) => connection.end(),
          (error: Error) => refusals.add(error.message),
        )
      }
      await cluster.engine.waitForBacktrack(started.BacktrackIdentifier!)
      // Refusals are seen only when a login lands inside the (short) lockout: refused with the reason, or (made just
      // before the lock) closed with every other connection. client-sessions.int.test.ts checks the lock itself.
      for (const message of refusals) expect(message).toMatch(/this account is locked|Connection lost/)
      await expect(idle.query('SELECT 1')).rejects.toThrow(/Connection lost|closed/i)
      // Unlocked again: a new login works.
      const fresh = await mysql.createConnection(cluster.info().sql)
      await fresh.end()
    } finally {
      idle.destroy()
      rds.destroy()
    }
  })

  it('stop() of a cluster started without a data dir removes its temporary directory', async () => {
    const own = await startLocalCluster()
    const dir = own.info().dataDir
    await own.stop()
    expect(existsSync(dir)).toBe(false)
  })
})
