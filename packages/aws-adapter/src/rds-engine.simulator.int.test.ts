import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { runEngineConformance } from '@backtrack/core/testing'
import { startLocalCluster, type StartedLocalCluster } from '@backtrack/simulator'
import { findServerBinaries } from '@backtrack/mysql-server'
import { createConnection } from 'mysql2/promise'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { compareWithSnapshot, errorSnapshot } from './parity/index.js'
import { createRdsEngine, type RdsEngine } from './rds-engine.js'

// RdsEngine over a local cluster's RDS-compatible endpoint (startLocalCluster: private server, page log, SQL proxy,
// RDS endpoint, control routes): the same engine code path as live Aurora, the real SDK over HTTP, and the
// simulator's wire answers held to the Aurora parity snapshots.
const binaries = await findServerBinaries()
const unavailable = 'rejected' in binaries ? binaries.rejected.join('; ') || 'no mariadbd/mysqld found' : undefined
const skipReason = unavailable === undefined ? undefined : `no local server: ${unavailable}`
const CLUSTER = 'labstack-cluster'

interface Stack {
  cluster: StartedLocalCluster
  dir: string
}

let stack: Promise<Stack> | undefined
const responses = new Map<string, object>()
const engines: RdsEngine[] = []

async function startStack(): Promise<Stack> {
  const dir = await mkdtemp(join(tmpdir(), 'backtrack-aws-local-cluster-'))
  // Aurora keeps a request `pending` for seconds; a short wait lets DescribeDBClusters see `backtracking`.
  const cluster = await startLocalCluster({ dataDir: dir, clusterIdentifier: CLUSTER, pendingMillis: 100 })
  return { cluster, dir }
}

async function rdsEngine(clusterIdentifier = CLUSTER): Promise<RdsEngine> {
  stack ??= startStack()
  const { cluster } = await stack
  const { user, password } = cluster.sql
  const engine = createRdsEngine({
    clusterIdentifier,
    endpointUrl: cluster.rdsEndpoint,
    sql: { user, password },
    onResponse: (operation, output) => responses.set(operation, output),
  })
  engines.push(engine)
  return engine
}

async function sql(statement: string): Promise<Record<string, unknown>[]> {
  const engine = await rdsEngine()
  const connection = await createConnection(await engine.sqlEndpoint())
  try {
    const [rows] = await connection.query(statement)
    return Array.isArray(rows) ? (rows as Record<string, unknown>[]) : []
  } finally {
    await connection.end()
  }
}

afterAll(async () => {
  for (const engine of engines) await engine.close()
  if (stack === undefined) return
  const { cluster, dir } = await stack
  await cluster.stop()
  await rm(dir, { recursive: true, force: true })
})

describe.skipIf(skipReason !== undefined)(
  `RdsEngine over a local cluster's RDS endpoint${skipReason ? ` (skipped: ${skipReason})` : ''}`,
  () => {
    let engine: RdsEngine

    beforeAll(async () => {
      engine = await rdsEngine()
    }, 120_000)

    it('describes the simulated cluster', async () => {
      const cluster = await engine.describeCluster()
      expect(cluster).toMatchObject({ DBClusterIdentifier: CLUSTER, Status: 'available', Endpoint: '127.0.0.1' })
      expect(cluster.BacktrackWindow).toBeGreaterThan(0)
    })

    it('rewinds rows end to end: mark, write, backtrack, wait, rows gone', async () => {
      await sql('CREATE TABLE IF NOT EXISTS mylab.probe (id INT PRIMARY KEY)')
      const before = await engine.mark()
      await sql('INSERT INTO mylab.probe VALUES (1), (2), (3)')
      const started = await engine.backtrack({ backtrackTo: before })
      expect(started.Status).toBe('pending')
      const seen: string[] = []
      const done = await engine.waitForBacktrack(started.BacktrackIdentifier, {
        pollMs: 50,
        onProgress: (b) => seen.push(b.Status),
      })
      expect(done.Status).toBe('completed')
      expect(seen.at(-1)).toBe('completed')
      expect(await sql('SELECT COUNT(*) AS n FROM mylab.probe')).toEqual([{ n: 0 }])
    })

    // MariaDB's binlog gives commits whole seconds, so a mark inside the second of a commit could fall before the
    // commit's stamp and a backtrack to it undid the commit. mark() takes the next whole second on MariaDB (and
    // waits for it), and the simulator keeps every stamp inside its second: the commit stays, with no side door.
    it('keeps a commit acknowledged just before mark()', async () => {
      await sql('CREATE TABLE IF NOT EXISTS mylab.edge (id INT PRIMARY KEY)')
      for (let i = 1; i <= 5; i++) {
        await sql(`INSERT INTO mylab.edge VALUES (${i})`)
        const mark = await engine.mark()
        const started = await engine.backtrack({ backtrackTo: mark })
        await engine.waitForBacktrack(started.BacktrackIdentifier, { pollMs: 50 })
        expect(await sql('SELECT COUNT(*) AS n FROM mylab.edge')).toEqual([{ n: i }])
      }
    })

    it('answers like Aurora on the wire (parity snapshots)', async () => {
      const missing = await (await rdsEngine('no-such-cluster')).describeCluster().catch((e: unknown) => e)
      const results = await Promise.all([
        compareWithSnapshot('backtrack-db-cluster.pending', responses.get('BacktrackDBCluster')),
        compareWithSnapshot('error.describe-db-clusters.cluster-not-found', errorSnapshot(missing), {
          identifiers: ['no-such-cluster'],
        }),
      ])
      expect(results.flatMap((result) => result.differences.map((d) => `${result.name}: ${d}`))).toEqual([])
    })
  },
)

runEngineConformance(
  "RdsEngine over the local cluster's RDS endpoint",
  async () => ({ engine: await rdsEngine(), sql, makeMissingCluster: (id) => rdsEngine(id) }),
  { ...(skipReason === undefined ? {} : { skipReason }), disposable: true },
)
