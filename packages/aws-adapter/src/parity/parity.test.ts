import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { BacktrackDBClusterCommand } from '@aws-sdk/client-rds'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { createRdsEngine } from '../rds-engine.js'
import {
  queryError,
  queryResult,
  startFakeAwsEndpoint,
  type FakeAwsEndpoint,
} from '../test-support/fake-aws-endpoint.js'
import { backtrackFields, CLUSTER_ID } from '../test-support/fixtures.js'
import { compareWithSnapshot, errorSnapshot, readSnapshot, SNAPSHOT_DIR, type SnapshotFile } from './index.js'
import { diffSnapshots, normalizeSnapshot } from './normalize-snapshot.js'

let aws: FakeAwsEndpoint

beforeEach(async () => {
  aws = await startFakeAwsEndpoint()
})

afterEach(async () => {
  await aws.close()
  vi.unstubAllEnvs()
})

async function seeded(): Promise<SnapshotFile[]> {
  const names = (await readdir(SNAPSHOT_DIR)).filter((file) => file.endsWith('.json'))
  return Promise.all(
    names.map(async (file) => JSON.parse(await readFile(join(SNAPSHOT_DIR, file), 'utf8')) as SnapshotFile),
  )
}

describe('seeded snapshots', () => {
  it('are there: the PENDING backtrack, the COMPLETED describe example and the not-found error', async () => {
    expect((await seeded()).map((file) => file.name).sort()).toEqual([
      'backtrack-db-cluster.pending',
      'describe-db-cluster-backtracks.completed',
      'error.describe-db-clusters.cluster-not-found',
    ])
  })

  it('each say where they came from and equal the normalised real output they quote', async () => {
    for (const file of await seeded()) {
      expect(file.source).toMatch(/aurora-backtrack-api\.md §\d/)
      expect(normalizeSnapshot(file.original, { identifiers: file.identifiers ?? [] })).toEqual(file.snapshot)
    }
  })
})

describe('normalizeSnapshot', () => {
  it('masks ids, ARNs, host names and times, keeps enumerations and key sets, drops $metadata', () => {
    const snapshot = normalizeSnapshot({
      $metadata: { httpStatusCode: 200, requestId: 'r' },
      DBClusters: [
        {
          DBClusterIdentifier: 'lab',
          DBClusterArn: 'arn:aws:rds:us-east-1:123456789012:cluster:lab',
          Endpoint: 'lab.cluster-x.us-east-1.rds.amazonaws.com',
          Status: 'available',
          Engine: 'aurora-mysql',
          EngineVersion: '8.0.mysql_aurora.3.05.2',
          ClusterCreateTime: new Date(),
          EarliestBacktrackTime: '2026-11-24T00:10:00.253Z',
          BacktrackWindow: 86400,
          DeletionProtection: false,
          TagList: [{ Key: 'backtrack-testbed', Value: 'true' }],
          Nothing: undefined,
        },
      ],
    })
    expect(snapshot).toEqual({
      DBClusters: [
        {
          BacktrackWindow: '<number>',
          ClusterCreateTime: '<timestamp>',
          DBClusterArn: '<arn>',
          DBClusterIdentifier: '<cluster-id>',
          DeletionProtection: '<boolean>',
          EarliestBacktrackTime: '<timestamp>',
          Endpoint: '<hostname>',
          Engine: 'aurora-mysql',
          EngineVersion: '<string>',
          Status: 'available',
          TagList: [{ Key: 'backtrack-testbed', Value: '<string>' }],
        },
      ],
    })
  })

  it('reduces lists to their distinct element shapes and masks ids inside messages', () => {
    expect(
      normalizeSnapshot([
        { Status: 'COMPLETED', BacktrackTo: new Date(1) },
        { Status: 'COMPLETED', BacktrackTo: new Date(2) },
      ]),
    ).toEqual([{ BacktrackTo: '<timestamp>', Status: 'COMPLETED' }])
    expect(
      normalizeSnapshot(
        {
          code: 'X',
          message:
            'Backtrack 2f5f5294-0dd2-44c9-9f50-0123456789ab of lab-cluster-2 at 2026-11-24T00:10:00Z (arn:aws:rds:us-east-1:1:cluster:lab)',
        },
        { identifiers: ['lab-cluster', 'lab-cluster-2'] },
      ),
    ).toEqual({ code: 'X', message: 'Backtrack <uuid> of <cluster-id> at <timestamp> (<arn>)' })
  })

  it('diffs by path: casing, missing and extra keys, shape changes', () => {
    expect(
      diffSnapshots(
        { Status: 'PENDING', BacktrackTo: '<timestamp>', Port: '<number>' },
        { Status: 'pending', BacktrackedFrom: '<timestamp>', Port: '<string>' },
      ),
    ).toEqual([
      '$.BacktrackTo: missing in response (expected "<timestamp>")',
      '$.BacktrackedFrom: not in snapshot (got "<timestamp>")',
      '$.Port: expected "<number>", got "<string>"',
      '$.Status: expected "PENDING", got "pending"',
    ])
  })
})

describe('compareWithSnapshot', () => {
  it('accepts what the real SDK parses from an Aurora-shaped BacktrackDBCluster response', async () => {
    aws.on('BacktrackDBCluster', queryResult('BacktrackDBCluster', backtrackFields({ Status: 'PENDING' })))
    const output = await aws
      .rdsClient()
      .send(new BacktrackDBClusterCommand({ DBClusterIdentifier: CLUSTER_ID, BacktrackTo: new Date() }))
    const result = await compareWithSnapshot('backtrack-db-cluster.pending', output)
    expect(result).toMatchObject({ matches: true, recorded: false, differences: [] })
  })

  it('reports a lower-case status and an early BacktrackedFrom as differences', async () => {
    aws.on(
      'BacktrackDBCluster',
      queryResult(
        'BacktrackDBCluster',
        backtrackFields({ Status: 'pending', BacktrackedFrom: '2026-11-24T00:12:01Z' }),
      ),
    )
    const output = await aws
      .rdsClient()
      .send(new BacktrackDBClusterCommand({ DBClusterIdentifier: CLUSTER_ID, BacktrackTo: new Date() }))
    const result = await compareWithSnapshot('backtrack-db-cluster.pending', output)
    expect(result.matches).toBe(false)
    expect(result.differences).toEqual([
      '$.BacktrackedFrom: not in snapshot (got "<timestamp>")',
      '$.Status: expected "PENDING", got "pending"',
    ])
  })

  it('compares the error an engine raised with the real not-found error', async () => {
    aws.on('DescribeDBClusters', queryError(404, 'DBClusterNotFoundFault', `DBCluster ${CLUSTER_ID} not found.`))
    const engine = createRdsEngine({ clusterIdentifier: CLUSTER_ID, client: aws.rdsClient() })
    const error = await engine.describeCluster().catch((e: unknown) => e)
    const result = await compareWithSnapshot('error.describe-db-clusters.cluster-not-found', errorSnapshot(error), {
      identifiers: [CLUSTER_ID],
    })
    expect(result.differences).toEqual([])
  })

  describe('recording', () => {
    let dir: string
    beforeEach(async () => {
      dir = await mkdtemp(join(tmpdir(), 'backtrack-snapshots-'))
    })
    afterEach(async () => {
      await rm(dir, { recursive: true, force: true })
    })

    it('writes the snapshot under BACKTRACK_RECORD=1 and compares against it afterwards', async () => {
      const response = { DBClusterIdentifier: 'lab', Status: 'available', BacktrackWindow: 3600 }
      vi.stubEnv('BACKTRACK_RECORD', '1')
      expect(await compareWithSnapshot('describe-db-clusters.lab', response, { dir })).toMatchObject({ recorded: true })
      const file = await readSnapshot('describe-db-clusters.lab', dir)
      expect(file?.source).toMatch(/^Recorded from real Aurora with BACKTRACK_RECORD=1 on /)
      expect(file?.snapshot).toEqual({
        BacktrackWindow: '<number>',
        DBClusterIdentifier: '<cluster-id>',
        Status: 'available',
      })
      vi.stubEnv('BACKTRACK_RECORD', undefined)
      expect(
        await compareWithSnapshot('describe-db-clusters.lab', { ...response, Status: 'stopped' }, { dir }),
      ).toMatchObject({
        matches: false,
        differences: ['$.Status: expected "available", got "stopped"'],
      })
    })

    it('says how to record a snapshot that does not exist yet', async () => {
      const result = await compareWithSnapshot('nothing-here', {}, { dir })
      expect(result.matches).toBe(false)
      expect(result.differences[0]).toContain('BACKTRACK_LIVE=1 BACKTRACK_RECORD=1')
    })

    it('refuses names that would leave the snapshot directory', async () => {
      await expect(compareWithSnapshot('../escape', {}, { dir })).rejects.toMatchObject({
        code: 'InvalidParameterValue',
      })
    })
  })
})
