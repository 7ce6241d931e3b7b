import { join } from 'node:path'
import { findServerBinaries, startPrivateServer, type StartedMysqlServer } from '@backtrack/mysql-server'
import { tempDir } from '@backtrack/mysql-server/testing'
import { createConnection } from 'mysql2/promise'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createRdsEngine, type RdsEngine } from './rds-engine.js'
import { startFakeAwsEndpoint, type FakeAwsEndpoint } from './test-support/fake-aws-endpoint.js'
import { clusterFields, describeClusters } from './test-support/fixtures.js'

// now()/mark() over real mysql2 against a real server: the cluster's Endpoint/Port come from DescribeDBClusters.
const binaries = await findServerBinaries()
const unavailable = 'rejected' in binaries ? `no local server binaries (${binaries.rejected.join('; ')})` : undefined

describe.skipIf(unavailable !== undefined)(
  `RdsEngine server clock over mysql2${unavailable ? ` (skipped: ${unavailable})` : ''}`,
  () => {
    const dir = tempDir('bt-server-clock-')
    let server: StartedMysqlServer
    let aws: FakeAwsEndpoint
    let engine: RdsEngine

    beforeAll(async () => {
      server = await startPrivateServer({ dataDir: join(dir.path, 'mysql') })
      aws = await startFakeAwsEndpoint()
      aws.on(
        'DescribeDBClusters',
        describeClusters(clusterFields({ Endpoint: server.host, Port: server.port, DatabaseName: undefined })),
      )
      engine = createRdsEngine({
        clusterIdentifier: 'labstack-cluster',
        client: aws.rdsClient(),
        sql: { user: server.admin.user, password: server.admin.password },
      })
    })

    afterAll(async () => {
      await engine?.close()
      await aws?.close()
      await server?.stop()
      dir[Symbol.dispose]()
    })

    it('reads UTC from the server, and mark() is at or after every commit before it', async () => {
      const connection = await createConnection(server.connectionOptions('admin'))
      try {
        await connection.query('CREATE DATABASE IF NOT EXISTS probe')
        await connection.query('CREATE TABLE probe.t (id INT PRIMARY KEY, at DATETIME(6))')
        await connection.query('INSERT INTO probe.t VALUES (1, UTC_TIMESTAMP(6))')
        const mark = await engine.mark()
        const [rows] = await connection.query("SELECT DATE_FORMAT(at, '%Y-%m-%dT%H:%i:%s.%fZ') AS at FROM probe.t")
        const committedAt = new Date((rows as { at: string }[])[0]?.at ?? '')
        expect(mark.getTime()).toBeGreaterThanOrEqual(committedAt.getTime())
        const now = await engine.now()
        expect(now.getTime()).toBeGreaterThanOrEqual(mark.getTime() - 1)
        expect(Math.abs(now.getTime() - Date.now())).toBeLessThan(5_000)
      } finally {
        await connection.end()
      }
    })

    it('reconnects after the server killed its connection, as Aurora does during a backtrack', async () => {
      await engine.now()
      const admin = await createConnection(server.connectionOptions('admin'))
      try {
        const [rows] = await admin.query(
          'SELECT ID AS id FROM information_schema.PROCESSLIST WHERE INFO IS NULL AND ID <> CONNECTION_ID() AND USER = ?',
          [server.admin.user],
        )
        for (const { id } of rows as { id: number }[]) await admin.query(`KILL ${id}`)
      } finally {
        await admin.end()
      }
      await expect(engine.mark()).resolves.toBeInstanceOf(Date)
    })
  },
)
