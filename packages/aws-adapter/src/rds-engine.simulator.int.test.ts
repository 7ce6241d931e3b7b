import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { BacktrackError } from '@backtrack/core'
import { runEngineConformance } from '@backtrack/core/testing'
import { CONTROL_ROUTES, startLocalCluster, type StartedLocalCluster } from '@backtrack/simulator'
import { createConnection } from 'mysql2/promise'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { compareWithSnapshot, errorSnapshot } from './parity/index.js'
import { createRdsEngine, SIMULATOR_MARK_ROUTE, type RdsEngine } from './rds-engine.js'
import { privateServerUnavailable } from './test-support/private-mariadb.js'

// RdsEngine over a local cluster's RDS-compatible endpoint (startLocalCluster: private server, page log, SQL proxy,
// RDS endpoint, control routes): the same engine code path as live Aurora, the real SDK over HTTP, and the
// simulator's wire answers held to the Aurora parity snapshots.
const unavailable = await privateServerUnavailable()
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

    // Was skipped as a simulator gap: the capture stamps a MariaDB commit when it reads the event (binlog headers
    // have whole seconds), so a mark read from the server clock right after a commit could fall before the stamp
    // and a backtrack to it undid the commit (5 of 5 runs). On a loopback endpoint mark() now takes the local
    // cluster's exact mark (POST /_backtrack/mark?cluster=<id>), which waits for the capture.
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

    it("marks through the control route for the engine's own cluster, which names an unknown one", async () => {
      expect(SIMULATOR_MARK_ROUTE).toBe(CONTROL_ROUTES.mark)
      const { cluster } = await stack!
      const ask = (id: string) =>
        fetch(`${cluster.rdsEndpoint}${CONTROL_ROUTES.mark}?cluster=${id}`, { method: 'POST' }).then(
          async (response) => ({ status: response.status, body: (await response.json()) as Record<string, unknown> }),
        )
      const own = await ask('LabStack-Cluster')
      expect(own.status).toBe(200)
      expect(Date.parse(String(own.body['mark']))).toBeGreaterThan(0)
      expect(await ask('no-such-cluster')).toMatchObject({
        status: 404,
        body: { error: { code: 'DBClusterNotFoundFault', message: 'DBCluster no-such-cluster not found.' } },
      })
      await expect((await rdsEngine('no-such-cluster')).mark()).rejects.toSatisfy((error) =>
        BacktrackError.is(error, 'DBClusterNotFoundFault'),
      )
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
  skipReason === undefined ? {} : { skipReason },
)
