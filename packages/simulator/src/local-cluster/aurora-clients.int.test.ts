import { execFile, spawnSync } from 'node:child_process'
import {
  CloudWatchClient,
  GetMetricDataCommand,
  GetMetricStatisticsCommand,
  ListMetricsCommand,
} from '@aws-sdk/client-cloudwatch'
import { AwsJson1_0Protocol, AwsQueryProtocol, AwsSmithyRpcV2CborProtocol } from '@aws-sdk/core/protocols'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { tempDir } from '@backtrack/mysql-server/testing'
import { startLocalCluster, type StartedLocalCluster } from './local-cluster.js'

// Issue 12's actions and CloudWatch metrics through each client people run: the JS SDK in all three CloudWatch
// protocols, the `aws` v1 on PATH (newer botocore: JSON 1.0 for CloudWatch), boto3 from Debian (Query) and from the
// PATH's Python (JSON 1.0). Each client that is not installed skips with the reason in its test's name.

const credentials = { accessKeyId: 'clients', secretAccessKey: 'clients' }
const which = (command: string) => spawnSync('sh', ['-c', command], { encoding: 'utf8' }).stdout.trim()
/** The `aws` on PATH that is not Debian's /usr/bin/aws (the v1 CLI over a newer botocore, here from pyenv). */
const awsV1 = which('which -a aws')
  .split('\n')
  .find((path) => path !== '' && !path.startsWith('/usr/bin/') && !path.startsWith('/bin/'))
const debianBoto3 = spawnSync('/usr/bin/python3', ['-c', 'import boto3']).status === 0
const pathPython = which('command -v python3')
const pathBoto3 =
  pathPython !== '' && pathPython !== '/usr/bin/python3' && spawnSync(pathPython, ['-c', 'import boto3']).status === 0

function run(
  file: string,
  args: string[],
  env: Record<string, string>,
  input?: string,
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = execFile(file, args, { env: { ...process.env, ...env }, timeout: 180_000 }, (error, stdout, stderr) =>
      resolve({ code: error === null ? 0 : typeof error.code === 'number' ? error.code : -1, stdout, stderr }),
    )
    if (input !== undefined) child.stdin?.end(input)
  })
}

/** The same runbook steps in boto3, printing what it saw as JSON lines. */
const BOTO3_SCRIPT = `
import boto3, botocore, json, os, sys, datetime
endpoint = os.environ['ENDPOINT_URL']
name = os.environ['NAME']
rds = boto3.client('rds', endpoint_url=endpoint)
cw = boto3.client('cloudwatch', endpoint_url=endpoint)
out = lambda **kw: print(json.dumps(kw, default=str), flush=True)
cluster = rds.create_db_cluster(DBClusterIdentifier=name, Engine='aurora-mysql', MasterUsername='labuser',
    MasterUserPassword='lab-password-1', BacktrackWindow=600, Tags=[{'Key': 'client', 'Value': 'boto3'}])['DBCluster']
rds.create_db_instance(DBInstanceIdentifier=name + '-1', DBClusterIdentifier=name, DBInstanceClass='db.r6g.large', Engine='aurora-mysql')
rds.get_waiter('db_instance_available').wait(DBInstanceIdentifier=name + '-1', WaiterConfig={'Delay': 1})
rds.add_tags_to_resource(ResourceName=cluster['DBClusterArn'], Tags=[{'Key': 'backtrack-testbed', 'Value': 'true'}])
tags = rds.list_tags_for_resource(ResourceName=cluster['DBClusterArn'])['TagList']
members = rds.describe_db_clusters(DBClusterIdentifier=name)['DBClusters'][0]['DBClusterMembers']
instance = rds.describe_db_instances(DBInstanceIdentifier=name + '-1')['DBInstances'][0]
out(tags=tags, members=members, status=instance['DBInstanceStatus'], protocol=getattr(cw.meta.service_model, 'resolved_protocol', cw.meta.service_model.protocol))
restored = rds.restore_db_cluster_to_point_in_time(DBClusterIdentifier=name + '-copy', SourceDBClusterIdentifier=name,
    UseLatestRestorableTime=True, RestoreType='copy-on-write', BacktrackWindow=600)['DBCluster']
rds.get_waiter('db_cluster_available').wait(DBClusterIdentifier=name + '-copy', WaiterConfig={'Delay': 1})
clone = rds.describe_db_clusters(DBClusterIdentifier=name + '-copy')['DBClusters'][0]
out(clone_group=clone['CloneGroupId'] == cluster['CloneGroupId'], clone_status=clone['Status'])
categories = rds.describe_event_categories(SourceType='db-instance')['EventCategoriesMapList'][0]['EventCategories']
now = datetime.datetime.now(datetime.timezone.utc)
metrics = cw.list_metrics(Namespace='AWS/RDS', Dimensions=[{'Name': 'DBClusterIdentifier', 'Value': name}])['Metrics']
stats = cw.get_metric_statistics(Namespace='AWS/RDS', MetricName='BacktrackChangeRecordsStored',
    Dimensions=[{'Name': 'DBClusterIdentifier', 'Value': name}], StartTime=now - datetime.timedelta(hours=1),
    EndTime=now + datetime.timedelta(minutes=5), Period=60, Statistics=['Maximum'])['Datapoints']
data = cw.get_metric_data(StartTime=now - datetime.timedelta(hours=1), EndTime=now + datetime.timedelta(minutes=5),
    MetricDataQueries=[{'Id': 'window', 'MetricStat': {'Metric': {'Namespace': 'AWS/RDS', 'MetricName': 'BacktrackWindowActual',
    'Dimensions': [{'Name': 'DBClusterIdentifier', 'Value': name}]}, 'Period': 60, 'Stat': 'Maximum'}}])['MetricDataResults']
try:
    cw.get_metric_statistics(Namespace='AWS/RDS', MetricName='X', StartTime=now, EndTime=now, Period=7, Statistics=['Sum'])
    error = None
except botocore.exceptions.ClientError as e:
    error = e.response['Error']['Code']
try:
    rds.delete_db_cluster(DBClusterIdentifier=name, SkipFinalSnapshot=True)
    refused = None
except rds.exceptions.InvalidDBClusterStateFault as e:
    refused = 'InvalidDBClusterStateFault'
rds.delete_db_instance(DBInstanceIdentifier=name + '-1')
rds.get_waiter('db_instance_deleted').wait(DBInstanceIdentifier=name + '-1', WaiterConfig={'Delay': 1})
rds.delete_db_cluster(DBClusterIdentifier=name, SkipFinalSnapshot=True)
rds.delete_db_cluster(DBClusterIdentifier=name + '-copy', SkipFinalSnapshot=True)
out(categories=categories, metrics=sorted(m['MetricName'] for m in metrics), datapoints=len(stats),
    data=data[0]['StatusCode'], error=error, refused=refused)
`

describe('issue 12 through each client', () => {
  const dir = tempDir('backtrack-clients-')
  let cluster: StartedLocalCluster
  let endpoint: string
  const env = () => ({
    ENDPOINT_URL: endpoint,
    AWS_ACCESS_KEY_ID: credentials.accessKeyId,
    AWS_SECRET_ACCESS_KEY: credentials.secretAccessKey,
    AWS_DEFAULT_REGION: 'us-east-1',
    AWS_PAGER: '',
    AWS_MAX_ATTEMPTS: '1',
  })

  beforeAll(async () => {
    cluster = await startLocalCluster({ dataDir: dir.path, metricsIntervalMs: 500 })
    endpoint = cluster.info().rdsEndpoint
  }, 120_000)

  afterAll(async () => {
    await cluster?.stop()
    dir[Symbol.dispose]()
  })

  it.each([
    ['Query', AwsQueryProtocol],
    ['JSON 1.0', AwsJson1_0Protocol],
    ['Smithy RPC v2 CBOR', AwsSmithyRpcV2CborProtocol],
  ] as const)('@aws-sdk/client-cloudwatch reads the metrics in the %s protocol', async (_, protocol) => {
    const client = new CloudWatchClient({ endpoint, region: 'us-east-1', credentials, maxAttempts: 1, protocol })
    const dimensions = [{ Name: 'DBClusterIdentifier', Value: 'labstack-cluster' }]
    const listed = await client.send(new ListMetricsCommand({ Namespace: 'AWS/RDS', Dimensions: dimensions }))
    expect(listed.Metrics).toHaveLength(4)
    const now = Date.now()
    const range = { StartTime: new Date(now - 3_600_000), EndTime: new Date(now + 60_000) }
    const statistics = await client.send(
      new GetMetricStatisticsCommand({
        Namespace: 'AWS/RDS',
        MetricName: 'BacktrackWindowActual',
        Dimensions: dimensions,
        ...range,
        Period: 60,
        Statistics: ['Maximum', 'SampleCount'],
      }),
    )
    expect(statistics.Datapoints?.[0]).toMatchObject({ Timestamp: expect.any(Date), SampleCount: expect.any(Number) })
    const data = await client.send(
      new GetMetricDataCommand({
        ...range,
        MetricDataQueries: [
          {
            Id: 'stored',
            MetricStat: {
              Metric: { Namespace: 'AWS/RDS', MetricName: 'BacktrackChangeRecordsStored', Dimensions: dimensions },
              Period: 60,
              Stat: 'Maximum',
            },
          },
        ],
      }),
    )
    expect(data.MetricDataResults?.[0]?.Timestamps?.[0]).toBeInstanceOf(Date)
    await expect(
      client.send(
        new GetMetricStatisticsCommand({
          Namespace: 'AWS/RDS',
          MetricName: 'X',
          ...range,
          Period: 7,
          Statistics: ['Sum'],
        }),
      ),
    ).rejects.toMatchObject({ name: 'InvalidParameterValueException', $metadata: { httpStatusCode: 400 } })
    client.destroy()
  })

  const v1It = awsV1 === undefined ? it.skip : it
  v1It(
    `the aws v1 CLI (newer botocore) creates, tags, waits and reads the metrics${awsV1 === undefined ? ' (skipped: no aws v1 CLI on PATH besides /usr/bin/aws)' : ''}`,
    async () => {
      const aws = async (...args: string[]) => {
        const result = await run(awsV1!, [...args, '--endpoint-url', endpoint, '--output', 'json'], env())
        expect(result.code, `aws ${args.join(' ')}: ${result.stderr}`).toBe(0)
        return result.stdout.trim() === '' ? {} : (JSON.parse(result.stdout) as Record<string, unknown>)
      }
      const created = (await aws(
        'rds',
        'create-db-cluster',
        '--db-cluster-identifier',
        'v1-cli',
        '--engine',
        'aurora-mysql',
        '--master-username',
        'labuser',
        '--master-user-password',
        'lab-password-1',
        '--tags',
        'Key=client,Value=v1',
      )) as {
        DBCluster: { DBClusterArn: string }
      }
      await aws(
        'rds',
        'create-db-instance',
        '--db-instance-identifier',
        'v1-cli-1',
        '--db-cluster-identifier',
        'v1-cli',
        '--db-instance-class',
        'db.t3.medium',
        '--engine',
        'aurora-mysql',
      )
      await aws('rds', 'wait', 'db-instance-available', '--db-instance-identifier', 'v1-cli-1')
      const tags = (await aws('rds', 'list-tags-for-resource', '--resource-name', created.DBCluster.DBClusterArn)) as {
        TagList: { Key: string }[]
      }
      expect(tags.TagList.map((tag) => tag.Key)).toEqual(['aws:backtrack:simulated', 'client'])
      const metrics = (await aws(
        'cloudwatch',
        'list-metrics',
        '--namespace',
        'AWS/RDS',
        '--dimensions',
        'Name=DBClusterIdentifier,Value=v1-cli',
      )) as { Metrics: unknown[] }
      expect(metrics.Metrics).toHaveLength(4)
      const stats = (await aws(
        'cloudwatch',
        'get-metric-statistics',
        '--namespace',
        'AWS/RDS',
        '--metric-name',
        'BacktrackChangeRecordsStored',
        '--dimensions',
        'Name=DBClusterIdentifier,Value=v1-cli',
        '--statistics',
        'Maximum',
        '--period',
        '60',
        '--start-time',
        new Date(Date.now() - 3_600_000).toISOString(),
        '--end-time',
        new Date(Date.now() + 60_000).toISOString(),
      )) as { Datapoints: unknown[] }
      expect(stats.Datapoints.length).toBeGreaterThan(0)
      const refused = await run(
        awsV1!,
        [
          'cloudwatch',
          'get-metric-statistics',
          '--namespace',
          'AWS/RDS',
          '--metric-name',
          'X',
          '--statistics',
          'Sum',
          '--period',
          '7',
          '--start-time',
          '2026-01-01T00:00:00Z',
          '--end-time',
          '2026-01-01T01:00:00Z',
          '--endpoint-url',
          endpoint,
        ],
        env(),
      )
      expect(refused.code).not.toBe(0)
      expect(refused.stderr).toContain('InvalidParameterValue')
      await aws('rds', 'delete-db-instance', '--db-instance-identifier', 'v1-cli-1')
      await aws('rds', 'wait', 'db-instance-deleted', '--db-instance-identifier', 'v1-cli-1')
      await aws('rds', 'delete-db-cluster', '--db-cluster-identifier', 'v1-cli', '--skip-final-snapshot')
    },
  )

  for (const [label, python, available, protocol] of [
    ["Debian's python3-boto3", '/usr/bin/python3', debianBoto3, 'query'],
    ["the PATH's boto3 (newer botocore)", pathPython, pathBoto3, 'json'],
  ] as const) {
    const boto3It = available ? it : it.skip
    boto3It(
      `${label} creates, waits, tags, clones and reads the metrics (CloudWatch in ${protocol})${available ? '' : ` (skipped: ${label} is not installed)`}`,
      async () => {
        const name = `boto-${protocol}`
        const result = await run(python, ['-'], { ...env(), NAME: name }, BOTO3_SCRIPT)
        expect(result.stderr, result.stdout).toBe('')
        expect(result.code).toBe(0)
        const [first, second, third] = result.stdout
          .trim()
          .split('\n')
          .map((line) => JSON.parse(line) as Record<string, unknown>)
        expect(first).toMatchObject({
          status: 'available',
          members: [expect.objectContaining({ DBInstanceIdentifier: `${name}-1`, IsClusterWriter: true })],
          protocol,
        })
        expect(first!['tags']).toContainEqual({ Key: 'backtrack-testbed', Value: 'true' })
        expect(second).toEqual({ clone_group: true, clone_status: 'available' })
        expect(third).toMatchObject({
          metrics: [
            'BacktrackChangeRecordsCreationRate',
            'BacktrackChangeRecordsStored',
            'BacktrackWindowActual',
            'BacktrackWindowAlert',
          ],
          data: 'Complete',
          error: 'InvalidParameterValue',
          refused: 'InvalidDBClusterStateFault',
        })
        expect(third!['categories']).toContain('backtrack')
        expect(Number(third!['datapoints'])).toBeGreaterThan(0)
      },
    )
  }
})
