import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import {
  AddTagsToResourceCommand,
  BacktrackDBClusterCommand,
  CreateDBClusterCommand,
  CreateDBInstanceCommand,
  DeleteDBClusterCommand,
  DeleteDBInstanceCommand,
  DescribeDBClusterBacktracksCommand,
  DescribeDBClustersCommand,
  DescribeDBInstancesCommand,
  DescribeEventsCommand,
  ListTagsForResourceCommand,
  RDSClient,
  RemoveTagsFromResourceCommand,
  RestoreDBClusterToPointInTimeCommand,
  waitUntilDBClusterAvailable,
  waitUntilDBInstanceAvailable,
  waitUntilDBInstanceDeleted,
} from '@aws-sdk/client-rds'
import {
  CloudWatchClient,
  GetMetricDataCommand,
  GetMetricStatisticsCommand,
  ListMetricsCommand,
} from '@aws-sdk/client-cloudwatch'
import mysql, { type RowDataPacket } from 'mysql2/promise'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { tempDir } from '@backtrack/mysql-server/testing'
import { startLocalCluster, type StartedLocalCluster } from './local-cluster.js'

const CREDENTIALS = { accessKeyId: 'test', secretAccessKey: 'test' }
const WAIT = { minDelay: 1, maxDelay: 1, maxWaitTime: 120 }

describe('the rest of the Aurora cluster over a local cluster, with the real SDK', () => {
  const dir = tempDir('backtrack-aurora-')
  let cluster: StartedLocalCluster
  let rds: RDSClient
  let cloudwatch: CloudWatchClient

  const connect = (host: string, port: number, database = 'shop') =>
    mysql.createConnection({ host, port, user: 'labuser', password: 'lab-password-1', database })

  async function rows(host: string, port: number, sql: string): Promise<RowDataPacket[]> {
    const conn = await connect(host, port)
    try {
      const [result] = await conn.query<RowDataPacket[]>(sql)
      return result
    } finally {
      await conn.end()
    }
  }

  async function describeCluster(identifier: string) {
    const { DBClusters } = await rds.send(new DescribeDBClustersCommand({ DBClusterIdentifier: identifier }))
    return DBClusters![0]!
  }

  beforeAll(async () => {
    cluster = await startLocalCluster({ dataDir: dir.path, metricsIntervalMs: 300 })
    const endpoint = cluster.info().rdsEndpoint
    rds = new RDSClient({ endpoint, region: 'us-east-1', credentials: CREDENTIALS, maxAttempts: 1 })
    cloudwatch = new CloudWatchClient({ endpoint, region: 'us-east-1', credentials: CREDENTIALS, maxAttempts: 1 })
  }, 120_000)

  afterAll(async () => {
    rds?.destroy()
    cloudwatch?.destroy()
    await cluster?.stop()
    dir[Symbol.dispose]()
  })

  it("lists the started cluster's writer, which DBClusterMembers names", async () => {
    const described = await describeCluster('labstack-cluster')
    const [member] = described.DBClusterMembers!
    const { DBInstances } = await rds.send(
      new DescribeDBInstancesCommand({ DBInstanceIdentifier: member!.DBInstanceIdentifier }),
    )
    expect(DBInstances![0]).toMatchObject({
      DBInstanceIdentifier: 'labstack-cluster-instance-1',
      DBClusterIdentifier: 'labstack-cluster',
      DBInstanceStatus: 'available',
      Engine: 'aurora-mysql',
      Endpoint: { Address: cluster.info().sql.host, Port: cluster.info().sql.port },
    })
    expect(member!.IsClusterWriter).toBe(true)
  })

  it('creates a cluster that answers SQL once its writer instance exists, with tags on both', async () => {
    const created = await rds.send(
      new CreateDBClusterCommand({
        DBClusterIdentifier: 'shop',
        Engine: 'aurora-mysql',
        EngineVersion: '8.0.mysql_aurora.3.05.2',
        MasterUsername: 'labuser',
        MasterUserPassword: 'lab-password-1',
        DatabaseName: 'shop',
        BacktrackWindow: 3600,
        Tags: [{ Key: 'team', Value: 'data' }],
      }),
    )
    const { Endpoint: host, Port: port } = created.DBCluster!
    expect(created.DBCluster).toMatchObject({ EngineVersion: '8.0.mysql_aurora.3.05.2', DBClusterMembers: [] })
    expect(created.DBCluster!.TagList).toContainEqual({ Key: 'team', Value: 'data' })
    await expect(connect(host!, port!)).rejects.toMatchObject({ code: 'ECONNREFUSED' })

    const writer = await rds.send(
      new CreateDBInstanceCommand({
        DBInstanceIdentifier: 'shop-writer',
        DBClusterIdentifier: 'shop',
        DBInstanceClass: 'db.r6g.large',
        Engine: 'aurora-mysql',
        Tags: [{ Key: 'role', Value: 'writer' }],
      }),
    )
    expect(writer.DBInstance?.DBInstanceStatus).toBe('creating')
    await waitUntilDBInstanceAvailable({ client: rds, ...WAIT }, { DBInstanceIdentifier: 'shop-writer' })
    await rows(host!, port!, 'CREATE TABLE item (id INT PRIMARY KEY, name TEXT)')
    await rows(host!, port!, "INSERT INTO item VALUES (1, 'one'), (2, 'two')")
    const described = await describeCluster('shop')
    expect(described.DBClusterMembers).toEqual([
      expect.objectContaining({ DBInstanceIdentifier: 'shop-writer', IsClusterWriter: true }),
    ])
    const instanceArn = writer.DBInstance!.DBInstanceArn!
    const tags = await rds.send(new ListTagsForResourceCommand({ ResourceName: instanceArn }))
    expect(tags.TagList).toContainEqual({ Key: 'role', Value: 'writer' })
  })

  it('adds, overwrites and removes tags, and refuses aws: keys', async () => {
    const arn = (await describeCluster('shop')).DBClusterArn!
    await rds.send(
      new AddTagsToResourceCommand({
        ResourceName: arn,
        Tags: [
          { Key: 'team', Value: 'platform' },
          { Key: 'backtrack-testbed', Value: 'true' },
        ],
      }),
    )
    await rds.send(new RemoveTagsFromResourceCommand({ ResourceName: arn, TagKeys: ['nothing-here'] }))
    let listed = await rds.send(new ListTagsForResourceCommand({ ResourceName: arn }))
    expect(listed.TagList).toEqual([
      { Key: 'aws:backtrack:simulated', Value: 'true' },
      { Key: 'team', Value: 'platform' },
      { Key: 'backtrack-testbed', Value: 'true' },
    ])
    await rds.send(new RemoveTagsFromResourceCommand({ ResourceName: arn, TagKeys: ['team'] }))
    listed = await rds.send(new ListTagsForResourceCommand({ ResourceName: arn }))
    expect(listed.TagList?.map((tag) => tag.Key)).toEqual(['aws:backtrack:simulated', 'backtrack-testbed'])
    await expect(
      rds.send(new AddTagsToResourceCommand({ ResourceName: arn, Tags: [{ Key: 'aws:mine', Value: 'x' }] })),
    ).rejects.toMatchObject({ name: 'InvalidParameterValue' })
    await expect(
      rds.send(new ListTagsForResourceCommand({ ResourceName: arn.replace(':shop', ':nope') })),
    ).rejects.toMatchObject({ name: 'DBClusterNotFoundFault' })
  })

  it('adds a reader: its own endpoint and the ReaderEndpoint read the same data and refuse writes with 1290', async () => {
    await rds.send(
      new CreateDBInstanceCommand({
        DBInstanceIdentifier: 'shop-reader',
        DBClusterIdentifier: 'shop',
        DBInstanceClass: 'db.r6g.large',
        Engine: 'aurora-mysql',
        PromotionTier: 2,
      }),
    )
    await waitUntilDBInstanceAvailable({ client: rds, ...WAIT }, { DBInstanceIdentifier: 'shop-reader' })
    const { DBInstances } = await rds.send(new DescribeDBInstancesCommand({ DBInstanceIdentifier: 'shop-reader' }))
    const reader = DBInstances![0]!.Endpoint!
    const described = await describeCluster('shop')
    expect(described.DBClusterMembers?.map((member) => [member.DBInstanceIdentifier, member.IsClusterWriter])).toEqual([
      ['shop-writer', true],
      ['shop-reader', false],
    ])
    expect(described.ReaderEndpoint).not.toBe(described.Endpoint)
    for (const [host, port] of [
      [reader.Address!, reader.Port!],
      [described.ReaderEndpoint!, described.Port!],
    ] as const) {
      expect((await rows(host, port, 'SELECT name FROM item ORDER BY id')).map((row) => row.name)).toEqual([
        'one',
        'two',
      ])
      await expect(rows(host, port, "INSERT INTO item VALUES (3, 'three')")).rejects.toMatchObject({
        errno: 1290,
        message: 'The MySQL server is running with the --read-only option so it cannot execute this statement',
      })
    }
  })

  it('shows rewound data on the reader after a backtrack', async () => {
    const { Endpoint: host, Port: port } = await describeCluster('shop')
    const node = cluster.registry.node('shop')!
    const before = await node.mark()
    await rows(host!, port!, 'DELETE FROM item')
    const backtrack = await rds.send(
      new BacktrackDBClusterCommand({ DBClusterIdentifier: 'shop', BacktrackTo: before }),
    )
    for (;;) {
      const { DBClusterBacktracks } = await rds.send(
        new DescribeDBClusterBacktracksCommand({
          DBClusterIdentifier: 'shop',
          BacktrackIdentifier: backtrack.BacktrackIdentifier,
        }),
      )
      if (DBClusterBacktracks![0]!.Status === 'COMPLETED') break
      expect(DBClusterBacktracks![0]!.Status).not.toBe('FAILED')
      await sleep(100)
    }
    const { DBInstances } = await rds.send(new DescribeDBInstancesCommand({ DBInstanceIdentifier: 'shop-reader' }))
    const reader = DBInstances![0]!.Endpoint!
    expect((await rows(reader.Address!, reader.Port!, 'SELECT COUNT(*) AS n FROM item'))[0]!.n).toBe(2)
  })

  it('restores to a point in time (full copy and clone) with the source untouched and the source credentials', async () => {
    const { Endpoint: host, Port: port } = await describeCluster('shop')
    const node = cluster.registry.node('shop')!
    const moment = await node.mark()
    await sleep(20)
    await rows(host!, port!, "UPDATE item SET name = 'changed'")
    await rows(host!, port!, 'CREATE TABLE later (id INT PRIMARY KEY)')

    const restored = await rds.send(
      new RestoreDBClusterToPointInTimeCommand({
        DBClusterIdentifier: 'shop-copy',
        SourceDBClusterIdentifier: 'shop',
        RestoreToTime: moment,
        BacktrackWindow: 600,
        Tags: [{ Key: 'purpose', Value: 'audit' }],
      }),
    )
    expect(restored.DBCluster).toMatchObject({ DBClusterIdentifier: 'shop-copy', DBClusterMembers: [] })
    await waitUntilDBClusterAvailable({ client: rds, ...WAIT }, { DBClusterIdentifier: 'shop-copy' })
    const copy = await describeCluster('shop-copy')
    expect(copy).toMatchObject({ BacktrackWindow: 600, MasterUsername: 'labuser', DatabaseName: 'shop' })
    expect(copy.TagList).toContainEqual({ Key: 'purpose', Value: 'audit' })
    // Like AWS: no SQL until it has an instance.
    await expect(connect(copy.Endpoint!, copy.Port!)).rejects.toMatchObject({ code: 'ECONNREFUSED' })
    await rds.send(
      new CreateDBInstanceCommand({
        DBInstanceIdentifier: 'shop-copy-1',
        DBClusterIdentifier: 'shop-copy',
        DBInstanceClass: 'db.r6g.large',
        Engine: 'aurora-mysql',
      }),
    )
    await waitUntilDBInstanceAvailable({ client: rds, ...WAIT }, { DBInstanceIdentifier: 'shop-copy-1' })
    expect(
      (await rows(copy.Endpoint!, copy.Port!, 'SELECT name FROM item ORDER BY id')).map((row) => row.name),
    ).toEqual(['one', 'two'])
    expect((await rows(copy.Endpoint!, copy.Port!, 'SHOW TABLES')).map((row) => Object.values(row)[0])).toEqual([
      'item',
    ])
    // The source is as it was, and the copy's history is its own.
    expect((await rows(host!, port!, 'SELECT DISTINCT name FROM item')).map((row) => row.name)).toEqual(['changed'])
    await rows(copy.Endpoint!, copy.Port!, "INSERT INTO item VALUES (9, 'copy only')")
    expect((await rows(host!, port!, 'SELECT COUNT(*) AS n FROM item'))[0]!.n).toBe(2)
    expect(copy.CloneGroupId).not.toBe((await describeCluster('shop')).CloneGroupId)
    expect(copy.EarliestBacktrackTime!.getTime()).toBeGreaterThanOrEqual(copy.ClusterCreateTime!.getTime())

    const clone = await rds.send(
      new RestoreDBClusterToPointInTimeCommand({
        DBClusterIdentifier: 'shop-clone',
        SourceDBClusterIdentifier: 'shop',
        RestoreType: 'copy-on-write',
        UseLatestRestorableTime: true,
        BacktrackWindow: 600,
      }),
    )
    await waitUntilDBClusterAvailable({ client: rds, ...WAIT }, { DBClusterIdentifier: 'shop-clone' })
    const cloned = await describeCluster('shop-clone')
    expect(cloned.CloneGroupId).toBe((await describeCluster('shop')).CloneGroupId)
    expect(clone.DBCluster?.DBClusterIdentifier).toBe('shop-clone')
    // A clone cannot be backtracked to before it existed.
    await expect(
      rds.send(new BacktrackDBClusterCommand({ DBClusterIdentifier: 'shop-clone', BacktrackTo: moment })),
    ).rejects.toMatchObject({ name: 'InvalidParameterValue' })
    await expect(
      rds.send(
        new RestoreDBClusterToPointInTimeCommand({
          DBClusterIdentifier: 'too-early',
          SourceDBClusterIdentifier: 'shop',
          RestoreToTime: new Date('2001-01-01T00:00:00Z'),
        }),
      ),
    ).rejects.toMatchObject({ name: 'InvalidRestoreFault' })
  })

  it('reads the backtrack metrics through CloudWatch', async () => {
    await sleep(700)
    const listed = await cloudwatch.send(
      new ListMetricsCommand({ Namespace: 'AWS/RDS', Dimensions: [{ Name: 'DBClusterIdentifier', Value: 'shop' }] }),
    )
    expect(listed.Metrics?.map((metric) => metric.MetricName).sort()).toEqual([
      'BacktrackChangeRecordsCreationRate',
      'BacktrackChangeRecordsStored',
      'BacktrackWindowActual',
      'BacktrackWindowAlert',
    ])
    const now = new Date()
    const start = new Date(now.getTime() - 3600_000)
    const stored = await cloudwatch.send(
      new GetMetricStatisticsCommand({
        Namespace: 'AWS/RDS',
        MetricName: 'BacktrackChangeRecordsStored',
        Dimensions: [{ Name: 'DBClusterIdentifier', Value: 'shop' }],
        StartTime: start,
        EndTime: new Date(now.getTime() + 60_000),
        Period: 3600,
        Statistics: ['Maximum', 'SampleCount'],
      }),
    )
    expect(stored.Datapoints?.length).toBeGreaterThan(0)
    expect(Math.max(...stored.Datapoints!.map((point) => point.Maximum!))).toBeGreaterThan(0)
    const data = await cloudwatch.send(
      new GetMetricDataCommand({
        StartTime: start,
        EndTime: new Date(now.getTime() + 60_000),
        MetricDataQueries: [
          {
            Id: 'created',
            MetricStat: {
              Metric: {
                Namespace: 'AWS/RDS',
                MetricName: 'BacktrackChangeRecordsCreationRate',
                Dimensions: [{ Name: 'DBClusterIdentifier', Value: 'shop' }],
              },
              Period: 60,
              Stat: 'Sum',
            },
          },
        ],
      }),
    )
    expect(data.MetricDataResults?.[0]).toMatchObject({ Id: 'created', StatusCode: 'Complete' })
    expect(data.MetricDataResults![0]!.Values!.reduce((sum, value) => sum + value, 0)).toBeGreaterThan(0)
  })

  it('refuses to delete a cluster with instances, deletes instances with the waiter, then the cluster', async () => {
    await expect(
      rds.send(new DeleteDBClusterCommand({ DBClusterIdentifier: 'shop', SkipFinalSnapshot: true })),
    ).rejects.toMatchObject({
      name: 'InvalidDBClusterStateFault',
      message: 'Cluster cannot be deleted, it still contains DB instances in non-deleting state.',
    })
    await expect(rds.send(new DeleteDBInstanceCommand({ DBInstanceIdentifier: 'shop-writer' }))).rejects.toMatchObject({
      name: 'InvalidDBClusterStateFault',
    })
    const deleting = await rds.send(new DeleteDBInstanceCommand({ DBInstanceIdentifier: 'shop-reader' }))
    expect(deleting.DBInstance?.DBInstanceStatus).toBe('deleting')
    await waitUntilDBInstanceDeleted({ client: rds, ...WAIT }, { DBInstanceIdentifier: 'shop-reader' })
    expect((await describeCluster('shop')).ReaderEndpoint).toBe((await describeCluster('shop')).Endpoint)
    await rds.send(new DeleteDBInstanceCommand({ DBInstanceIdentifier: 'shop-writer' }))
    await rds.send(new DeleteDBClusterCommand({ DBClusterIdentifier: 'shop', SkipFinalSnapshot: true }))
    await cluster.registry.settled()
    expect(existsSync(join(dir.path, 'clusters', 'shop'))).toBe(false)
    const events = await rds.send(new DescribeEventsCommand({ SourceType: 'db-instance', Duration: 60 }))
    expect(events.Events?.map((event) => `${event.SourceIdentifier}: ${event.Message}`)).toEqual(
      expect.arrayContaining(['shop-reader: DB instance created.', 'shop-reader: DB instance deleted.']),
    )
  })

  it('keeps instances, reader endpoints and tags across a restart', async () => {
    const before = await describeCluster('shop-copy')
    const tagsBefore = await rds.send(new ListTagsForResourceCommand({ ResourceName: before.DBClusterArn! }))
    await cluster.stop()
    cluster = await startLocalCluster({ dataDir: dir.path, metricsIntervalMs: 300 })
    const endpoint = cluster.info().rdsEndpoint
    rds.destroy()
    rds = new RDSClient({ endpoint, region: 'us-east-1', credentials: CREDENTIALS, maxAttempts: 1 })
    const after = await describeCluster('shop-copy')
    expect(after.DBClusterMembers).toEqual(before.DBClusterMembers)
    expect(after.Port).toBe(before.Port)
    expect(await rds.send(new ListTagsForResourceCommand({ ResourceName: after.DBClusterArn! }))).toMatchObject({
      TagList: tagsBefore.TagList,
    })
    expect((await rows(after.Endpoint!, after.Port!, 'SELECT COUNT(*) AS n FROM item'))[0]!.n).toBe(3)
  })
})
