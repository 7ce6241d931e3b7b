import { BacktrackError, type DBClusterBacktrack, type PollClock } from '@backtrack/core'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { createRdsEngine, RdsEngine, type RdsEngineConfig } from './rds-engine.js'
import type { SqlConnection } from './server-clock.js'
import {
  jsonResult,
  queryError,
  queryResult,
  startFakeAwsEndpoint,
  type FakeAwsEndpoint,
} from './test-support/fake-aws-endpoint.js'
import {
  BACKTRACK_ID,
  CLUSTER_ARN,
  CLUSTER_ID,
  backtrackFields,
  clusterFields,
  describeBacktracks,
  describeClusters,
  tags,
} from './test-support/fixtures.js'

let aws: FakeAwsEndpoint
const engines: RdsEngine[] = []

beforeEach(async () => {
  aws = await startFakeAwsEndpoint()
})

afterEach(async () => {
  for (const engine of engines.splice(0)) await engine.close()
  await aws.close()
  vi.unstubAllEnvs()
})

function engine(config: Partial<RdsEngineConfig> = {}): RdsEngine {
  const created = createRdsEngine({ clusterIdentifier: CLUSTER_ID, client: aws.rdsClient(), ...config })
  engines.push(created)
  return created
}

/** An engine whose client believes it talks to real RDS (the guard applies). */
function liveEngine(config: Partial<RdsEngineConfig> = {}): RdsEngine {
  return engine({ client: aws.rdsClient({ as: 'rds.us-east-1.amazonaws.com' }), ...config })
}

/** The cluster describes itself as the simulator's (its `aws:backtrack:simulated` tag): the live guard lets it through. */
function simulatedCluster(): void {
  aws.on(
    'DescribeDBClusters',
    describeClusters(clusterFields({ TagList: tags({ 'aws:backtrack:simulated': 'true' }) })),
  )
}

function fakeClock(): PollClock & { sleeps: number[] } {
  let now = 1_000_000
  const sleeps: number[] = []
  return {
    sleeps,
    now: () => now,
    async sleep(ms, signal) {
      signal?.throwIfAborted()
      sleeps.push(ms)
      now += ms
    },
  }
}

async function rejection(promise: Promise<unknown>): Promise<BacktrackError> {
  try {
    await promise
  } catch (error) {
    if (error instanceof BacktrackError) return error
    throw error
  }
  throw new Error('expected a rejection')
}

const actions = (): string[] => aws.requests.map((request) => request.action)

describe('describeCluster', () => {
  it('maps DescribeDBClusters onto the core DBCluster, with the identifier lower-cased', async () => {
    aws.on('DescribeDBClusters', describeClusters(clusterFields({ Status: 'Backtracking' })))
    const cluster = await engine({ clusterIdentifier: 'LabStack-Cluster' }).describeCluster()
    expect(aws.requests[0]?.params).toMatchObject({ Action: 'DescribeDBClusters', DBClusterIdentifier: CLUSTER_ID })
    expect(cluster).toEqual({
      DBClusterIdentifier: CLUSTER_ID,
      DBClusterArn: CLUSTER_ARN,
      Status: 'backtracking',
      Engine: 'aurora-mysql',
      EngineVersion: '8.0.mysql_aurora.3.05.2',
      Endpoint: `${CLUSTER_ID}.cluster-cnpexample.us-east-1.rds.amazonaws.com`,
      Port: 3306,
      MasterUsername: 'admin',
      DatabaseName: 'mylab',
      ClusterCreateTime: new Date('2026-11-20T10:00:00.123Z'),
      BacktrackWindow: 86400,
      EarliestBacktrackTime: new Date('2026-11-23T00:00:00Z'),
      BacktrackConsumedChangeRecords: 123456,
      LatestRestorableTime: new Date('2026-11-24T00:00:00Z'),
    })
  })

  it('reads a cluster without backtracking as a window of 0 and leaves absent optional fields out', async () => {
    aws.on(
      'DescribeDBClusters',
      describeClusters(
        clusterFields({
          BacktrackWindow: undefined,
          EarliestBacktrackTime: undefined,
          BacktrackConsumedChangeRecords: undefined,
          DatabaseName: undefined,
          LatestRestorableTime: undefined,
        }),
      ),
    )
    const cluster = await engine().describeCluster()
    expect(cluster.BacktrackWindow).toBe(0)
    expect(cluster.BacktrackConsumedChangeRecords).toBe(0)
    expect(Object.keys(cluster)).not.toContain('EarliestBacktrackTime')
    expect(Object.keys(cluster)).not.toContain('DatabaseName')
  })

  it('folds RDS states outside the testbed set into the nearest one', async () => {
    aws.on(
      'DescribeDBClusters',
      describeClusters(clusterFields({ Status: 'backing-up' })),
      describeClusters(clusterFields({ Status: 'inaccessible-encryption-credentials' })),
    )
    expect((await engine().describeCluster()).Status).toBe('modifying')
    expect((await engine().describeCluster()).Status).toBe('failed')
  })

  it('says DBClusterNotFoundFault when the list comes back empty', async () => {
    aws.on('DescribeDBClusters', describeClusters())
    const error = await rejection(engine().describeCluster())
    expect(error.code).toBe('DBClusterNotFoundFault')
    expect(error.message).toBe(`DBCluster ${CLUSTER_ID} not found.`)
  })

  it('rejects an invalid cluster identifier before calling AWS', () => {
    expect(() => createRdsEngine({ clusterIdentifier: 'a--b', client: aws.rdsClient() })).toThrow(
      expect.objectContaining({ code: 'InvalidParameterValue' }),
    )
  })
})

describe('backtrack', () => {
  it('sends BacktrackDBCluster and lower-cases the PENDING status real Aurora returns', async () => {
    simulatedCluster()
    aws.on('BacktrackDBCluster', queryResult('BacktrackDBCluster', backtrackFields()))
    const record = await engine().backtrack({
      backtrackTo: new Date('2026-11-24T00:10:00.253Z'),
      force: true,
      useEarliestTimeOnPointInTimeUnavailable: false,
    })
    expect(aws.requests.at(-1)?.params).toMatchObject({
      Action: 'BacktrackDBCluster',
      DBClusterIdentifier: CLUSTER_ID,
      BacktrackTo: '2026-11-24T00:10:00.253Z',
      Force: 'true',
      UseEarliestTimeOnPointInTimeUnavailable: 'false',
    })
    expect(record).toEqual({
      DBClusterIdentifier: CLUSTER_ID,
      BacktrackIdentifier: BACKTRACK_ID,
      BacktrackTo: new Date('2026-11-24T00:10:00Z'),
      BacktrackRequestCreationTime: new Date('2026-11-24T00:12:01.104Z'),
      Status: 'pending',
    })
  })

  it('sends no optional flag that was not given', async () => {
    simulatedCluster()
    aws.on('BacktrackDBCluster', queryResult('BacktrackDBCluster', backtrackFields()))
    await engine().backtrack({ backtrackTo: new Date('2026-11-24T00:10:00Z') })
    expect(Object.keys(aws.requests.at(-1)?.params ?? {})).toEqual([
      'Action',
      'Version',
      'DBClusterIdentifier',
      'BacktrackTo',
    ])
  })

  it('refuses an invalid date before calling AWS', async () => {
    expect((await rejection(engine().backtrack({ backtrackTo: new Date('nope') }))).code).toBe('InvalidParameterValue')
    expect(aws.requests).toEqual([])
  })

  it('fails loudly on a status outside the documented four', async () => {
    simulatedCluster()
    aws.on('BacktrackDBCluster', queryResult('BacktrackDBCluster', backtrackFields({ Status: 'ROLLING_BACK' })))
    const error = await rejection(engine().backtrack({ backtrackTo: new Date() }))
    expect(error.code).toBe('InternalFailure')
    expect(error.message).toContain('ROLLING_BACK')
  })
})

describe('describeBacktracks', () => {
  const ids = Array.from({ length: 25 }, (_, i) => `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`)

  it('follows Marker page by page, passing MaxRecords and Marker through', async () => {
    aws.on('DescribeDBClusterBacktracks', ({ params }) =>
      params['Marker'] === undefined
        ? describeBacktracks(
            ids.slice(0, 20).map((id) => backtrackFields({ BacktrackIdentifier: id, Status: 'COMPLETED' })),
            'page-2',
          )
        : describeBacktracks(ids.slice(20).map((id) => backtrackFields({ BacktrackIdentifier: id, Status: 'failed' }))),
    )
    const seen: DBClusterBacktrack[] = []
    let marker: string | undefined
    do {
      const page = await engine().describeBacktracks({ maxRecords: 20, ...(marker ? { marker } : {}) })
      seen.push(...page.backtracks)
      marker = page.marker
    } while (marker !== undefined)
    expect(seen.map((b) => b.BacktrackIdentifier)).toEqual(ids)
    expect(seen.filter((b) => b.Status === 'completed')).toHaveLength(20)
    expect(aws.requests.map((r) => [r.params['MaxRecords'], r.params['Marker']])).toEqual([
      ['20', undefined],
      ['20', 'page-2'],
    ])
  })

  it('sends the id and filters; status filters in both cases because Aurora reports upper case', async () => {
    aws.on('DescribeDBClusterBacktracks', describeBacktracks([]))
    const page = await engine().describeBacktracks({
      backtrackIdentifier: BACKTRACK_ID.toUpperCase(),
      filters: [{ name: 'db-cluster-backtrack-status', values: ['completed', 'Applying'] }],
    })
    expect(page).toEqual({ backtracks: [] })
    expect(aws.requests[0]?.params).toMatchObject({
      BacktrackIdentifier: BACKTRACK_ID,
      'Filters.Filter.1.Name': 'db-cluster-backtrack-status',
      'Filters.Filter.1.Values.Value.1': 'completed',
      'Filters.Filter.1.Values.Value.2': 'COMPLETED',
      'Filters.Filter.1.Values.Value.3': 'applying',
      'Filters.Filter.1.Values.Value.4': 'APPLYING',
    })
  })

  it('checks MaxRecords and the id with the core rules before calling AWS', async () => {
    expect((await rejection(engine().describeBacktracks({ maxRecords: 3 }))).code).toBe('InvalidParameterValue')
    expect((await rejection(engine().describeBacktracks({ backtrackIdentifier: 'nope' }))).code).toBe(
      'InvalidParameterValue',
    )
    expect(aws.requests).toEqual([])
  })
})

describe('waitForBacktrack', () => {
  beforeEach(() => {
    aws.on('DescribeDBClusters', describeClusters(clusterFields()))
  })

  function statuses(...sequence: string[]): void {
    aws.on(
      'DescribeDBClusterBacktracks',
      ...sequence.map((Status) =>
        describeBacktracks([
          backtrackFields({ Status, ...(Status === 'PENDING' ? {} : { BacktrackedFrom: '2026-11-24T00:13:14.2Z' }) }),
        ]),
      ),
    )
  }

  it('reports pending → applying → completed once each and backs off, resetting on every change', async () => {
    statuses('PENDING', 'PENDING', 'PENDING', 'APPLYING', 'APPLYING', 'COMPLETED')
    const clock = fakeClock()
    const seen: string[] = []
    const done = await engine({ clock }).waitForBacktrack(BACKTRACK_ID, {
      onProgress: (b) => seen.push(b.Status),
    })
    expect(done.Status).toBe('completed')
    expect(done.BacktrackedFrom).toEqual(new Date('2026-11-24T00:13:14.200Z'))
    expect(seen).toEqual(['pending', 'applying', 'completed'])
    expect(clock.sleeps).toEqual([2000, 4000, 8000, 2000, 4000])
    const polls = aws.requests.filter((r) => r.action === 'DescribeDBClusterBacktracks')
    expect(polls.every((r) => r.params['BacktrackIdentifier'] === BACKTRACK_ID)).toBe(true)
    expect(actions().at(-1)).toBe('DescribeDBClusters')
  })

  it('waits for the cluster to leave backtracking after the backtrack completed (Aurora reports completed first)', async () => {
    statuses('APPLYING', 'COMPLETED')
    aws.on(
      'DescribeDBClusters',
      describeClusters(clusterFields({ Status: 'backtracking' })),
      describeClusters(clusterFields({ Status: 'backtracking' })),
      describeClusters(clusterFields({ Status: 'available' })),
    )
    const clock = fakeClock()
    const seen: string[] = []
    await engine({ clock }).waitForBacktrack(BACKTRACK_ID, { onProgress: (b) => seen.push(b.Status) })
    expect(seen).toEqual(['applying', 'completed'])
    expect(actions().filter((action) => action === 'DescribeDBClusters')).toHaveLength(3)
    expect(clock.sleeps).toEqual([2000, 2000, 4000])
  })

  it('polls at the cadence the engine was built with, unless the wait says otherwise', async () => {
    statuses('PENDING', 'APPLYING', 'APPLYING', 'COMPLETED')
    const clock = fakeClock()
    await engine({ clock, poll: { pollMs: 100, maxPollMs: 150 } }).waitForBacktrack(BACKTRACK_ID)
    expect(clock.sleeps).toEqual([100, 100, 150])
  })

  it('caps the interval at 30 s', async () => {
    statuses(...Array<string>(8).fill('APPLYING'), 'COMPLETED')
    const clock = fakeClock()
    await engine({ clock }).waitForBacktrack(BACKTRACK_ID, { pollMs: 5000 })
    expect(clock.sleeps).toEqual([5000, 10000, 20000, 30000, 30000, 30000, 30000, 30000])
  })

  it('gives up with ServiceUnavailable after the timeout, last sleep trimmed to the deadline', async () => {
    statuses('APPLYING')
    const clock = fakeClock()
    const error = await rejection(engine({ clock }).waitForBacktrack(BACKTRACK_ID, { timeoutMs: 10_000 }))
    expect(error.code).toBe('ServiceUnavailable')
    expect(error.message).toContain(`still applying after 10 s`)
    expect(clock.sleeps).toEqual([2000, 4000, 4000])
  })

  it('rejects with InternalFailure when the backtrack failed', async () => {
    statuses('PENDING', 'FAILED')
    const seen: string[] = []
    const error = await rejection(
      engine({ clock: fakeClock() }).waitForBacktrack(BACKTRACK_ID, { onProgress: (b) => seen.push(b.Status) }),
    )
    expect(error.code).toBe('InternalFailure')
    expect(error.message).toContain(`Backtrack ${BACKTRACK_ID} of cluster ${CLUSTER_ID} to 2026-11-24T00:10:00Z failed`)
    expect(seen).toEqual(['pending', 'failed'])
  })

  it('says DBClusterBacktrackNotFoundFault for an unknown id', async () => {
    aws.on('DescribeDBClusterBacktracks', queryError(404, 'DBClusterBacktrackNotFoundFault', 'Backtrack x not found.'))
    expect((await rejection(engine().waitForBacktrack(BACKTRACK_ID))).code).toBe('DBClusterBacktrackNotFoundFault')
  })

  it('cuts a request in flight short when the signal aborts', async () => {
    aws.on('DescribeDBClusterBacktracks', { ...describeBacktracks([backtrackFields()]), delayMs: 10_000 })
    const controller = new AbortController()
    const reason = new Error('stop now')
    const started = Date.now()
    const waiting = engine().waitForBacktrack(BACKTRACK_ID, { signal: controller.signal })
    setTimeout(() => controller.abort(reason), 50)
    await expect(waiting).rejects.toBe(reason)
    expect(Date.now() - started).toBeLessThan(5_000)
  })

  it('stops when the signal aborts, with the signal reason', async () => {
    statuses('PENDING')
    const controller = new AbortController()
    const reason = new Error('user pressed ^C')
    const waiting = engine().waitForBacktrack(BACKTRACK_ID, {
      pollMs: 60_000,
      signal: controller.signal,
      onProgress: () => controller.abort(reason),
    })
    await expect(waiting).rejects.toBe(reason)
  })
})

describe('error mapping over the wire', () => {
  it.each([
    [404, 'DBClusterNotFoundFault', 'DBClusterNotFoundFault', 'DBCluster labstack-cluster not found.'],
    [404, 'DBClusterBacktrackNotFoundFault', 'DBClusterBacktrackNotFoundFault', 'Backtrack x not found.'],
    [400, 'InvalidDBClusterStateFault', 'InvalidDBClusterStateFault', 'DBCluster is not available.'],
    [400, 'InvalidParameterValue', 'InvalidParameterValue', 'BacktrackTo is in the future.'],
    [400, 'InvalidParameterCombination', 'InvalidParameterCombination', 'mode: SERVERLESS does not support Backtrack.'],
    [400, 'MissingParameter', 'MissingParameter', 'DBClusterIdentifier is required.'],
    [400, 'ValidationError', 'InvalidParameterValue', '1 validation error detected.'],
    [403, 'InvalidClientTokenId', 'InvalidClientTokenId', 'The security token included in the request is invalid.'],
    [403, 'SignatureDoesNotMatch', 'SignatureDoesNotMatch', 'The request signature we calculated does not match.'],
    [403, 'ExpiredToken', 'InvalidClientTokenId', 'The security token included in the request is expired'],
    [403, 'AccessDenied', 'AccessDenied', 'User: arn:aws:iam::1:user/x is not authorized to perform: rds:Describe'],
    [500, 'InternalFailure', 'InternalFailure', 'The request processing has failed.'],
    [503, 'ServiceUnavailable', 'ServiceUnavailable', 'Service is unavailable.'],
    [400, 'LiveBacktrackNotConfirmed', 'LiveBacktrackNotConfirmed', 'Refused by the simulator.'],
  ] as const)('%i %s becomes %s', async (status, awsCode, code, message) => {
    aws.on('DescribeDBClusters', queryError(status, awsCode, message, status >= 500 ? 'Receiver' : 'Sender'))
    const error = await rejection(engine({ client: aws.rdsClient({ maxAttempts: 1 }) }).describeCluster())
    expect(error.code).toBe(code)
    expect(error.message).toBe(message)
    expect(error.cause).toMatchObject({ name: awsCode, $metadata: { httpStatusCode: status } })
  })

  it('keeps an unknown AWS code in the message of an InternalFailure', async () => {
    aws.on('DescribeDBClusters', queryError(400, 'OptInRequired', 'Subscribe first.'))
    const error = await rejection(engine().describeCluster())
    expect(error.code).toBe('InternalFailure')
    expect(error.message).toBe('OptInRequired: Subscribe first.')
  })

  it('retries Throttling (SDK standard retry) and then succeeds', async () => {
    aws.on(
      'DescribeDBClusters',
      queryError(400, 'Throttling', 'Rate exceeded'),
      describeClusters(clusterFields({ Status: 'available' })),
    )
    expect((await engine().describeCluster()).Status).toBe('available')
    expect(actions()).toEqual(['DescribeDBClusters', 'DescribeDBClusters'])
  })

  it('says Throttling once the retries are spent', async () => {
    aws.on('DescribeDBClusters', queryError(400, 'Throttling', 'Rate exceeded'))
    const error = await rejection(engine({ client: aws.rdsClient({ maxAttempts: 1 }) }).describeCluster())
    expect(error.code).toBe('Throttling')
    expect(error.message).toBe('Rate exceeded')
  })

  it('says ServiceUnavailable when nothing listens', async () => {
    const url = aws.url
    await aws.close()
    const error = await rejection(
      createRdsEngine({ clusterIdentifier: CLUSTER_ID, endpointUrl: url, maxAttempts: 1 }).describeCluster(),
    )
    aws = await startFakeAwsEndpoint()
    expect(error.code).toBe('ServiceUnavailable')
    expect(error.message).toContain('ECONNREFUSED')
  })

  it('says MissingAuthenticationToken, with how to fix it, when no credentials can be found', async () => {
    const noCredentials = async (): Promise<never> => {
      throw Object.assign(new Error('Could not load credentials from any providers'), {
        name: 'CredentialsProviderError',
      })
    }
    const error = await rejection(
      createRdsEngine({
        clusterIdentifier: CLUSTER_ID,
        endpointUrl: 'https://rds.eu-west-1.amazonaws.com',
        region: 'eu-west-1',
        credentials: noCredentials,
      }).describeCluster(),
    )
    expect(error.code).toBe('MissingAuthenticationToken')
    expect(error.message).toMatch(/^Could not load credentials from any providers\. Configure AWS credentials/)
  })
})

describe('live-backtrack guard', () => {
  const backtrackOk = queryResult('BacktrackDBCluster', backtrackFields())
  const to = { backtrackTo: new Date('2026-11-24T00:10:00Z') }

  it('refuses an untagged live cluster and says exactly how to opt in', async () => {
    aws.on('DescribeDBClusters', describeClusters(clusterFields({ TagList: tags({ team: 'db' }) })))
    aws.on('BacktrackDBCluster', backtrackOk)
    const error = await rejection(liveEngine().backtrack(to))
    expect(error.code).toBe('LiveBacktrackNotConfirmed')
    expect(error.message).toContain(
      `aws rds add-tags-to-resource --resource-name ${CLUSTER_ARN} --tags Key=backtrack-testbed,Value=true`,
    )
    expect(error.message).toContain('--yes-really-backtrack-live')
    expect(actions()).toEqual(['DescribeDBClusters'])
    expect(aws.requests[0]?.host).toBe(`rds.us-east-1.amazonaws.com:${aws.port}`)
  })

  it('lets a cluster tagged backtrack-testbed=true through', async () => {
    aws.on('DescribeDBClusters', describeClusters(clusterFields({ TagList: tags({ 'backtrack-testbed': 'true' }) })))
    aws.on('BacktrackDBCluster', backtrackOk)
    expect((await liveEngine().backtrack(to)).Status).toBe('pending')
    expect(actions()).toEqual(['DescribeDBClusters', 'BacktrackDBCluster'])
  })

  it('asks ListTagsForResource when DescribeDBClusters carries no TagList', async () => {
    aws.on('DescribeDBClusters', describeClusters(clusterFields()))
    aws.on(
      'ListTagsForResource',
      queryResult('ListTagsForResource', { TagList: tags({ 'backtrack-testbed': 'true' }) }),
    )
    aws.on('BacktrackDBCluster', backtrackOk)
    await liveEngine().backtrack(to)
    expect(actions()).toEqual(['DescribeDBClusters', 'ListTagsForResource', 'BacktrackDBCluster'])
    expect(aws.requests[1]?.params['ResourceName']).toBe(CLUSTER_ARN)
  })

  it('lets confirmLive through without looking at tags', async () => {
    aws.on('BacktrackDBCluster', backtrackOk)
    await liveEngine({ confirmLive: true }).backtrack(to)
    expect(actions()).toEqual(['BacktrackDBCluster'])
  })

  it('guards a loopback endpoint that is not the simulator (a localhost proxy to real RDS)', async () => {
    aws.on('DescribeDBClusters', describeClusters(clusterFields({ TagList: tags({ team: 'db' }) })))
    aws.on('BacktrackDBCluster', backtrackOk)
    expect(aws.url).toMatch(/^http:\/\/127\.0\.0\.1:/)
    expect((await rejection(engine().backtrack(to))).code).toBe('LiveBacktrackNotConfirmed')
    expect(actions()).toEqual(['DescribeDBClusters'])
  })

  it('knows the simulator by the aws:backtrack:simulated tag its clusters carry, whatever its address', async () => {
    simulatedCluster()
    aws.on('BacktrackDBCluster', backtrackOk)
    expect((await liveEngine().backtrack(to)).Status).toBe('pending')
    expect((await engine().backtrack(to)).Status).toBe('pending')
    expect(actions()).toEqual(['DescribeDBClusters', 'BacktrackDBCluster', 'DescribeDBClusters', 'BacktrackDBCluster'])
  })

  it('also guards the irreversible window of 0, but not other windows', async () => {
    aws.on('DescribeDBClusters', describeClusters(clusterFields()))
    aws.on('ListTagsForResource', queryResult('ListTagsForResource', { TagList: tags({}) }))
    aws.on('ModifyDBCluster', queryResult('ModifyDBCluster', { DBCluster: clusterFields({ BacktrackWindow: 3600 }) }))
    expect((await rejection(liveEngine().modifyBacktrackWindow(0))).code).toBe('LiveBacktrackNotConfirmed')
    expect((await liveEngine().modifyBacktrackWindow(3600)).BacktrackWindow).toBe(3600)
  })
})

describe('modifyBacktrackWindow', () => {
  it('sends ModifyDBCluster with ApplyImmediately and returns the cluster', async () => {
    aws.on('ModifyDBCluster', queryResult('ModifyDBCluster', { DBCluster: clusterFields({ BacktrackWindow: 7200 }) }))
    const cluster = await engine().modifyBacktrackWindow(7200)
    expect(cluster.BacktrackWindow).toBe(7200)
    expect(aws.requests[0]?.params).toMatchObject({
      Action: 'ModifyDBCluster',
      DBClusterIdentifier: CLUSTER_ID,
      BacktrackWindow: '7200',
      ApplyImmediately: 'true',
    })
  })

  it('checks 0..259200 with the core rule before calling AWS', async () => {
    for (const bad of [-1, 259_201, 1.5]) {
      expect((await rejection(engine().modifyBacktrackWindow(bad))).code).toBe('InvalidParameterValue')
    }
    expect(aws.requests).toEqual([])
  })
})

describe('the SQL side', () => {
  function fakeSql(
    answers: (string | Error)[],
    server: { version?: string } = {},
  ): {
    connect: RdsEngineConfig['connectSql']
    opened: unknown[]
    closed: number
  } {
    const state = { opened: [] as unknown[], closed: 0 }
    const connect: RdsEngineConfig['connectSql'] = async (endpoint) => {
      state.opened.push(endpoint)
      const connection: SqlConnection = {
        async query() {
          const answer = answers.shift()
          if (answer instanceof Error) throw answer
          return [{ utc: answer, version: server.version ?? '8.0.mysql_aurora.3.05.2' }]
        },
        async close() {
          state.closed++
        },
      }
      return connection
    }
    return {
      connect,
      get opened() {
        return state.opened
      },
      get closed() {
        return state.closed
      },
    }
  }

  beforeEach(() => {
    aws.on('DescribeDBClusters', describeClusters(clusterFields()))
  })

  it('takes now() and mark() from the server clock: mark rounds up to the next millisecond', async () => {
    const sql = fakeSql(['2026-11-24T00:10:00.253499', '2026-11-24T00:10:00.253499', '2026-11-24T00:10:00.254000'])
    const rds = engine({ connectSql: sql.connect, sql: { user: 'lab', password: 'pw' } })
    expect((await rds.now()).toISOString()).toBe('2026-11-24T00:10:00.253Z')
    expect((await rds.mark()).toISOString()).toBe('2026-11-24T00:10:00.254Z')
    expect((await rds.mark()).toISOString()).toBe('2026-11-24T00:10:00.254Z')
    expect(sql.opened).toEqual([
      {
        host: `${CLUSTER_ID}.cluster-cnpexample.us-east-1.rds.amazonaws.com`,
        port: 3306,
        user: 'lab',
        password: 'pw',
        database: 'mylab',
      },
    ])
    await rds.close()
    expect(sql.closed).toBe(1)
  })

  it('on MariaDB, marks the next whole second and hands it out once the server clock has passed it', async () => {
    // MariaDB's binlog gives commits whole seconds: a mark inside a second could not separate its commits.
    const sql = fakeSql(['2026-11-24T00:10:00.253499', '2026-11-24T00:10:00.990000', '2026-11-24T00:10:01.006000'], {
      version: '10.11.6-MariaDB',
    })
    const clock = fakeClock()
    const rds = engine({ connectSql: sql.connect, sql: { user: 'lab', password: 'pw' }, clock })
    expect((await rds.mark()).toISOString()).toBe('2026-11-24T00:10:01.000Z')
    expect(clock.sleeps).toEqual([752, 15])
  })

  it('never goes through a control route of the endpoint: the engine speaks only the RDS API and SQL', async () => {
    const sql = fakeSql(['2026-11-24T00:10:00.253499'])
    const rds = engine({ connectSql: sql.connect, sql: { user: 'lab', password: 'pw' } })
    await rds.mark()
    expect(actions()).toEqual(['DescribeDBClusters'])
  })

  it('reconnects once when the server dropped the connection (Aurora does during a backtrack)', async () => {
    const lost = Object.assign(new Error('Connection lost: The server closed the connection.'), {
      code: 'PROTOCOL_CONNECTION_LOST',
    })
    const sql = fakeSql(['2026-11-24T00:10:00.000000', lost, '2026-11-24T00:11:00.000000'])
    const rds = engine({ connectSql: sql.connect, sql: { user: 'lab', password: 'pw' } })
    await rds.now()
    expect((await rds.mark()).toISOString()).toBe('2026-11-24T00:11:00.000Z')
    expect(sql.opened).toHaveLength(2)
  })

  it('says ServiceUnavailable, naming the endpoint, when the SQL side cannot be reached', async () => {
    const refused = Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' })
    const rds = engine({ connectSql: async () => Promise.reject(refused), sql: { user: 'lab', password: 'pw' } })
    const error = await rejection(rds.now())
    expect(error.code).toBe('ServiceUnavailable')
    expect(error.message).toContain(`${CLUSTER_ID}.cluster-cnpexample.us-east-1.rds.amazonaws.com:3306`)
    expect(error.cause).toBe(refused)
  })

  it('uses DBUSER/DBPASS when no sql credentials are configured', async () => {
    vi.stubEnv('DBUSER', 'envuser')
    vi.stubEnv('DBPASS', 'envpass')
    expect(await engine().sqlEndpoint()).toMatchObject({ user: 'envuser', password: 'envpass' })
  })

  it('falls back to the RDS-managed master user secret', async () => {
    vi.stubEnv('DBPASS', undefined)
    const secretArn = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:rds!cluster-1'
    aws.on(
      'DescribeDBClusters',
      describeClusters(clusterFields({ MasterUserSecret: { SecretArn: secretArn, SecretStatus: 'active' } })),
    )
    aws.on('GetSecretValue', jsonResult({ SecretString: JSON.stringify({ username: 'admin', password: 's3cr3t' }) }))
    const endpoint = await engine({ secretsClient: aws.secretsClient() }).sqlEndpoint()
    expect(endpoint).toMatchObject({ user: 'admin', password: 's3cr3t' })
    expect(aws.requests.find((r) => r.action === 'GetSecretValue')?.params).toEqual({ SecretId: secretArn })
  })

  it('says MissingParameter when there is no way to log in', async () => {
    vi.stubEnv('DBPASS', undefined)
    const error = await rejection(engine().sqlEndpoint())
    expect(error.code).toBe('MissingParameter')
    expect(error.message).toContain('DBUSER/DBPASS')
  })
})

describe('configuration', () => {
  it('honours AWS_ENDPOINT_URL_RDS through the SDK', async () => {
    vi.stubEnv('AWS_ENDPOINT_URL_RDS', aws.url)
    vi.stubEnv('AWS_ACCESS_KEY_ID', 'test')
    vi.stubEnv('AWS_SECRET_ACCESS_KEY', 'test')
    vi.stubEnv('AWS_REGION', 'us-east-1')
    simulatedCluster()
    aws.on('BacktrackDBCluster', queryResult('BacktrackDBCluster', backtrackFields()))
    const rds = createRdsEngine({ clusterIdentifier: CLUSTER_ID })
    engines.push(rds)
    await rds.backtrack({ backtrackTo: new Date('2026-11-24T00:10:00Z') })
    expect(actions()).toEqual(['DescribeDBClusters', 'BacktrackDBCluster'])
  })

  it('falls back to AWS_ENDPOINT_URL, with local credentials and region when none are set up', async () => {
    for (const name of [
      'AWS_ENDPOINT_URL_RDS',
      'AWS_ACCESS_KEY_ID',
      'AWS_PROFILE',
      'AWS_REGION',
      'AWS_DEFAULT_REGION',
    ]) {
      vi.stubEnv(name, undefined)
    }
    vi.stubEnv('AWS_ENDPOINT_URL', aws.url)
    aws.on('DescribeDBClusters', describeClusters(clusterFields()))
    const rds = createRdsEngine({ clusterIdentifier: CLUSTER_ID })
    engines.push(rds)
    expect((await rds.describeCluster()).DBClusterIdentifier).toBe(CLUSTER_ID)
  })

  it('leaves an injected client usable after close()', async () => {
    const client = aws.rdsClient()
    aws.on('DescribeDBClusters', describeClusters(clusterFields()))
    await new RdsEngine({ clusterIdentifier: CLUSTER_ID, client }).close()
    await expect(engine({ client }).describeCluster()).resolves.toMatchObject({ Status: 'available' })
  })
})
