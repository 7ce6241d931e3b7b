import { createConnection } from 'mysql2/promise'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createRdsEngine, type RdsEngine } from './rds-engine.js'
import { startFakeAwsEndpoint, type FakeAwsEndpoint } from './test-support/fake-aws-endpoint.js'
import { clusterFields, describeClusters } from './test-support/fixtures.js'
import { privateServerUnavailable, startPrivateMariadb, type PrivateServer } from './test-support/private-mariadb.js'

// now()/mark() over real mysql2 against a real server: the cluster's Endpoint/Port come from DescribeDBClusters.
const unavailable = await privateServerUnavailable()

describe.skipIf(unavailable !== undefined)(
  `RdsEngine server clock over mysql2${unavailable ? ` (skipped: ${unavailable})` : ''}`,
  () => {
    let server: PrivateServer
    let aws: FakeAwsEndpoint
    let engine: RdsEngine

    beforeAll(async () => {
      server = await startPrivateMariadb()
      aws = await startFakeAwsEndpoint()
      aws.on(
        'DescribeDBClusters',
        describeClusters(clusterFields({ Endpoint: server.host, Port: server.port, DatabaseName: undefined })),
      )
      engine = createRdsEngine({
        clusterIdentifier: 'labstack-cluster',
        client: aws.rdsClient(),
        sql: { user: server.user, password: server.password },
      })
    })

    afterAll(async () => {
      await engine?.close()
      await aws?.close()
      await server?.stop()
    })

    it('reads UTC from the server, and mark() is at or after every commit before it', async () => {
      const connection = await createConnection(server)
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
      const admin = await createConnection(server)
      try {
        const [rows] = await admin.query(
          "SELECT ID AS id FROM information_schema.PROCESSLIST WHERE INFO IS NULL AND ID <> CONNECTION_ID() AND USER = 'root'",
        )
        for (const { id } of rows as { id: number }[]) await admin.query(`KILL ${id}`)
      } finally {
        await admin.end()
      }
      await expect(engine.mark()).resolves.toBeInstanceOf(Date)
    })
  },
)
