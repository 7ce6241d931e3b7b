import { cbor } from '@smithy/core/cbor'
import type { FastifyInstance, InjectOptions } from 'fastify'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { buildRdsEndpoint } from './rds-endpoint.js'
import { FakeClusterRegistry } from './test-support/fake-cluster-registry.js'
import { seededRandom as random } from '@backtrack/core/testing'

// Bounded fuzzing of the endpoint: valid requests of every action, mutated (members dropped, duplicated, renamed,
// values replaced by odd strings, numbers, encodings), random bodies and content types, JSON and CBOR for CloudWatch.
// Invariants: never a 5xx, and a request that is refused changes nothing. The seed is printed on failure;
// BACKTRACK_FUZZ_SEED and BACKTRACK_FUZZ_ROUNDS replay or extend a run.

const SEED = Number(process.env['BACKTRACK_FUZZ_SEED'] ?? 20261124)
const ROUNDS = Number(process.env['BACKTRACK_FUZZ_ROUNDS'] ?? 2500)
const NOW = Date.parse('2026-11-24T12:00:00Z')
const FORM = 'application/x-www-form-urlencoded; charset=utf-8'
const CLUSTER_ARN = 'arn:aws:rds:us-east-1:000000000000:cluster:labstack-cluster'

/** Form encoding of any string (a lone surrogate becomes U+FFFD's bytes, as a client's UTF-8 encoder sends it). */
function percentEncode(text: string): string {
  return [...Buffer.from(text, 'utf8')]
    .map((byte) =>
      /[A-Za-z0-9_.~-]/.test(String.fromCharCode(byte))
        ? String.fromCharCode(byte)
        : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`,
    )
    .join('')
}

const VALID: Record<string, string>[] = [
  { Action: 'DescribeDBClusters' },
  { Action: 'DescribeDBClusters', DBClusterIdentifier: 'labstack-cluster', MaxRecords: '20' },
  { Action: 'DescribeDBClusters', 'Filters.Filter.1.Name': 'clone-group-id', 'Filters.Filter.1.Values.Value.1': 'x' },
  {
    Action: 'DescribeDBInstances',
    'Filters.Filter.1.Name': 'db-cluster-id',
    'Filters.Filter.1.Values.Value.1': 'labstack-cluster',
  },
  { Action: 'BacktrackDBCluster', DBClusterIdentifier: 'labstack-cluster', BacktrackTo: '2026-11-24T11:30:00Z' },
  {
    Action: 'DescribeDBClusterBacktracks',
    DBClusterIdentifier: 'labstack-cluster',
    'Filters.Filter.1.Name': 'db-cluster-backtrack-status',
    'Filters.Filter.1.Values.Value.1': 'completed',
  },
  {
    Action: 'ModifyDBCluster',
    DBClusterIdentifier: 'labstack-cluster',
    BacktrackWindow: '7200',
    ApplyImmediately: 'true',
  },
  {
    Action: 'CreateDBCluster',
    DBClusterIdentifier: 'fuzz-a',
    Engine: 'aurora-mysql',
    MasterUsername: 'admin',
    MasterUserPassword: 'password-1',
    BacktrackWindow: '600',
    'Tags.Tag.1.Key': 'k',
    'Tags.Tag.1.Value': 'v',
  },
  { Action: 'DeleteDBCluster', DBClusterIdentifier: 'fuzz-a', SkipFinalSnapshot: 'true' },
  {
    Action: 'CreateDBInstance',
    DBInstanceIdentifier: 'fuzz-i',
    DBClusterIdentifier: 'labstack-cluster',
    DBInstanceClass: 'db.r6g.large',
    Engine: 'aurora-mysql',
  },
  { Action: 'DeleteDBInstance', DBInstanceIdentifier: 'fuzz-i' },
  {
    Action: 'RestoreDBClusterToPointInTime',
    DBClusterIdentifier: 'fuzz-r',
    SourceDBClusterIdentifier: 'labstack-cluster',
    UseLatestRestorableTime: 'true',
  },
  { Action: 'AddTagsToResource', ResourceName: CLUSTER_ARN, 'Tags.Tag.1.Key': 'team', 'Tags.Tag.1.Value': 'db' },
  { Action: 'RemoveTagsFromResource', ResourceName: CLUSTER_ARN, 'TagKeys.member.1': 'team' },
  { Action: 'ListTagsForResource', ResourceName: CLUSTER_ARN },
  {
    Action: 'DescribeEvents',
    SourceType: 'db-cluster',
    Duration: '60',
    'EventCategories.EventCategory.1': 'backtrack',
  },
  { Action: 'DescribeEventCategories', SourceType: 'db-instance' },
]

const CLOUDWATCH: Record<string, unknown>[] = [
  {
    operation: 'ListMetrics',
    Namespace: 'AWS/RDS',
    Dimensions: [{ Name: 'DBClusterIdentifier', Value: 'labstack-cluster' }],
  },
  {
    operation: 'GetMetricStatistics',
    Namespace: 'AWS/RDS',
    MetricName: 'BacktrackChangeRecordsStored',
    Dimensions: [{ Name: 'DBClusterIdentifier', Value: 'labstack-cluster' }],
    StartTime: (NOW - 3_600_000) / 1000,
    EndTime: NOW / 1000,
    Period: 60,
    Statistics: ['Average'],
  },
  {
    operation: 'GetMetricData',
    StartTime: (NOW - 3_600_000) / 1000,
    EndTime: NOW / 1000,
    MetricDataQueries: [
      {
        Id: 'm',
        MetricStat: {
          Metric: {
            Namespace: 'AWS/RDS',
            MetricName: 'BacktrackWindowActual',
            Dimensions: [{ Name: 'DBClusterIdentifier', Value: 'labstack-cluster' }],
          },
          Period: 300,
          Stat: 'Maximum',
        },
      },
    ],
  },
]

const ODD_VALUES = [
  '',
  ' ',
  '-1',
  '0',
  '99999999999999999999',
  '1e309',
  'NaN',
  'true',
  'null',
  '%',
  '%ZZ',
  '&=&=',
  '\u0000',
  '\ud800',
  '😀',
  '<x>&amp;</x>',
  "'; DROP TABLE t; --",
  'arn:aws:rds:us-east-1:000000000000:db:labstack-cluster-instance-1',
  'a'.repeat(5000),
  '2026-02-30T25:61:61Z',
  '1970-01-01T00:00:00Z',
  '__proto__',
  'constructor',
]

suite()

function suite(): void {
  describe(`fuzzing the endpoint (seed ${SEED}, ${ROUNDS} requests)`, () => {
    let app: FastifyInstance
    let registry: FakeClusterRegistry
    let catalogData = ''

    async function snapshot(): Promise<string> {
      const clusters = await Promise.all(
        registry.list().map(async (engine) => ({
          cluster: await engine.describeCluster(),
          backtracks: (await engine.describeBacktracks()).backtracks,
        })),
      )
      const events = registry.events({ startTime: new Date(0), endTime: new Date(8.64e15) }).length
      return JSON.stringify({ clusters, events, catalog: catalogData })
    }

    beforeAll(() => {
      registry = new FakeClusterRegistry({
        clock: () => new Date(NOW),
        store: { load: () => undefined, save: (data) => void (catalogData = JSON.stringify(data)) },
      })
      registry.add({ identifier: 'labstack-cluster', createdAt: new Date(NOW - 7_200_000), databaseName: 'mylab' })
      app = buildRdsEndpoint({ registry, now: () => new Date(NOW) })
    })

    afterAll(async () => {
      await app.close()
    })

    it('never answers with a 5xx, and a refused request changes nothing', async () => {
      const next = random(SEED)
      const pick = <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)]!
      const failures: string[] = []
      const statuses = new Map<number, number>()

      const queryRequest = (): InjectOptions => {
        const params = { ...pick(VALID) }
        const names = Object.keys(params)
        for (let m = 0, count = 1 + Math.floor(next() * 3); m < count; m++) {
          const name = pick(names)
          switch (Math.floor(next() * 7)) {
            case 0:
              delete params[name]
              break
            case 1:
              params[name] = pick(ODD_VALUES)
              break
            case 2:
              params[`${name}.${Math.floor(next() * 3)}`] = pick(ODD_VALUES)
              break
            case 3:
              params[
                pick(['Filters.Filter.1.Name', 'Tags.Tag.2.Key', 'TagKeys.member.9', 'MaxRecords', 'Marker', 'Version'])
              ] = pick(ODD_VALUES)
              break
            case 4:
              params['Action'] = pick([...VALID.map((valid) => valid['Action']!), 'Nope', 'describedbclusters'])
              break
            case 5:
              params[name] = (params[name] ?? '').split('').reverse().join('')
              break
            default:
              params[name] = `${params[name] ?? ''}${pick(ODD_VALUES)}`
          }
        }
        let body = Object.entries({ Version: '2014-10-31', ...params })
          .map(([key, value]) => `${percentEncode(key)}=${percentEncode(value)}`)
          .join('&')
        if (next() < 0.1) body = body.slice(0, Math.floor(next() * body.length))
        if (next() < 0.05) body = body.replace(/%[0-9A-F]{2}/, '%G')
        const contentType =
          next() < 0.9
            ? FORM
            : pick(['text/plain', 'application/json', '', 'application/x-www-form-urlencoded; charset=latin1'])
        const method = next() < 0.9 ? 'POST' : pick(['GET', 'PUT', 'DELETE'] as const)
        return method === 'GET'
          ? { method, url: `/?${body}` }
          : {
              method,
              url: next() < 0.95 ? '/' : pick(['/x', '/%zz', '//', '/service/x/operation/y']),
              headers: { 'content-type': contentType },
              payload: body,
            }
      }

      const documentRequest = (): InjectOptions => {
        const { operation, ...input } = structuredClone(pick(CLOUDWATCH)) as { operation: string } & Record<
          string,
          unknown
        >
        const mutate = (value: unknown, depth: number): unknown => {
          if (depth > 4 || next() < 0.15)
            return pick<unknown>([...ODD_VALUES, -1, 0, 1.5, 1e308, true, null, [], {}, [1, 'x']])
          if (Array.isArray(value)) return value.map((item) => mutate(item, depth + 1))
          if (typeof value === 'object' && value !== null) {
            const out: Record<string, unknown> = {}
            for (const [key, child] of Object.entries(value)) if (next() > 0.1) out[key] = mutate(child, depth + 1)
            if (next() < 0.1) out[pick(['Extra', '__proto__', 'NextToken', 'Unit'])] = pick(ODD_VALUES)
            return out
          }
          return value
        }
        const mutated = next() < 0.8 ? mutate(input, 0) : input
        const cborBody = next() < 0.5
        const op = next() < 0.95 ? operation : pick(['PutMetricData', 'DeleteAlarms', '', 'listmetrics'])
        let payload: Buffer
        try {
          payload = cborBody ? Buffer.from(cbor.serialize(mutated)) : Buffer.from(JSON.stringify(mutated) ?? 'null')
        } catch {
          payload = Buffer.from([0xff, 0x00, 0x9f])
        }
        if (next() < 0.15) payload = payload.subarray(0, Math.floor(next() * payload.length))
        if (next() < 0.05) payload = Buffer.from(Array.from({ length: 64 }, () => Math.floor(next() * 256)))
        return cborBody
          ? {
              method: 'POST',
              url: `/service/GraniteServiceVersion20100801/operation/${op}`,
              headers: { 'content-type': 'application/cbor', 'smithy-protocol': 'rpc-v2-cbor' },
              payload,
            }
          : {
              method: 'POST',
              url: '/',
              headers: {
                'content-type': 'application/x-amz-json-1.0',
                'x-amz-target': `GraniteServiceVersion20100801.${op}`,
              },
              payload,
            }
      }

      let before = await snapshot()
      for (let round = 0; round < ROUNDS; round++) {
        const request = next() < 0.75 ? queryRequest() : documentRequest()
        const response = await app.inject(request)
        statuses.set(response.statusCode, (statuses.get(response.statusCode) ?? 0) + 1)
        const after = await snapshot()
        const shown = `round ${round}: ${request.method} ${JSON.stringify(request.url)} ${JSON.stringify(request.payload)?.slice(0, 300)} → ${response.statusCode} ${response.body.slice(0, 300)}`
        if (response.statusCode >= 500) failures.push(`5xx at ${shown}`)
        if (response.statusCode >= 400 && after !== before)
          failures.push(`a refused request changed the state at ${shown}`)
        if (response.statusCode < 400)
          registry.list().forEach((engine) => (engine as { completeAll?: () => void }).completeAll?.())
        before = await snapshot()
        if (failures.length >= 5) break
      }
      expect(failures, `seed ${SEED}`).toEqual([])
      // The run reached past validation too, not only refusals.
      expect(statuses.get(200) ?? 0).toBeGreaterThan(ROUNDS / 20)
      expect([...statuses.keys()].every((status) => status < 500)).toBe(true)
    }, 120_000)
  })
}
