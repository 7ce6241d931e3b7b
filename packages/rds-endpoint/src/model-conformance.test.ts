import { cbor, dateToTag } from '@smithy/core/cbor'
import type { FastifyInstance, LightMyRequestResponse } from 'fastify'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { CLOUDWATCH_ACTIONS } from './cloudwatch/cloudwatch-actions.js'
import { buildRdsEndpoint, type RecordedResponse } from './rds-endpoint.js'
import { RDS_ACTIONS } from './rds-actions.js'
import { FakeClusterRegistry } from './test-support/fake-cluster-registry.js'
import { checkResponse, loadModelCheckers, MODELS_MISSING } from './test-support/model-check.js'

// Every action the endpoint serves, answered with success and with an error, in every protocol its clients speak,
// checked against AWS's service models (Debian's botocore): member names and types, list wrapper names, required
// members, error codes and HTTP statuses. (The suite's global setup checks every other response sent in the run.)

const checkers = loadModelCheckers()
const suite = checkers === undefined ? describe.skip : describe
const NOW = Date.parse('2026-11-24T12:00:00Z')
const FORM = 'application/x-www-form-urlencoded; charset=utf-8'
const CLUSTER_ARN = 'arn:aws:rds:us-east-1:000000000000:cluster:labstack-cluster'

suite(`every action against the botocore model${checkers === undefined ? ` (${MODELS_MISSING})` : ''}`, () => {
  let app: FastifyInstance
  let registry: FakeClusterRegistry
  const seen = new Map<string, { ok: boolean; error: boolean }>()
  const problems: string[] = []

  function note(
    service: string,
    operation: string,
    response: LightMyRequestResponse,
    protocol: RecordedResponse['protocol'],
  ) {
    const record: RecordedResponse = {
      service: service as RecordedResponse['service'],
      protocol,
      operation,
      status: response.statusCode,
      headers: Object.fromEntries(Object.entries(response.headers).map(([name, value]) => [name, String(value)])),
      body: protocol === 'cbor' ? response.rawPayload.toString('base64') : response.body,
    }
    const checked = checkResponse(checkers!, record)
    problems.push(...checked.problems)
    const key = `${service}:${operation}${protocol === 'query' ? '' : `:${protocol}`}`
    const entry = seen.get(key) ?? { ok: false, error: false }
    if (response.statusCode < 300) entry.ok = true
    else entry.error = true
    seen.set(key, entry)
    return response
  }

  async function rds(params: Record<string, string>) {
    const form = new URLSearchParams({ Version: '2014-10-31', ...params })
    const response = await app.inject({
      method: 'POST',
      url: '/',
      headers: { 'content-type': FORM },
      payload: form.toString(),
    })
    return note('rds', params['Action'] ?? '', response, 'query')
  }

  async function cloudwatch(protocol: RecordedResponse['protocol'], operation: string, input: Record<string, unknown>) {
    let response: LightMyRequestResponse
    if (protocol === 'query') {
      const form = new URLSearchParams({ Action: operation, Version: '2010-08-01' })
      const flatten = (prefix: string, value: unknown): void => {
        if (Array.isArray(value)) value.forEach((item, i) => flatten(`${prefix}.member.${i + 1}`, item))
        else if (value instanceof Date) form.set(prefix, value.toISOString())
        else if (typeof value === 'object' && value !== null) {
          for (const [key, child] of Object.entries(value)) flatten(prefix === '' ? key : `${prefix}.${key}`, child)
        } else form.set(prefix, String(value))
      }
      flatten('', input)
      response = await app.inject({
        method: 'POST',
        url: '/',
        headers: { 'content-type': FORM },
        payload: form.toString(),
      })
    } else if (protocol === 'json') {
      const body = JSON.stringify(input, (_key, value: unknown) =>
        typeof value === 'string' && /^\d{4}-\d\d-\d\dT/.test(value) ? Date.parse(value) / 1000 : value,
      )
      response = await app.inject({
        method: 'POST',
        url: '/',
        headers: {
          'content-type': 'application/x-amz-json-1.0',
          'x-amz-target': `GraniteServiceVersion20100801.${operation}`,
        },
        payload: body,
      })
    } else {
      const tagged = (value: unknown): unknown =>
        value instanceof Date
          ? dateToTag(value)
          : Array.isArray(value)
            ? value.map(tagged)
            : typeof value === 'object' && value !== null
              ? Object.fromEntries(Object.entries(value).map(([key, child]) => [key, tagged(child)]))
              : value
      response = await app.inject({
        method: 'POST',
        url: `/service/GraniteServiceVersion20100801/operation/${operation}`,
        headers: { 'content-type': 'application/cbor', 'smithy-protocol': 'rpc-v2-cbor' },
        payload: Buffer.from(cbor.serialize(tagged(input))),
      })
    }
    return note('cloudwatch', operation, response, protocol)
  }

  beforeAll(() => {
    registry = new FakeClusterRegistry({ clock: () => new Date(NOW) })
    registry.add({ identifier: 'labstack-cluster', createdAt: new Date(NOW - 3_600_000), databaseName: 'mylab' })
    const metric = {
      Namespace: 'AWS/RDS',
      MetricName: 'BacktrackChangeRecordsStored',
      Dimensions: [{ Name: 'DBClusterIdentifier', Value: 'labstack-cluster' }],
      Unit: 'Count',
    }
    registry.metrics.add(metric, [
      { timestamp: new Date(NOW - 120_000), value: 10 },
      { timestamp: new Date(NOW - 60_000), value: 30 },
    ])
    app = buildRdsEndpoint({ registry, now: () => new Date(NOW) })
  })

  afterAll(async () => {
    await app.close()
  })

  it('answers every RDS action, with success and with an error, as the model says', async () => {
    const ok = (response: LightMyRequestResponse) => expect(response.statusCode, response.body).toBe(200)
    const failed = (response: LightMyRequestResponse) => expect(response.statusCode).toBeGreaterThanOrEqual(400)

    ok(await rds({ Action: 'DescribeDBClusters' }))
    failed(await rds({ Action: 'DescribeDBClusters', DBClusterIdentifier: 'nope' }))
    ok(
      await rds({
        Action: 'CreateDBCluster',
        DBClusterIdentifier: 'app',
        Engine: 'aurora-mysql',
        MasterUsername: 'admin',
        MasterUserPassword: 'password-1',
        BacktrackWindow: '3600',
        'Tags.Tag.1.Key': 'team',
        'Tags.Tag.1.Value': 'db',
      }),
    )
    failed(
      await rds({
        Action: 'CreateDBCluster',
        DBClusterIdentifier: 'app',
        Engine: 'aurora-mysql',
        MasterUsername: 'admin',
        MasterUserPassword: 'password-1',
      }),
    )
    ok(
      await rds({
        Action: 'CreateDBInstance',
        DBInstanceIdentifier: 'app-1',
        DBClusterIdentifier: 'app',
        DBInstanceClass: 'db.r6g.large',
        Engine: 'aurora-mysql',
      }),
    )
    ok(
      await rds({
        Action: 'CreateDBInstance',
        DBInstanceIdentifier: 'app-2',
        DBClusterIdentifier: 'app',
        DBInstanceClass: 'db.r6g.large',
        Engine: 'aurora-mysql',
      }),
    )
    failed(
      await rds({
        Action: 'CreateDBInstance',
        DBInstanceIdentifier: 'app-1',
        DBClusterIdentifier: 'app',
        DBInstanceClass: 'db.r6g.large',
        Engine: 'aurora-mysql',
      }),
    )
    failed(
      await rds({
        Action: 'CreateDBInstance',
        DBInstanceIdentifier: 'app-3',
        DBClusterIdentifier: 'nope',
        DBInstanceClass: 'db.r6g.large',
        Engine: 'aurora-mysql',
      }),
    )
    ok(await rds({ Action: 'DescribeDBInstances' }))
    ok(
      await rds({
        Action: 'DescribeDBInstances',
        'Filters.Filter.1.Name': 'db-cluster-id',
        'Filters.Filter.1.Values.Value.1': 'app',
      }),
    )
    failed(await rds({ Action: 'DescribeDBInstances', DBInstanceIdentifier: 'nope' }))
    ok(
      await rds({
        Action: 'AddTagsToResource',
        ResourceName: CLUSTER_ARN,
        'Tags.Tag.1.Key': 'backtrack-testbed',
        'Tags.Tag.1.Value': 'true',
      }),
    )
    failed(
      await rds({
        Action: 'AddTagsToResource',
        ResourceName: CLUSTER_ARN.replace('labstack', 'no'),
        'Tags.Tag.1.Key': 'k',
        'Tags.Tag.1.Value': 'v',
      }),
    )
    ok(await rds({ Action: 'ListTagsForResource', ResourceName: CLUSTER_ARN }))
    failed(await rds({ Action: 'ListTagsForResource', ResourceName: 'arn:aws:rds:us-east-1:000000000000:db:nope' }))
    ok(
      await rds({
        Action: 'RemoveTagsFromResource',
        ResourceName: CLUSTER_ARN,
        'TagKeys.member.1': 'backtrack-testbed',
      }),
    )
    failed(await rds({ Action: 'RemoveTagsFromResource', ResourceName: CLUSTER_ARN }))
    ok(
      await rds({
        Action: 'ModifyDBCluster',
        DBClusterIdentifier: 'app',
        BacktrackWindow: '7200',
        DeletionProtection: 'false',
        PreferredBackupWindow: '03:00-03:30',
      }),
    )
    failed(await rds({ Action: 'ModifyDBCluster', DBClusterIdentifier: 'app', Port: '3307' }))
    ok(
      await rds({
        Action: 'BacktrackDBCluster',
        DBClusterIdentifier: 'app',
        BacktrackTo: new Date(NOW).toISOString(),
      }),
    )
    failed(
      await rds({
        Action: 'BacktrackDBCluster',
        DBClusterIdentifier: 'app',
        BacktrackTo: new Date(NOW + 60_000).toISOString(),
      }),
    )
    registry.get('app')!.completeAll()
    ok(await rds({ Action: 'DescribeDBClusterBacktracks', DBClusterIdentifier: 'app' }))
    failed(
      await rds({
        Action: 'DescribeDBClusterBacktracks',
        DBClusterIdentifier: 'app',
        BacktrackIdentifier: '6b0e9e4a-0000-4000-8000-000000000000',
      }),
    )
    ok(
      await rds({
        Action: 'RestoreDBClusterToPointInTime',
        DBClusterIdentifier: 'app-copy',
        SourceDBClusterIdentifier: 'app',
        UseLatestRestorableTime: 'true',
        RestoreType: 'copy-on-write',
      }),
    )
    failed(
      await rds({
        Action: 'RestoreDBClusterToPointInTime',
        DBClusterIdentifier: 'app-old',
        SourceDBClusterIdentifier: 'app',
        RestoreToTime: '2001-01-01T00:00:00Z',
      }),
    )
    ok(await rds({ Action: 'DescribeEvents', Duration: '1440' }))
    ok(await rds({ Action: 'DescribeEvents', SourceType: 'db-instance' }))
    failed(await rds({ Action: 'DescribeEvents', SourceType: 'db-nothing' }))
    ok(await rds({ Action: 'DescribeEventCategories' }))
    ok(await rds({ Action: 'DescribeEventCategories', SourceType: 'db-cluster' }))
    failed(await rds({ Action: 'DescribeEventCategories', SourceType: 'nope' }))
    failed(await rds({ Action: 'DeleteDBCluster', DBClusterIdentifier: 'app', SkipFinalSnapshot: 'true' }))
    ok(await rds({ Action: 'DeleteDBInstance', DBInstanceIdentifier: 'app-2' }))
    failed(await rds({ Action: 'DeleteDBInstance', DBInstanceIdentifier: 'app-2' }))
    ok(await rds({ Action: 'DeleteDBInstance', DBInstanceIdentifier: 'app-1' }))
    ok(await rds({ Action: 'DeleteDBCluster', DBClusterIdentifier: 'app', SkipFinalSnapshot: 'true' }))
    // Protocol-level errors.
    failed(await rds({ Action: 'NoSuchAction' }))
    failed(await rds({}))

    for (const action of Object.keys(RDS_ACTIONS)) {
      expect(seen.get(`rds:${action}`), action).toEqual({ ok: true, error: true })
    }
    expect(problems).toEqual([])
  })

  it.each(['query', 'json', 'cbor'] as const)(
    'answers every CloudWatch action in the %s protocol, with success and with an error, as the model says',
    async (protocol) => {
      const metric = {
        Namespace: 'AWS/RDS',
        MetricName: 'BacktrackChangeRecordsStored',
        Dimensions: [{ Name: 'DBClusterIdentifier', Value: 'labstack-cluster' }],
      }
      const range = { StartTime: new Date(NOW - 3_600_000), EndTime: new Date(NOW) }
      const list = await cloudwatch(protocol, 'ListMetrics', { Namespace: 'AWS/RDS' })
      expect(list.statusCode, list.body).toBe(200)
      expect((await cloudwatch(protocol, 'ListMetrics', { RecentlyActive: 'PT1H' })).statusCode).toBe(400)
      const statistics = await cloudwatch(protocol, 'GetMetricStatistics', {
        ...metric,
        ...range,
        Period: 60,
        Statistics: ['Average', 'Maximum', 'SampleCount'],
      })
      expect(statistics.statusCode, statistics.body).toBe(200)
      const percentiles = await cloudwatch(protocol, 'GetMetricStatistics', {
        ...metric,
        ...range,
        Period: 3600,
        ExtendedStatistics: ['p50', 'p99'],
      })
      expect(percentiles.statusCode, percentiles.body).toBe(200)
      expect((await cloudwatch(protocol, 'GetMetricStatistics', { ...metric, ...range, Period: 7 })).statusCode).toBe(
        400,
      )
      expect(
        (await cloudwatch(protocol, 'GetMetricStatistics', { ...range, Period: 60, Statistics: ['Sum'] })).statusCode,
      ).toBe(400)
      const data = await cloudwatch(protocol, 'GetMetricData', {
        ...range,
        MetricDataQueries: [{ Id: 'stored', MetricStat: { Metric: metric, Period: 60, Stat: 'Maximum' } }],
      })
      expect(data.statusCode, data.body).toBe(200)
      expect(
        (
          await cloudwatch(protocol, 'GetMetricData', {
            ...range,
            MetricDataQueries: [{ Id: 'm', MetricStat: { Metric: metric, Period: 60, Stat: 'Sum' } }],
            NextToken: 'x',
          })
        ).statusCode,
      ).toBe(400)
      expect((await cloudwatch(protocol, 'DeleteAlarms', { AlarmNames: ['x'] })).statusCode).toBe(400)

      for (const operation of Object.keys(CLOUDWATCH_ACTIONS)) {
        expect(seen.get(`cloudwatch:${operation}${protocol === 'query' ? '' : `:${protocol}`}`), operation).toEqual({
          ok: true,
          error: true,
        })
      }
      expect(problems).toEqual([])
    },
  )
})
