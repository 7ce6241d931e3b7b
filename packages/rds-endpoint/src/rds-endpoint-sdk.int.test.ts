import type { AddressInfo } from 'node:net'
import {
  BacktrackDBClusterCommand,
  CreateDBClusterCommand,
  DBClusterBacktrackNotFoundFault,
  DBClusterNotFoundFault,
  DeleteDBClusterCommand,
  DescribeDBClusterBacktracksCommand,
  DescribeDBClustersCommand,
  DescribeEventsCommand,
  InvalidDBClusterStateFault,
  ModifyDBClusterCommand,
  paginateDescribeDBClusterBacktracks,
  RDSClient,
  RDSServiceException,
} from '@aws-sdk/client-rds'
import type { FastifyInstance } from 'fastify'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { FakeEngine } from '@backtrack/core/testing'
import { FakeClusterRegistry } from './test-support/fake-cluster-registry.js'
import { buildRdsEndpoint } from './rds-endpoint.js'

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/

async function listen(app: FastifyInstance): Promise<string> {
  await app.listen({ host: '127.0.0.1', port: 0 })
  return `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`
}

function client(endpoint: string, secretAccessKey = 'test', accessKeyId = 'test'): RDSClient {
  return new RDSClient({ endpoint, region: 'us-east-1', credentials: { accessKeyId, secretAccessKey }, maxAttempts: 1 })
}

describe('RDS endpoint with the real @aws-sdk/client-rds', () => {
  let registry: FakeClusterRegistry
  let cluster: FakeEngine
  let app: FastifyInstance
  let rds: RDSClient

  beforeAll(async () => {
    registry = new FakeClusterRegistry()
    cluster = registry.add({ identifier: 'labstack-cluster', createdAt: new Date(Date.now() - 3_600_000) })
    app = buildRdsEndpoint({ registry })
    rds = client(await listen(app))
  })

  afterAll(async () => {
    rds.destroy()
    await app.close()
  })

  it('describes the cluster with Dates, numbers and the request id', async () => {
    cluster.recordChanges(1234)
    const output = await rds.send(new DescribeDBClustersCommand({ DBClusterIdentifier: 'labstack-cluster' }))
    expect(output.$metadata.httpStatusCode).toBe(200)
    expect(output.$metadata.requestId).toMatch(UUID)
    const [described] = output.DBClusters ?? []
    expect(described).toMatchObject({
      DBClusterIdentifier: 'labstack-cluster',
      DBClusterArn: 'arn:aws:rds:us-east-1:000000000000:cluster:labstack-cluster',
      Status: 'available',
      Engine: 'aurora-mysql',
      EngineMode: 'provisioned',
      Port: 3306,
      BacktrackWindow: 86_400,
      BacktrackConsumedChangeRecords: 1234,
      MultiAZ: false,
      StorageEncrypted: false,
      DBClusterMembers: [expect.objectContaining({ IsClusterWriter: true })],
    })
    expect(described?.EarliestBacktrackTime).toBeInstanceOf(Date)
    expect(described?.ClusterCreateTime).toBeInstanceOf(Date)
  })

  it('backtracks, shows the record in every phase, and refuses a second one while it runs', async () => {
    const backtrackTo = new Date(Date.now() - 60_000)
    const started = await rds.send(
      new BacktrackDBClusterCommand({ DBClusterIdentifier: 'labstack-cluster', BacktrackTo: backtrackTo, Force: true }),
    )
    expect(started.$metadata.requestId).toMatch(UUID)
    expect(started.BacktrackIdentifier).toMatch(UUID)
    expect(started.Status).toBe('PENDING')
    expect(started.BacktrackTo?.getTime()).toBe(backtrackTo.getTime())
    expect(started.BacktrackRequestCreationTime).toBeInstanceOf(Date)
    expect(started.BacktrackedFrom).toBeUndefined()

    const clusters = await rds.send(new DescribeDBClustersCommand({ DBClusterIdentifier: 'labstack-cluster' }))
    expect(clusters.DBClusters?.[0]?.Status).toBe('backtracking')

    const again = rds.send(
      new BacktrackDBClusterCommand({ DBClusterIdentifier: 'labstack-cluster', BacktrackTo: backtrackTo }),
    )
    await expect(again).rejects.toBeInstanceOf(InvalidDBClusterStateFault)
    await expect(again).rejects.toMatchObject({ $fault: 'client', $metadata: { httpStatusCode: 400 } })

    cluster.completeAll()
    const described = await rds.send(
      new DescribeDBClusterBacktracksCommand({
        DBClusterIdentifier: 'labstack-cluster',
        BacktrackIdentifier: started.BacktrackIdentifier,
      }),
    )
    expect(described.DBClusterBacktracks).toHaveLength(1)
    expect(described.DBClusterBacktracks?.[0]).toMatchObject({ Status: 'COMPLETED' })
    expect(described.DBClusterBacktracks?.[0]?.BacktrackedFrom).toBeInstanceOf(Date)
  })

  it('pages with paginateDescribeDBClusterBacktracks and filters by status', async () => {
    for (let i = 0; i < 44; i++) {
      await rds.send(
        new BacktrackDBClusterCommand({
          DBClusterIdentifier: 'labstack-cluster',
          BacktrackTo: new Date(Date.now() - 30_000),
        }),
      )
      cluster.completeAll()
    }
    const pages: number[] = []
    const ids = new Set<string>()
    for await (const page of paginateDescribeDBClusterBacktracks(
      { client: rds, pageSize: 20 },
      { DBClusterIdentifier: 'labstack-cluster' },
    )) {
      pages.push(page.DBClusterBacktracks?.length ?? 0)
      for (const record of page.DBClusterBacktracks ?? []) ids.add(record.BacktrackIdentifier ?? '')
    }
    expect(pages).toEqual([20, 20, 5])
    expect(ids.size).toBe(45)

    const completed = await rds.send(
      new DescribeDBClusterBacktracksCommand({
        DBClusterIdentifier: 'labstack-cluster',
        Filters: [{ Name: 'db-cluster-backtrack-status', Values: ['completed'] }],
      }),
    )
    expect(completed.DBClusterBacktracks).toHaveLength(45)
    const pending = await rds.send(
      new DescribeDBClusterBacktracksCommand({
        DBClusterIdentifier: 'labstack-cluster',
        Filters: [{ Name: 'db-cluster-backtrack-status', Values: ['PENDING'] }],
      }),
    )
    expect(pending.DBClusterBacktracks).toEqual([])
  })

  it('raises the typed not-found faults', async () => {
    const missingCluster = rds.send(new DescribeDBClustersCommand({ DBClusterIdentifier: 'no-such-cluster' }))
    await expect(missingCluster).rejects.toBeInstanceOf(DBClusterNotFoundFault)
    await expect(missingCluster).rejects.toMatchObject({
      name: 'DBClusterNotFoundFault',
      message: 'DBCluster no-such-cluster not found.',
      $metadata: { httpStatusCode: 404, requestId: expect.stringMatching(UUID) },
    })
    const missingBacktrack = rds.send(
      new DescribeDBClusterBacktracksCommand({
        DBClusterIdentifier: 'labstack-cluster',
        BacktrackIdentifier: '2f5f5294-0dd2-44c9-9f50-0123456789ab',
      }),
    )
    await expect(missingBacktrack).rejects.toBeInstanceOf(DBClusterBacktrackNotFoundFault)
  })

  it('raises unmodelled codes as RDSServiceException named after the code', async () => {
    const future = rds.send(
      new BacktrackDBClusterCommand({
        DBClusterIdentifier: 'labstack-cluster',
        BacktrackTo: new Date(Date.now() + 3_600_000),
      }),
    )
    await expect(future).rejects.toBeInstanceOf(RDSServiceException)
    await expect(future).rejects.toMatchObject({ name: 'InvalidParameterValue', $metadata: { httpStatusCode: 400 } })
  })

  it('creates, modifies and deletes a cluster and lists its events', async () => {
    const created = await rds.send(
      new CreateDBClusterCommand({
        DBClusterIdentifier: 'sdk-cluster',
        Engine: 'aurora-mysql',
        BacktrackWindow: 7200,
        MasterUsername: 'admin',
        MasterUserPassword: 'secret123',
      }),
    )
    expect(created.DBCluster).toMatchObject({ DBClusterIdentifier: 'sdk-cluster', BacktrackWindow: 7200 })
    const modified = await rds.send(
      new ModifyDBClusterCommand({ DBClusterIdentifier: 'sdk-cluster', BacktrackWindow: 3600, ApplyImmediately: true }),
    )
    expect(modified.DBCluster?.BacktrackWindow).toBe(3600)
    const events = await rds.send(
      new DescribeEventsCommand({ SourceType: 'db-cluster', SourceIdentifier: 'sdk-cluster', Duration: 60 }),
    )
    expect(events.Events?.map((event) => event.Message)).toEqual(['DB cluster created.'])
    expect(events.Events?.[0]?.Date).toBeInstanceOf(Date)
    expect(events.Events?.[0]?.EventCategories).toEqual(['creation'])
    const deleted = await rds.send(
      new DeleteDBClusterCommand({ DBClusterIdentifier: 'sdk-cluster', SkipFinalSnapshot: true }),
    )
    expect(deleted.DBCluster?.Status).toBe('deleting')
    await expect(
      rds.send(new DescribeDBClustersCommand({ DBClusterIdentifier: 'sdk-cluster' })),
    ).rejects.toBeInstanceOf(DBClusterNotFoundFault)
  })
})

describe('RDS endpoint with verifySignatures and the real SDK signer', () => {
  let app: FastifyInstance
  let endpoint: string

  beforeAll(async () => {
    const registry = new FakeClusterRegistry()
    registry.add({ identifier: 'labstack-cluster' })
    app = buildRdsEndpoint({
      registry,
      verifySignatures: { credentials: [{ accessKeyId: 'AKIDLOCAL', secretAccessKey: 'local-secret' }] },
    })
    endpoint = await listen(app)
  })

  afterAll(async () => {
    await app.close()
  })

  it('accepts the right key', async () => {
    const rds = client(endpoint, 'local-secret', 'AKIDLOCAL')
    const output = await rds.send(new DescribeDBClustersCommand({}))
    expect(output.DBClusters?.map((cluster) => cluster.DBClusterIdentifier)).toEqual(['labstack-cluster'])
    rds.destroy()
  })

  it('answers a wrong secret with SignatureDoesNotMatch and an unknown key with InvalidClientTokenId', async () => {
    const wrongSecret = client(endpoint, 'not-the-secret', 'AKIDLOCAL')
    await expect(wrongSecret.send(new DescribeDBClustersCommand({}))).rejects.toMatchObject({
      name: 'SignatureDoesNotMatch',
      $metadata: { httpStatusCode: 403 },
    })
    wrongSecret.destroy()
    const unknownKey = client(endpoint, 'local-secret', 'AKIDOTHER')
    await expect(unknownKey.send(new DescribeDBClustersCommand({}))).rejects.toMatchObject({
      name: 'InvalidClientTokenId',
      $metadata: { httpStatusCode: 403 },
    })
    unknownKey.destroy()
  })
})
