import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { BacktrackError, type BacktrackEngine } from '@backtrack/core'
import { runEngineConformance } from '@backtrack/core/testing'
import {
  buildRdsEndpoint,
  SimulatorEngine,
  startPrivateServer,
  type ClusterRegistry,
  type StartedMysqlServer,
} from '@backtrack/simulator'
import { createConnection } from 'mysql2/promise'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { compareWithSnapshot, errorSnapshot } from './parity/index.js'
import { createRdsEngine, type RdsEngine } from './rds-engine.js'
import { privateServerUnavailable } from './test-support/private-mariadb.js'

// RdsEngine over the simulator's RDS-compatible endpoint: the same engine code path as live Aurora, against a
// SimulatorEngine on a private server, and the simulator's wire answers held to the Aurora parity snapshots.
const unavailable = await privateServerUnavailable()
const skipReason = unavailable === undefined ? undefined : `no local server: ${unavailable}`
const CLUSTER = 'labstack-cluster'
const SETTLE_MS = 1_000

interface Stack {
  server: StartedMysqlServer
  simulator: SimulatorEngine
  endpoint: Awaited<ReturnType<typeof buildRdsEndpoint>>
  url: string
  dirs: string[]
}

let stack: Promise<Stack> | undefined
const responses = new Map<string, object>()
const engines: RdsEngine[] = []

function singleClusterRegistry(engine: BacktrackEngine): ClusterRegistry {
  const refuse = (): never => {
    throw new BacktrackError('UnsupportedOperation', 'This test endpoint serves one cluster.')
  }
  return {
    get: (identifier) => (identifier === engine.clusterIdentifier ? engine : undefined),
    list: () => [engine],
    create: async () => refuse(),
    delete: async () => refuse(),
    events: () => [],
  }
}

async function startStack(): Promise<Stack> {
  const serverDir = await mkdtemp(join(tmpdir(), 'backtrack-aws-sim-server-'))
  const logDir = await mkdtemp(join(tmpdir(), 'backtrack-aws-sim-log-'))
  const server = await startPrivateServer({ dataDir: serverDir })
  const simulator = await SimulatorEngine.start({
    server,
    dataDir: logDir,
    clusterIdentifier: CLUSTER,
    database: 'mylab',
  })
  const endpoint = buildRdsEndpoint({ registry: singleClusterRegistry(simulator) })
  const url = await endpoint.listen({ port: 0, host: '127.0.0.1' })
  return { server, simulator, endpoint, url, dirs: [serverDir, logDir] }
}

async function rdsEngine(clusterIdentifier = CLUSTER): Promise<RdsEngine> {
  stack ??= startStack()
  const { url, simulator } = await stack
  const { user, password } = await simulator.sqlEndpoint()
  const engine = createRdsEngine({
    clusterIdentifier,
    endpointUrl: url,
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
  const { endpoint, simulator, server, dirs } = await stack
  await endpoint.close()
  await simulator.close()
  await server.stop()
  for (const dir of dirs) await rm(dir, { recursive: true, force: true })
})

describe.skipIf(skipReason !== undefined)(
  `RdsEngine over the simulator's RDS endpoint${skipReason ? ` (skipped: ${skipReason})` : ''}`,
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
      // Settle before the mark: see the skipped test below. The live test keeps the same distance (Aurora's
      // consistent times are about a second apart).
      await new Promise((resolve) => setTimeout(resolve, SETTLE_MS))
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

    // Known simulator gap (reported, not ours to fix): the capture stamps a commit when it reads the event, up to
    // ~100 ms after the server acknowledged it, so a mark read from the server's clock right after the commit
    // falls before the stamp and a backtrack to it undoes the commit (5 of 5 runs, 2026-11-24). SimulatorEngine's
    // own mark() waits for the capture, so only RdsEngine over the endpoint shows it. Enable once stamps never
    // exceed the server's clock at acknowledgement (DESIGN.md, "Hazards: Time").
    it.skip('keeps a commit acknowledged just before mark() (skipped: simulator stamps commits after the server clock)', async () => {
      await sql('CREATE TABLE IF NOT EXISTS mylab.edge (id INT PRIMARY KEY)')
      await sql('INSERT INTO mylab.edge VALUES (1)')
      const mark = await engine.mark()
      const started = await engine.backtrack({ backtrackTo: mark })
      await engine.waitForBacktrack(started.BacktrackIdentifier, { pollMs: 50 })
      expect(await sql('SELECT COUNT(*) AS n FROM mylab.edge')).toEqual([{ n: 1 }])
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
  "aws adapter over the simulator's RDS endpoint",
  async () => ({ engine: await rdsEngine(), sql }),
  skipReason === undefined ? {} : { skipReason },
)
