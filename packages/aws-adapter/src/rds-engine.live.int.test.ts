import { DescribeDBClusterBacktracksCommand, DescribeDBClustersCommand } from '@aws-sdk/client-rds'
import { runEngineConformance } from '@backtrack/core/testing'
import { createConnection } from 'mysql2/promise'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { isLoopbackEndpoint } from './live-guard.js'
import { compareWithSnapshot, errorSnapshot, readSnapshot, type SnapshotComparison } from './parity/index.js'
import { createRdsEngine, type RdsEngine } from './rds-engine.js'

// Runs against a real Aurora MySQL cluster, and costs money: see packages/aws-adapter/README.md ("Live tests").
const clusterId = process.env['BACKTRACK_CLUSTER_ID']
const live = process.env['BACKTRACK_LIVE'] === '1' && clusterId !== undefined && clusterId !== ''
const skipReason = live
  ? undefined
  : 'set BACKTRACK_LIVE=1 and BACKTRACK_CLUSTER_ID=<a backtrack-enabled Aurora MySQL testbed> to run'
const recording = process.env['BACKTRACK_RECORD'] === '1'
const LIVE_TIMEOUT_MS = 20 * 60_000
const LIVE_SUITE_TIMEOUT_MS = 90 * 60_000

const responses = new Map<string, object>()
let created: RdsEngine | undefined

// One engine for this file, shared by the live checks and the conformance suite, closed once at the end.
function liveEngine(): RdsEngine {
  created ??= createRdsEngine({
    clusterIdentifier: clusterId ?? '',
    onResponse: (operation, output) => responses.set(operation, output),
  })
  return created
}

afterAll(async () => {
  await created?.close()
})

function connectSql(): ReturnType<typeof createConnection> {
  return liveEngine()
    .sqlEndpoint()
    .then((endpoint) => createConnection({ ...endpoint, multipleStatements: false }))
}

async function sql(statement: string): Promise<Record<string, unknown>[]> {
  const connection = await connectSql()
  try {
    const [rows] = await connection.query(statement)
    return Array.isArray(rows) ? (rows as Record<string, unknown>[]) : []
  } finally {
    await connection.end()
  }
}

/** Compares (or with BACKTRACK_RECORD=1, records) a snapshot; a snapshot never recorded is not a failure. */
async function parity(name: string, response: unknown, identifiers: string[] = []): Promise<SnapshotComparison> {
  const result = await compareWithSnapshot(name, response, { identifiers })
  if (!result.recorded && (await readSnapshot(name)) === undefined) return { ...result, differences: [] }
  return result
}

describe.skipIf(!live)(`RdsEngine against real Aurora${skipReason ? ` (skipped: ${skipReason})` : ''}`, () => {
  let engine: RdsEngine

  beforeAll(async () => {
    engine = liveEngine()
    const endpoint = await engine.getClient().config.endpoint?.()
    if (recording && endpoint !== undefined && isLoopbackEndpoint(`http://${endpoint.hostname}`)) {
      throw new Error('BACKTRACK_RECORD=1 records real Aurora only; unset AWS_ENDPOINT_URL(_RDS) or BACKTRACK_RECORD.')
    }
  })

  it('describes a backtrack-enabled cluster, shaped like the snapshot', async () => {
    const cluster = await engine.describeCluster()
    expect(cluster.DBClusterIdentifier).toBe(engine.clusterIdentifier)
    expect(cluster.BacktrackWindow).toBeGreaterThan(0)
    const raw = await engine.getClient().send(new DescribeDBClustersCommand({ DBClusterIdentifier: clusterId }))
    const result = await parity('describe-db-clusters.backtrack-enabled', raw)
    expect(result.differences).toEqual([])
  })

  it('answers an unknown cluster with the real not-found error', async () => {
    const missing = `${engine.clusterIdentifier.slice(0, 40)}-does-not-exist`
    const error = await createRdsEngine({ clusterIdentifier: missing, client: engine.getClient() })
      .describeCluster()
      .catch((e: unknown) => e)
    expect(errorSnapshot(error).code).toBe('DBClusterNotFoundFault')
    const result = await parity('error.describe-db-clusters.cluster-not-found', errorSnapshot(error), [missing])
    expect(result.differences).toEqual([])
  })

  it('reads time from the cluster clock', async () => {
    const now = await engine.now()
    const mark = await engine.mark()
    expect(Math.abs(now.getTime() - Date.now())).toBeLessThan(60_000)
    expect(mark.getTime()).toBeGreaterThanOrEqual(now.getTime())
  })

  it(
    'rewinds a scratch table to a mark (needs the backtrack-testbed=true tag)',
    async () => {
      await sql('CREATE DATABASE IF NOT EXISTS backtrack_live')
      await sql('CREATE TABLE IF NOT EXISTS backtrack_live.probe (id INT PRIMARY KEY)')
      await sql('DELETE FROM backtrack_live.probe')
      // Aurora backtracks to a consistent time about a second apart: keep the mark clear of the writes.
      await new Promise((resolve) => setTimeout(resolve, 2_000))
      const before = await engine.mark()
      await new Promise((resolve) => setTimeout(resolve, 2_000))
      await sql('INSERT INTO backtrack_live.probe VALUES (1), (2), (3)')
      const started = await engine.backtrack({ backtrackTo: before, force: process.env['BACKTRACK_FORCE'] === '1' })
      expect(started.Status).toBe('pending')
      const pending = await parity('backtrack-db-cluster.pending', responses.get('BacktrackDBCluster'))
      const statuses: string[] = []
      const done = await engine.waitForBacktrack(started.BacktrackIdentifier, {
        onProgress: (backtrack) => statuses.push(backtrack.Status),
      })
      expect(done.Status).toBe('completed')
      expect(statuses.at(-1)).toBe('completed')
      expect(await sql('SELECT COUNT(*) AS n FROM backtrack_live.probe')).toEqual([{ n: 0 }])
      const raw = await engine.getClient().send(
        new DescribeDBClusterBacktracksCommand({
          DBClusterIdentifier: clusterId,
          BacktrackIdentifier: started.BacktrackIdentifier,
        }),
      )
      const completed = await parity('describe-db-cluster-backtracks.completed', raw)
      expect({ pending: pending.differences, completed: completed.differences }).toEqual({ pending: [], completed: [] })
    },
    LIVE_TIMEOUT_MS,
  )
})

// Every backtrack takes Aurora a minute or more: fewer of them, slower polling, and marks kept clear of writes
// (Aurora backtracks to a consistent time about a second apart). About 20 backtracks, 30-60 minutes.
runEngineConformance(
  'RdsEngine against real Aurora',
  async () => ({
    engine: liveEngine(),
    sql,
    makeMissingCluster: (id) => createRdsEngine({ clusterIdentifier: id, client: liveEngine().getClient() }),
  }),
  {
    ...(skipReason === undefined ? {} : { skipReason }),
    markSpacingMs: 2_000,
    pollMs: 5_000,
    testTimeoutMs: LIVE_SUITE_TIMEOUT_MS,
    eventuallyMs: 15 * 60_000,
    oracleTransactions: 6,
    oracleRewinds: 2,
  },
)
