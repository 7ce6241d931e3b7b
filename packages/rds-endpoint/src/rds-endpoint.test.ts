import type { FastifyInstance, LightMyRequestResponse } from 'fastify'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import type { ClusterRegistry } from './cluster-registry.js'
import type { FakeEngine } from '@backtrack/core/testing'
import { FakeClusterRegistry } from './test-support/fake-cluster-registry.js'
import { buildRdsEndpoint, RDS_XMLNS } from './rds-endpoint.js'

const T0 = Date.parse('2026-11-24T12:00:00Z')
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/
const FORM = 'application/x-www-form-urlencoded; charset=utf-8'

function texts(xml: string, tag: string): string[] {
  return [...xml.matchAll(new RegExp(`<${tag}>([^<]*)</${tag}>`, 'g'))].map((match) => match[1] ?? '')
}

function text(xml: string, tag: string): string | undefined {
  return texts(xml, tag)[0]
}

function errorOf(response: LightMyRequestResponse) {
  return {
    status: response.statusCode,
    type: text(response.body, 'Type'),
    code: text(response.body, 'Code'),
    message: text(response.body, 'Message'),
  }
}

let nowMs = T0
const clock = () => new Date(nowMs)
let registry: FakeClusterRegistry
let cluster: FakeEngine
let app: FastifyInstance

function call(params: Record<string, string | undefined>, contentType = FORM) {
  const form = new URLSearchParams({ Version: '2014-10-31' })
  for (const [name, value] of Object.entries(params)) if (value !== undefined) form.set(name, value)
  return app.inject({ method: 'POST', url: '/', headers: { 'content-type': contentType }, payload: form.toString() })
}

async function backtrackAndComplete(to: Date): Promise<string> {
  const response = await call({
    Action: 'BacktrackDBCluster',
    DBClusterIdentifier: 'labstack-cluster',
    BacktrackTo: to.toISOString(),
  })
  expect(response.statusCode).toBe(200)
  cluster.completeAll()
  return text(response.body, 'BacktrackIdentifier') ?? ''
}

beforeEach(() => {
  nowMs = T0
  registry = new FakeClusterRegistry({ clock })
  cluster = registry.add({
    identifier: 'labstack-cluster',
    createdAt: new Date(T0 - 3_600_000),
    databaseName: 'mylab',
    port: 13306,
  })
  app = buildRdsEndpoint({ registry, now: clock })
})

afterEach(async () => {
  await app.close()
})

describe('response envelope', () => {
  it('wraps results in <XResponse xmlns><XResult> with a RequestId in the body and the x-amzn-RequestId header', async () => {
    const response = await call({ Action: 'DescribeDBClusters', DBClusterIdentifier: 'labstack-cluster' })
    expect(response.statusCode).toBe(200)
    expect(response.headers['content-type']).toMatch(/^text\/xml/)
    const requestId = response.headers['x-amzn-requestid']
    expect(requestId).toMatch(UUID)
    expect(response.body).toMatch(
      new RegExp(
        `^<DescribeDBClustersResponse xmlns="${RDS_XMLNS}"><DescribeDBClustersResult><DBClusters><DBCluster>.*</DBCluster></DBClusters></DescribeDBClustersResult><ResponseMetadata><RequestId>${String(requestId)}</RequestId></ResponseMetadata></DescribeDBClustersResponse>$`,
      ),
    )
  })

  it('gives every request its own RequestId', async () => {
    const a = await call({ Action: 'DescribeDBClusters' })
    const b = await call({ Action: 'DescribeDBClusters' })
    expect(a.headers['x-amzn-requestid']).not.toBe(b.headers['x-amzn-requestid'])
  })

  it('sends errors as <ErrorResponse xmlns><Error><Type><Code><Message></Error><RequestId>', async () => {
    const response = await call({ Action: 'DescribeDBClusters', DBClusterIdentifier: 'nope' })
    const requestId = response.headers['x-amzn-requestid']
    expect(requestId).toMatch(UUID)
    expect(response.statusCode).toBe(404)
    expect(response.body).toBe(
      `<ErrorResponse xmlns="${RDS_XMLNS}"><Error><Type>Sender</Type><Code>DBClusterNotFoundFault</Code>` +
        `<Message>DBCluster nope not found.</Message></Error><RequestId>${String(requestId)}</RequestId></ErrorResponse>`,
    )
  })
})

describe('DescribeDBClusters', () => {
  it('describes a cluster with the fields the CLI and SDK read', async () => {
    cluster.recordChanges(42)
    const response = await call({ Action: 'DescribeDBClusters', DBClusterIdentifier: 'LabStack-Cluster' })
    const xml = response.body
    expect(text(xml, 'DBClusterIdentifier')).toBe('labstack-cluster')
    expect(text(xml, 'DBClusterArn')).toBe('arn:aws:rds:us-east-1:000000000000:cluster:labstack-cluster')
    expect(text(xml, 'Status')).toBe('available')
    expect(text(xml, 'Engine')).toBe('aurora-mysql')
    expect(text(xml, 'EngineMode')).toBe('provisioned')
    expect(text(xml, 'Endpoint')).toBe('127.0.0.1')
    expect(text(xml, 'ReaderEndpoint')).toBe('127.0.0.1')
    expect(text(xml, 'Port')).toBe('13306')
    expect(text(xml, 'MasterUsername')).toBe('admin')
    expect(text(xml, 'DatabaseName')).toBe('mylab')
    expect(text(xml, 'ClusterCreateTime')).toBe('2026-11-24T11:00:00Z')
    expect(text(xml, 'BacktrackWindow')).toBe('86400')
    expect(text(xml, 'EarliestBacktrackTime')).toBe('2026-11-24T11:00:00Z')
    expect(text(xml, 'BacktrackConsumedChangeRecords')).toBe('42')
    expect(text(xml, 'MultiAZ')).toBe('false')
    expect(text(xml, 'StorageEncrypted')).toBe('false')
    expect(xml).toContain(
      '<DBClusterMembers><DBClusterMember><DBInstanceIdentifier>labstack-cluster-instance-1</DBInstanceIdentifier><IsClusterWriter>true</IsClusterWriter>',
    )
    expect(xml).toContain('<AvailabilityZones><AvailabilityZone>us-east-1a</AvailabilityZone></AvailabilityZones>')
    expect(xml).toContain('<VpcSecurityGroups/>')
  })

  it('accepts the cluster ARN as identifier', async () => {
    const response = await call({
      Action: 'DescribeDBClusters',
      DBClusterIdentifier: 'arn:aws:rds:us-east-1:000000000000:cluster:labstack-cluster',
    })
    expect(texts(response.body, 'DBClusterIdentifier')).toEqual(['labstack-cluster'])
  })

  it('lists every cluster, a page at a time, and filters by db-cluster-id', async () => {
    for (let i = 1; i <= 24; i++) registry.add({ identifier: `extra-${String(i).padStart(2, '0')}` })
    const first = await call({ Action: 'DescribeDBClusters', MaxRecords: '20' })
    expect(texts(first.body, 'DBClusterIdentifier')).toHaveLength(20)
    const marker = text(first.body, 'Marker')
    expect(marker).toBeDefined()
    const second = await call({ Action: 'DescribeDBClusters', MaxRecords: '20', Marker: marker ?? '' })
    expect(texts(second.body, 'DBClusterIdentifier')).toHaveLength(5)
    expect(text(second.body, 'Marker')).toBeUndefined()
    const all = [...texts(first.body, 'DBClusterIdentifier'), ...texts(second.body, 'DBClusterIdentifier')]
    expect(new Set(all).size).toBe(25)

    const filtered = await call({
      Action: 'DescribeDBClusters',
      'Filters.Filter.1.Name': 'db-cluster-id',
      'Filters.Filter.1.Values.Value.1': 'extra-03',
      'Filters.Filter.1.Values.Value.2': 'arn:aws:rds:us-east-1:000000000000:cluster:labstack-cluster',
    })
    expect(texts(filtered.body, 'DBClusterIdentifier').sort()).toEqual(['extra-03', 'labstack-cluster'])
  })

  it('sends an empty list as <DBClusters/>', async () => {
    const response = await call({
      Action: 'DescribeDBClusters',
      'Filters.Filter.1.Name': 'db-cluster-id',
      'Filters.Filter.1.Values.Value.1': 'nothing-here',
    })
    expect(response.body).toContain('<DescribeDBClustersResult><DBClusters/></DescribeDBClustersResult>')
  })

  it('answers bad input with InvalidParameterValue', async () => {
    for (const params of [
      { MaxRecords: '5' },
      { MaxRecords: 'ten' },
      { Marker: 'not-a-marker' },
      { 'Filters.Filter.1.Name': 'no-such-filter', 'Filters.Filter.1.Values.Value.1': 'x' },
      { DBClusterIdentifier: '1-starts-with-a-digit' },
    ]) {
      const error = errorOf(await call({ Action: 'DescribeDBClusters', ...params }))
      expect(error, JSON.stringify(params)).toMatchObject({ status: 400, code: 'InvalidParameterValue' })
    }
  })
})

describe('BacktrackDBCluster', () => {
  it('returns the pending record (upper-case status, no BacktrackedFrom) and walks pending → applying → completed', async () => {
    const to = new Date(T0 - 600_000)
    const response = await call({
      Action: 'BacktrackDBCluster',
      DBClusterIdentifier: 'LABSTACK-CLUSTER',
      BacktrackTo: '2026-11-24T11:50:00Z',
    })
    expect(response.statusCode).toBe(200)
    const xml = response.body
    expect(xml).toMatch(
      new RegExp(
        `^<BacktrackDBClusterResponse xmlns="${RDS_XMLNS}"><BacktrackDBClusterResult><DBClusterIdentifier>labstack-cluster</DBClusterIdentifier><BacktrackIdentifier>[0-9a-f-]{36}</BacktrackIdentifier><BacktrackTo>2026-11-24T11:50:00Z</BacktrackTo><BacktrackRequestCreationTime>2026-11-24T12:00:00Z</BacktrackRequestCreationTime><Status>PENDING</Status></BacktrackDBClusterResult>`,
      ),
    )
    const id = text(xml, 'BacktrackIdentifier') ?? ''
    await expect(cluster.describeCluster()).resolves.toMatchObject({ Status: 'backtracking' })
    const clusters = await call({ Action: 'DescribeDBClusters', DBClusterIdentifier: 'labstack-cluster' })
    expect(text(clusters.body, 'Status')).toBe('backtracking')

    nowMs += 5_000
    cluster.advance()
    const applying = await call({
      Action: 'DescribeDBClusterBacktracks',
      DBClusterIdentifier: 'labstack-cluster',
      BacktrackIdentifier: id,
    })
    expect(text(applying.body, 'Status')).toBe('APPLYING')
    expect(text(applying.body, 'BacktrackedFrom')).toBe('2026-11-24T12:00:05Z')
    expect(text(applying.body, 'BacktrackTo')).toBe(to.toISOString().replace('.000Z', 'Z'))

    cluster.advance()
    const completed = await call({ Action: 'DescribeDBClusterBacktracks', DBClusterIdentifier: 'labstack-cluster' })
    expect(texts(completed.body, 'Status')).toEqual(['COMPLETED'])
    const after = await call({ Action: 'DescribeDBClusters', DBClusterIdentifier: 'labstack-cluster' })
    expect(text(after.body, 'Status')).toBe('available')
  })

  it('accepts SDK milliseconds and CLI epoch seconds for BacktrackTo', async () => {
    const ms = await call({
      Action: 'BacktrackDBCluster',
      DBClusterIdentifier: 'labstack-cluster',
      BacktrackTo: '2026-11-24T11:59:00.250Z',
    })
    expect(text(ms.body, 'BacktrackTo')).toBe('2026-11-24T11:59:00.250Z')
    cluster.completeAll()
    const epoch = await call({
      Action: 'BacktrackDBCluster',
      DBClusterIdentifier: 'labstack-cluster',
      BacktrackTo: String((T0 - 120_000) / 1000),
    })
    expect(text(epoch.body, 'BacktrackTo')).toBe('2026-11-24T11:58:00Z')
  })

  it('refuses a second backtrack while one runs with InvalidDBClusterStateFault', async () => {
    await call({
      Action: 'BacktrackDBCluster',
      DBClusterIdentifier: 'labstack-cluster',
      BacktrackTo: '2026-11-24T11:50:00Z',
    })
    const error = errorOf(
      await call({
        Action: 'BacktrackDBCluster',
        DBClusterIdentifier: 'labstack-cluster',
        BacktrackTo: '2026-11-24T11:40:00Z',
      }),
    )
    expect(error).toMatchObject({ status: 400, type: 'Sender', code: 'InvalidDBClusterStateFault' })
  })

  it('goes to the earliest time with UseEarliestTimeOnPointInTimeUnavailable, and refuses without it', async () => {
    const refused = errorOf(
      await call({
        Action: 'BacktrackDBCluster',
        DBClusterIdentifier: 'labstack-cluster',
        BacktrackTo: '2026-11-24T10:00:00Z',
      }),
    )
    expect(refused).toMatchObject({ status: 400, code: 'InvalidParameterValue' })
    const response = await call({
      Action: 'BacktrackDBCluster',
      DBClusterIdentifier: 'labstack-cluster',
      BacktrackTo: '2026-11-24T10:00:00Z',
      UseEarliestTimeOnPointInTimeUnavailable: 'true',
    })
    expect(text(response.body, 'BacktrackTo')).toBe('2026-11-24T11:00:00Z')
  })

  it('passes Force through (a binlog-enabled cluster needs it)', async () => {
    registry.add({ identifier: 'binlog-cluster', binaryLogging: true, createdAt: new Date(T0 - 3_600_000) })
    const params = {
      Action: 'BacktrackDBCluster',
      DBClusterIdentifier: 'binlog-cluster',
      BacktrackTo: '2026-11-24T11:50:00Z',
    }
    expect(errorOf(await call(params)).code).toBe('InvalidParameterCombination')
    expect(errorOf(await call({ ...params, Force: 'false' })).code).toBe('InvalidParameterCombination')
    expect((await call({ ...params, Force: 'true' })).statusCode).toBe(200)
  })

  it('answers bad input as AWS does and records nothing', async () => {
    const base = { Action: 'BacktrackDBCluster', DBClusterIdentifier: 'labstack-cluster' }
    const cases: [Record<string, string>, number, string, string?][] = [
      [{ BacktrackTo: '2026-11-24T11:50:00Z', Force: 'maybe' }, 400, 'InvalidParameterValue'],
      [
        { BacktrackTo: '2026-11-24T11:50:00Z', UseEarliestTimeOnPointInTimeUnavailable: 'yes' },
        400,
        'InvalidParameterValue',
      ],
      [{ BacktrackTo: 'yesterday' }, 400, 'InvalidParameterValue'],
      [{ BacktrackTo: '2026-13-45T99:00:00Z' }, 400, 'InvalidParameterValue'],
      [{ BacktrackTo: '2026-11-24T13:00:00Z' }, 400, 'InvalidParameterValue'],
      [{}, 400, 'MissingParameter', 'The request must contain the parameter BacktrackTo'],
      [
        { DBClusterIdentifier: '', BacktrackTo: '2026-11-24T11:50:00Z' },
        400,
        'MissingParameter',
        'The request must contain the parameter DBClusterIdentifier',
      ],
      [
        { DBClusterIdentifier: 'other', BacktrackTo: '2026-11-24T11:50:00Z' },
        404,
        'DBClusterNotFoundFault',
        'DBCluster other not found.',
      ],
    ]
    for (const [params, status, code, message] of cases) {
      const error = errorOf(await call({ ...base, ...params }))
      expect(error, JSON.stringify(params)).toMatchObject({
        status,
        code,
        ...(message === undefined ? {} : { message }),
      })
    }
    const list = await call({ Action: 'DescribeDBClusterBacktracks', DBClusterIdentifier: 'labstack-cluster' })
    expect(list.body).toContain('<DBClusterBacktracks/>')
  })

  it('escapes user input echoed in messages', async () => {
    const response = await call({
      Action: 'BacktrackDBCluster',
      DBClusterIdentifier: 'labstack-cluster',
      BacktrackTo: '2026-11-24T11:50:00Z',
      Force: '<x>&"y"',
    })
    expect(response.body).toContain('Invalid value &quot;&lt;x&gt;&amp;&quot;y&quot;&quot; for Force')
    expect(response.body).not.toContain('<x>')
  })
})

describe('DescribeDBClusterBacktracks', () => {
  it('sends an empty list as <DBClusterBacktracks/>', async () => {
    const response = await call({ Action: 'DescribeDBClusterBacktracks', DBClusterIdentifier: 'labstack-cluster' })
    expect(response.body).toContain(
      '<DescribeDBClusterBacktracksResult><DBClusterBacktracks/></DescribeDBClusterBacktracksResult>',
    )
  })

  it('pages through every record, newest first, without repeats', async () => {
    const ids: string[] = []
    for (let i = 0; i < 45; i++) {
      nowMs += 1_000
      ids.unshift(await backtrackAndComplete(new Date(T0 - 60_000)))
    }
    const seen: string[] = []
    let marker: string | undefined
    const pageSizes: number[] = []
    do {
      const response = await call({
        Action: 'DescribeDBClusterBacktracks',
        DBClusterIdentifier: 'labstack-cluster',
        MaxRecords: '20',
        ...(marker === undefined ? {} : { Marker: marker }),
      })
      const page = texts(response.body, 'BacktrackIdentifier')
      pageSizes.push(page.length)
      seen.push(...page)
      marker = text(response.body, 'Marker')
    } while (marker !== undefined)
    expect(pageSizes).toEqual([20, 20, 5])
    expect(seen).toEqual(ids)
  })

  it('filters by status in lower and upper case, and by id', async () => {
    const done = await backtrackAndComplete(new Date(T0 - 60_000))
    nowMs += 1_000
    const pending = await call({
      Action: 'BacktrackDBCluster',
      DBClusterIdentifier: 'labstack-cluster',
      BacktrackTo: '2026-11-24T11:30:00Z',
    })
    const pendingId = text(pending.body, 'BacktrackIdentifier')
    const byStatus = async (...values: string[]) => {
      const params: Record<string, string> = {
        Action: 'DescribeDBClusterBacktracks',
        DBClusterIdentifier: 'labstack-cluster',
        'Filters.Filter.1.Name': 'db-cluster-backtrack-status',
      }
      values.forEach((value, index) => (params[`Filters.Filter.1.Values.Value.${index + 1}`] = value))
      return texts((await call(params)).body, 'BacktrackIdentifier')
    }
    expect(await byStatus('completed')).toEqual([done])
    expect(await byStatus('COMPLETED')).toEqual([done])
    expect(await byStatus('PENDING')).toEqual([pendingId])
    expect(await byStatus('pending', 'Completed')).toEqual([pendingId, done])
    expect(await byStatus('failed')).toEqual([])

    const byId = await call({
      Action: 'DescribeDBClusterBacktracks',
      DBClusterIdentifier: 'labstack-cluster',
      'Filters.Filter.1.Name': 'db-cluster-backtrack-id',
      'Filters.Filter.1.Values.Value.1': done,
    })
    expect(texts(byId.body, 'BacktrackIdentifier')).toEqual([done])
    const byParam = await call({
      Action: 'DescribeDBClusterBacktracks',
      DBClusterIdentifier: 'labstack-cluster',
      BacktrackIdentifier: done.toUpperCase(),
    })
    expect(texts(byParam.body, 'BacktrackIdentifier')).toEqual([done])
  })

  it('answers an unknown BacktrackIdentifier with DBClusterBacktrackNotFoundFault (404)', async () => {
    const id = '2f5f5294-0dd2-44c9-9f50-0123456789ab'
    const error = errorOf(
      await call({
        Action: 'DescribeDBClusterBacktracks',
        DBClusterIdentifier: 'labstack-cluster',
        BacktrackIdentifier: id,
      }),
    )
    expect(error).toMatchObject({ status: 404, type: 'Sender', code: 'DBClusterBacktrackNotFoundFault' })
    expect(error.message).toContain(id)
  })

  it('answers bad input with MissingParameter, InvalidParameterValue or DBClusterNotFoundFault', async () => {
    const base = { Action: 'DescribeDBClusterBacktracks', DBClusterIdentifier: 'labstack-cluster' }
    const cases: [Record<string, string>, number, string][] = [
      [{ DBClusterIdentifier: '' }, 400, 'MissingParameter'],
      [{ DBClusterIdentifier: 'unknown-cluster' }, 404, 'DBClusterNotFoundFault'],
      [{ BacktrackIdentifier: 'not-a-uuid' }, 400, 'InvalidParameterValue'],
      [{ MaxRecords: '19' }, 400, 'InvalidParameterValue'],
      [{ MaxRecords: '101' }, 400, 'InvalidParameterValue'],
      [{ MaxRecords: '20.5' }, 400, 'InvalidParameterValue'],
      [{ Marker: '!!!' }, 400, 'InvalidParameterValue'],
      [
        { 'Filters.Filter.1.Name': 'db-cluster-backtrack-status', 'Filters.Filter.1.Values.Value.1': 'done' },
        400,
        'InvalidParameterValue',
      ],
      [{ 'Filters.Filter.1.Name': 'engine', 'Filters.Filter.1.Values.Value.1': 'x' }, 400, 'InvalidParameterValue'],
      [{ 'Filters.Filter.1.Values.Value.1': 'completed' }, 400, 'MissingParameter'],
    ]
    for (const [params, status, code] of cases) {
      expect(errorOf(await call({ ...base, ...params })), JSON.stringify(params)).toMatchObject({ status, code })
    }
    const missing = errorOf(await call({ Action: 'DescribeDBClusterBacktracks' }))
    expect(missing.message).toBe('The request must contain the parameter DBClusterIdentifier')
  })
})

describe('ModifyDBCluster', () => {
  it('changes the backtrack window and returns the cluster', async () => {
    const response = await call({
      Action: 'ModifyDBCluster',
      DBClusterIdentifier: 'labstack-cluster',
      BacktrackWindow: '3600',
      ApplyImmediately: 'true',
    })
    expect(response.statusCode).toBe(200)
    expect(response.body).toContain('<ModifyDBClusterResult><DBCluster><')
    expect(text(response.body, 'BacktrackWindow')).toBe('3600')
    expect(text(response.body, 'EarliestBacktrackTime')).toBe('2026-11-24T11:00:00Z')
  })

  it('disables backtracking for good with 0', async () => {
    const off = await call({ Action: 'ModifyDBCluster', DBClusterIdentifier: 'labstack-cluster', BacktrackWindow: '0' })
    expect(text(off.body, 'BacktrackWindow')).toBe('0')
    expect(off.body).not.toContain('EarliestBacktrackTime')
    const again = errorOf(
      await call({ Action: 'ModifyDBCluster', DBClusterIdentifier: 'labstack-cluster', BacktrackWindow: '3600' }),
    )
    expect(again).toMatchObject({ status: 400, code: 'InvalidDBClusterStateFault' })
    const backtrack = errorOf(
      await call({
        Action: 'BacktrackDBCluster',
        DBClusterIdentifier: 'labstack-cluster',
        BacktrackTo: '2026-11-24T11:50:00Z',
      }),
    )
    expect(backtrack).toMatchObject({ status: 400, code: 'InvalidDBClusterStateFault' })
  })

  it('answers bad input with InvalidParameterValue and changes nothing', async () => {
    const base = { Action: 'ModifyDBCluster', DBClusterIdentifier: 'labstack-cluster' }
    for (const params of [
      { BacktrackWindow: 'a day' },
      { BacktrackWindow: '259201' },
      { BacktrackWindow: '-1' },
      { BacktrackWindow: '3600', ApplyImmediately: 'soon' },
    ]) {
      expect(errorOf(await call({ ...base, ...params })), JSON.stringify(params)).toMatchObject({
        status: 400,
        code: 'InvalidParameterValue',
      })
    }
    expect(errorOf(await call({ ...base, DBClusterIdentifier: 'gone' }))).toMatchObject({
      status: 404,
      code: 'DBClusterNotFoundFault',
    })
    expect((await cluster.describeCluster()).BacktrackWindow).toBe(86_400)
  })
})

describe('CreateDBCluster and DeleteDBCluster', () => {
  it('creates an aurora-mysql cluster with a backtrack window, then deletes it', async () => {
    const created = await call({
      Action: 'CreateDBCluster',
      DBClusterIdentifier: 'New-Cluster',
      Engine: 'aurora-mysql',
      BacktrackWindow: '7200',
      MasterUsername: 'labuser',
      MasterUserPassword: 'secret123',
      DatabaseName: 'app',
    })
    expect(created.statusCode).toBe(200)
    expect(created.body).toContain('<CreateDBClusterResult><DBCluster><')
    expect(text(created.body, 'DBClusterIdentifier')).toBe('new-cluster')
    expect(text(created.body, 'BacktrackWindow')).toBe('7200')
    expect(text(created.body, 'MasterUsername')).toBe('labuser')
    expect(text(created.body, 'DatabaseName')).toBe('app')
    const listed = await call({ Action: 'DescribeDBClusters' })
    expect(texts(listed.body, 'DBClusterIdentifier')).toContain('new-cluster')

    const deleted = await call({
      Action: 'DeleteDBCluster',
      DBClusterIdentifier: 'new-cluster',
      SkipFinalSnapshot: 'true',
    })
    expect(deleted.statusCode).toBe(200)
    expect(deleted.body).toContain('<DeleteDBClusterResult><DBCluster><')
    expect(text(deleted.body, 'Status')).toBe('deleting')
    expect(errorOf(await call({ Action: 'DescribeDBClusters', DBClusterIdentifier: 'new-cluster' })).code).toBe(
      'DBClusterNotFoundFault',
    )
  })

  it('creates with backtracking disabled when no window is given (the RDS default)', async () => {
    const created = await call({
      Action: 'CreateDBCluster',
      DBClusterIdentifier: 'plain',
      Engine: 'aurora-mysql',
      MasterUsername: 'admin',
      MasterUserPassword: 'password-1',
    })
    expect(text(created.body, 'BacktrackWindow')).toBe('0')
  })

  it('refuses other engines, duplicates and bad windows, creating nothing', async () => {
    const base = {
      Action: 'CreateDBCluster',
      DBClusterIdentifier: 'pg-cluster',
      MasterUsername: 'admin',
      MasterUserPassword: 'password-1',
    }
    const cases: [Record<string, string>, string][] = [
      [{ Engine: 'aurora-postgresql' }, 'InvalidParameterValue'],
      [{ Engine: 'aurora-postgresql', BacktrackWindow: '3600' }, 'InvalidParameterCombination'],
      [{ Engine: 'aurora-mysql', BacktrackWindow: '999999' }, 'InvalidParameterValue'],
      [{ Engine: 'aurora-mysql', BacktrackWindow: 'lots' }, 'InvalidParameterValue'],
      [{}, 'MissingParameter'],
      [{ DBClusterIdentifier: 'labstack-cluster', Engine: 'aurora-mysql' }, 'DBClusterAlreadyExistsFault'],
      [{ DBClusterIdentifier: 'bad--name', Engine: 'aurora-mysql' }, 'InvalidParameterValue'],
    ]
    for (const [params, code] of cases) {
      expect(errorOf(await call({ ...base, ...params })), JSON.stringify(params)).toMatchObject({ status: 400, code })
    }
    expect(registry.list().map((engine) => engine.clusterIdentifier)).toEqual(['labstack-cluster'])
  })

  it('refuses to delete without SkipFinalSnapshot, or while backtracking, and keeps the cluster', async () => {
    const base = { Action: 'DeleteDBCluster', DBClusterIdentifier: 'labstack-cluster' }
    expect(errorOf(await call(base))).toMatchObject({ status: 400, code: 'InvalidParameterCombination' })
    expect(errorOf(await call({ ...base, FinalDBSnapshotIdentifier: 'final' }))).toMatchObject({
      code: 'InvalidParameterCombination',
    })
    expect(errorOf(await call({ ...base, SkipFinalSnapshot: 'sure' }))).toMatchObject({ code: 'InvalidParameterValue' })
    expect(errorOf(await call({ ...base, DBClusterIdentifier: 'nope', SkipFinalSnapshot: 'true' }))).toMatchObject({
      status: 404,
      code: 'DBClusterNotFoundFault',
    })
    await call({
      Action: 'BacktrackDBCluster',
      DBClusterIdentifier: 'labstack-cluster',
      BacktrackTo: '2026-11-24T11:50:00Z',
    })
    expect(errorOf(await call({ ...base, SkipFinalSnapshot: 'true' }))).toMatchObject({
      code: 'InvalidDBClusterStateFault',
    })
    expect(registry.get('labstack-cluster')).toBeDefined()
  })
})

describe('DescribeEvents', () => {
  it('lists cluster events of the last hour by default, oldest first', async () => {
    nowMs += 60_000
    await backtrackAndComplete(new Date(T0 - 60_000))
    // Created an hour and a minute ago: outside the default window.
    const response = await call({ Action: 'DescribeEvents' })
    expect(response.statusCode).toBe(200)
    expect(texts(response.body, 'Message')).toEqual([
      'Backtrack to 2026-11-24T11:59:00Z requested.',
      'Backtrack to 2026-11-24T11:59:00Z completed.',
    ])
    const withCreation = await call({ Action: 'DescribeEvents', Duration: '120' })
    expect(texts(withCreation.body, 'Message')[0]).toBe('DB cluster created.')
    expect(response.body).toContain(
      '<Event><SourceIdentifier>labstack-cluster</SourceIdentifier><SourceType>db-cluster</SourceType>',
    )
    expect(response.body).toContain('<EventCategories><EventCategory>backtrack</EventCategory></EventCategories>')
    expect(text(response.body, 'SourceArn')).toBe('arn:aws:rds:us-east-1:000000000000:cluster:labstack-cluster')
  })

  it('narrows by time (StartTime/EndTime, Duration), source and category', async () => {
    nowMs += 600_000
    await backtrackAndComplete(new Date(T0))
    const messages = async (params: Record<string, string>) =>
      texts((await call({ Action: 'DescribeEvents', ...params })).body, 'Message')
    expect(await messages({ Duration: '5' })).toHaveLength(2)
    expect(await messages({ StartTime: '2026-11-24T10:00:00Z', EndTime: '2026-11-24T11:30:00Z' })).toEqual([
      'DB cluster created.',
    ])
    expect(
      await messages({ StartTime: '2026-11-24T10:00:00Z', 'EventCategories.EventCategory.1': 'creation' }),
    ).toEqual(['DB cluster created.'])
    expect(
      await messages({ SourceType: 'db-cluster', SourceIdentifier: 'LABSTACK-CLUSTER', Duration: '5' }),
    ).toHaveLength(2)
    expect(await messages({ SourceType: 'db-cluster', SourceIdentifier: 'someone-else' })).toEqual([])
    const instances = await call({ Action: 'DescribeEvents', SourceType: 'db-instance' })
    expect(instances.body).toContain('<DescribeEventsResult><Events/></DescribeEventsResult>')
  })

  it('pages with MaxRecords and Marker', async () => {
    for (let i = 0; i < 12; i++) {
      nowMs += 1_000
      await backtrackAndComplete(new Date(T0))
    }
    const params = { Action: 'DescribeEvents', MaxRecords: '20', StartTime: '2026-11-24T10:00:00Z' }
    const first = await call(params)
    expect(texts(first.body, 'Message')).toHaveLength(20)
    const second = await call({ ...params, Marker: text(first.body, 'Marker') ?? '' })
    expect(texts(second.body, 'Message')).toHaveLength(5)
  })

  it('answers bad input with InvalidParameterValue', async () => {
    for (const params of [
      { StartTime: 'last week' },
      { EndTime: '2026-11-24' },
      { Duration: 'an hour' },
      { Duration: '-5' },
      { SourceType: 'db-table' },
      { MaxRecords: '1000' },
    ]) {
      expect(errorOf(await call({ Action: 'DescribeEvents', ...params })), JSON.stringify(params)).toMatchObject({
        status: 400,
        code: 'InvalidParameterValue',
      })
    }
  })
})

describe('protocol errors', () => {
  it('answers an unknown Action with InvalidAction listing the supported ones', async () => {
    const error = errorOf(await call({ Action: 'StartDBCluster' }))
    expect(error).toMatchObject({ status: 400, type: 'Sender', code: 'InvalidAction' })
    expect(error.message).toContain('Could not find operation StartDBCluster for version 2014-10-31')
    for (const action of [
      'BacktrackDBCluster',
      'DescribeDBClusterBacktracks',
      'DescribeDBClusters',
      'DescribeEvents',
    ]) {
      expect(error.message).toContain(action)
    }
  })

  it('answers a missing Action with MissingAction, a missing Version with MissingParameter, another Version with InvalidAction', async () => {
    const noAction = await app.inject({
      method: 'POST',
      url: '/',
      headers: { 'content-type': FORM },
      payload: 'Version=2014-10-31',
    })
    expect(errorOf(noAction)).toMatchObject({
      status: 400,
      code: 'MissingAction',
      message: 'The request must contain the parameter Action.',
    })
    const noVersion = await app.inject({
      method: 'POST',
      url: '/',
      headers: { 'content-type': FORM },
      payload: 'Action=DescribeDBClusters',
    })
    expect(errorOf(noVersion)).toMatchObject({
      status: 400,
      code: 'MissingParameter',
      message: 'The request must contain the parameter Version',
    })
    expect(errorOf(await call({ Action: 'DescribeDBClusters', Version: '2013-01-10' }))).toMatchObject({
      code: 'InvalidAction',
    })
  })

  it('accepts the form content type without a charset', async () => {
    const response = await call({ Action: 'DescribeDBClusters' }, 'application/x-www-form-urlencoded')
    expect(response.statusCode).toBe(200)
  })

  it('answers a body that is not form-encoded with MalformedQueryString', async () => {
    const json = await app.inject({
      method: 'POST',
      url: '/',
      headers: { 'content-type': 'application/json' },
      payload: JSON.stringify({ Action: 'DescribeDBClusters', Version: '2014-10-31' }),
    })
    expect(errorOf(json)).toMatchObject({ status: 404, type: 'Sender', code: 'MalformedQueryString' })
    expect(json.headers['x-amzn-requestid']).toMatch(UUID)
  })

  it('answers broken percent-encoding with MalformedQueryString, in the body or the URL', async () => {
    const body = await app.inject({
      method: 'POST',
      url: '/',
      headers: { 'content-type': FORM },
      payload: 'Action=DescribeDBClusters&Version=2014-10-31&DBClusterIdentifier=%ZZ',
    })
    expect(errorOf(body)).toMatchObject({ status: 404, code: 'MalformedQueryString' })
    const url = await app.inject({ method: 'GET', url: '/?Action=DescribeDBClusters&Version=2014-10-31&x=%E0%A4%A' })
    expect(errorOf(url)).toMatchObject({ status: 404, code: 'MalformedQueryString' })
    expect(url.headers['x-amzn-requestid']).toMatch(UUID)
    const path = await app.inject({ method: 'GET', url: '/%zz?Action=DescribeDBClusters&Version=2014-10-31' })
    expect(errorOf(path)).toMatchObject({ status: 404, code: 'MalformedQueryString' })
    expect(path.headers['x-amzn-requestid']).toMatch(UUID)
  })

  it('serves GET with the parameters in the query string, as the Query protocol allows', async () => {
    const response = await app.inject({ method: 'GET', url: '/?Action=DescribeDBClusters&Version=2014-10-31' })
    expect(response.statusCode).toBe(200)
    expect(texts(response.body, 'DBClusterIdentifier')).toEqual(['labstack-cluster'])
    const bare = await app.inject({ method: 'GET', url: '/' })
    expect(errorOf(bare)).toMatchObject({ status: 400, code: 'MissingAction' })
  })

  it('answers other methods and paths with InvalidAction in the XML envelope', async () => {
    const put = await app.inject({ method: 'PUT', url: '/', payload: 'x' })
    expect(errorOf(put)).toMatchObject({ status: 400, code: 'InvalidAction' })
    const path = await app.inject({
      method: 'POST',
      url: '/clusters',
      headers: { 'content-type': FORM },
      payload: 'a=b',
    })
    expect(errorOf(path)).toMatchObject({ status: 400, code: 'InvalidAction' })
    expect(path.body.startsWith(`<ErrorResponse xmlns="${RDS_XMLNS}">`)).toBe(true)
  })

  it('answers a body over 1 MiB with RequestEntityTooLarge (413) in the XML envelope', async () => {
    const response = await app.inject({
      method: 'POST',
      url: '/',
      headers: { 'content-type': FORM },
      payload: `Action=DescribeDBClusters&Version=2014-10-31&Pad=${'x'.repeat(1024 * 1024)}`,
    })
    expect(errorOf(response)).toMatchObject({ status: 413, type: 'Sender', code: 'RequestEntityTooLarge' })
    expect(response.body.startsWith(`<ErrorResponse xmlns="${RDS_XMLNS}">`)).toBe(true)
    expect(response.headers['x-amzn-requestid']).toMatch(UUID)
  })

  it('answers an unexpected exception with InternalFailure (500) and logs it', async () => {
    const lines: string[] = []
    const broken: ClusterRegistry = Object.assign(Object.create(registry) as FakeClusterRegistry, {
      list: () => {
        throw new TypeError('registry exploded')
      },
    })
    const brokenApp = buildRdsEndpoint({
      registry: broken,
      logger: { level: 'error', stream: { write: (line: string) => void lines.push(line) } },
    })
    const response = await brokenApp.inject({
      method: 'POST',
      url: '/',
      headers: { 'content-type': FORM },
      payload: 'Action=DescribeDBClusters&Version=2014-10-31',
    })
    await brokenApp.close()
    expect(errorOf(response)).toMatchObject({ status: 500, type: 'Receiver', code: 'InternalFailure' })
    expect(response.body).not.toContain('registry exploded')
    const logged = lines.join('')
    expect(logged).toContain('registry exploded')
    expect(logged).toContain(String(response.headers['x-amzn-requestid']))
  })
})

// A web page can make the browser send a form POST (or an <img> GET) to a loopback port; the browser then adds
// headers no page can forge (Origin, Sec-Fetch-Site), and no SDK or CLI sends them.
describe('requests a web page sends from elsewhere (CSRF)', () => {
  // Changing the window is what a page would try here: DeleteDBCluster of a primary is refused on its own merits.
  const modifyForm =
    'Action=ModifyDBCluster&Version=2014-10-31&DBClusterIdentifier=labstack-cluster&BacktrackWindow=60&ApplyImmediately=true'
  const host = '127.0.0.1:4566'

  async function window(): Promise<string | undefined> {
    const described = await call({ Action: 'DescribeDBClusters', DBClusterIdentifier: 'labstack-cluster' })
    return text(described.body, 'BacktrackWindow')
  }

  it('refuses a cross-site form POST and an <img> GET with AccessDenied naming the origin and what to do', async () => {
    const before = await window()
    expect(before).not.toBe('60')
    const post = await app.inject({
      method: 'POST',
      url: '/',
      headers: { 'content-type': 'application/x-www-form-urlencoded', host, origin: 'https://evil.example' },
      payload: modifyForm,
    })
    const refused = errorOf(post)
    expect(refused).toMatchObject({ status: 403, type: 'Sender', code: 'AccessDenied' })
    expect(refused.message).toContain('https://evil.example')
    expect(refused.message).toMatch(/AWS SDK|AWS CLI/)
    expect(post.headers['x-amzn-requestid']).toMatch(UUID)
    const image = await app.inject({
      method: 'GET',
      url: `/?${modifyForm}`,
      headers: { host, 'sec-fetch-site': 'cross-site', 'sec-fetch-mode': 'no-cors', 'sec-fetch-dest': 'image' },
    })
    expect(errorOf(image)).toMatchObject({ status: 403, code: 'AccessDenied' })
    const sameSite = await app.inject({
      method: 'POST',
      url: '/',
      headers: { 'content-type': FORM, host, origin: 'http://127.0.0.1:8080', 'sec-fetch-site': 'same-site' },
      payload: modifyForm,
    })
    expect(errorOf(sameSite)).toMatchObject({ status: 403, code: 'AccessDenied' })
    const opaque = await app.inject({
      method: 'POST',
      url: '/',
      headers: { 'content-type': FORM, host, origin: 'null' },
      payload: modifyForm,
    })
    expect(errorOf(opaque)).toMatchObject({ status: 403, code: 'AccessDenied' })
    expect(await window()).toBe(before)
  })

  it('refuses CloudWatch reads from another origin too', async () => {
    const response = await app.inject({
      method: 'POST',
      url: '/',
      headers: { 'content-type': FORM, host, origin: 'https://evil.example' },
      payload: 'Action=ListMetrics&Version=2010-08-01&Namespace=AWS/RDS',
    })
    expect(errorOf(response)).toMatchObject({ status: 403, code: 'AccessDenied' })
  })

  it('refuses a same-origin page under a host name other than an IP or localhost (DNS rebinding)', async () => {
    const before = await window()
    const response = await app.inject({
      method: 'POST',
      url: '/',
      headers: {
        'content-type': FORM,
        host: 'rebind.evil.example:4566',
        origin: 'http://rebind.evil.example:4566',
        'sec-fetch-site': 'same-origin',
      },
      payload: modifyForm,
    })
    expect(errorOf(response)).toMatchObject({ status: 403, code: 'AccessDenied' })
    expect(await window()).toBe(before)
  })

  it("answers the endpoint's own pages, a URL typed into the browser, and every client that is not a browser", async () => {
    const ownPage = await app.inject({
      method: 'POST',
      url: '/',
      headers: { 'content-type': FORM, host, origin: `http://${host}`, 'sec-fetch-site': 'same-origin' },
      payload: modifyForm,
    })
    expect(ownPage.statusCode).toBe(200)
    expect(await window()).toBe('60')
    const typed = await app.inject({
      method: 'GET',
      url: '/?Action=DescribeDBClusters&Version=2014-10-31',
      headers: { host: 'localhost:4566', 'sec-fetch-site': 'none' },
    })
    expect(typed.statusCode).toBe(200)
    const sdk = await app.inject({
      method: 'POST',
      url: '/',
      headers: { 'content-type': FORM, host, authorization: 'AWS4-HMAC-SHA256 Credential=x/y, Signature=z' },
      payload: 'Action=DescribeDBClusters&Version=2014-10-31',
    })
    expect(sdk.statusCode).toBe(200)
  })
})

describe('signature verification', () => {
  it('is off by default: any or no credentials are accepted', async () => {
    const response = await app.inject({
      method: 'POST',
      url: '/',
      headers: { 'content-type': FORM, authorization: 'AWS4-HMAC-SHA256 Credential=x/y, Signature=z' },
      payload: 'Action=DescribeDBClusters&Version=2014-10-31',
    })
    expect(response.statusCode).toBe(200)
  })

  it('answers unsigned, unknown-key and wrongly signed requests with 403s', async () => {
    const verifying = buildRdsEndpoint({
      registry,
      verifySignatures: { credentials: [{ accessKeyId: 'AKIDTEST', secretAccessKey: 'secret' }] },
    })
    const amzDate = new Date().toISOString().replace(/[-:]/g, '').replace(/\.\d+/, '')
    const send = (authorization?: string) =>
      verifying.inject({
        method: 'POST',
        url: '/',
        headers: {
          'content-type': FORM,
          'x-amz-date': amzDate,
          ...(authorization === undefined ? {} : { authorization }),
        },
        payload: 'Action=DescribeDBClusters&Version=2014-10-31',
      })
    const signature = '0'.repeat(64)
    const scope = `${amzDate.slice(0, 8)}/us-east-1/rds/aws4_request`
    expect(errorOf(await send())).toMatchObject({ status: 403, code: 'MissingAuthenticationToken' })
    expect(
      errorOf(
        await send(
          `AWS4-HMAC-SHA256 Credential=AKIDOTHER/${scope}, SignedHeaders=host;x-amz-date, Signature=${signature}`,
        ),
      ),
    ).toMatchObject({ status: 403, code: 'InvalidClientTokenId' })
    expect(
      errorOf(
        await send(
          `AWS4-HMAC-SHA256 Credential=AKIDTEST/${scope}, SignedHeaders=host;x-amz-date, Signature=${signature}`,
        ),
      ),
    ).toMatchObject({ status: 403, code: 'SignatureDoesNotMatch' })
    await verifying.close()
  })
})
