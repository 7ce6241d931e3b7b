import { join } from 'node:path'
import { runEngineConformance } from '@backtrack/core/testing'
import mysql from 'mysql2/promise'
import { findServerBinaries, startPrivateServer } from '@backtrack/mysql-server'
import { SimulatorEngine } from './simulator-engine.js'
import { tempDir } from '@backtrack/mysql-server/testing'

// The engine conformance suite (packages/core/src/testing) over a SimulatorEngine on its own private server.
const binaries = await findServerBinaries()
const skipReason =
  'rejected' in binaries ? `no local mysqld/mariadbd (${binaries.rejected.join('; ') || 'none found'})` : undefined

runEngineConformance(
  'SimulatorEngine over a private server',
  async () => {
    const dir = tempDir('bt-conformance-')
    const server = await startPrivateServer({ dataDir: join(dir.path, 'mysql') })
    // Aurora keeps a request `pending` for seconds; a short wait lets DescribeDBClusters see `backtracking`.
    const engine = await SimulatorEngine.start({
      server,
      dataDir: join(dir.path, 'cluster'),
      database: 'mylab',
      pendingMillis: 100,
    }).catch(async (error: unknown) => {
      await server.stop()
      dir[Symbol.dispose]()
      throw error
    })
    return {
      engine,
      // One connection per statement: a backtrack closes every client connection, as Aurora does.
      async sql(statement) {
        const connection = await mysql.createConnection(server.connectionOptions('app', 'mylab'))
        try {
          const [rows] = await connection.query(statement)
          return Array.isArray(rows) ? (rows as Record<string, unknown>[]) : []
        } finally {
          await connection.end().catch(() => connection.destroy())
        }
      },
      async cleanup() {
        await engine.close()
        await server.stop()
        dir[Symbol.dispose]()
      },
    }
  },
  {
    ...(skipReason === undefined ? {} : { skipReason }),
    disposable: true,
    lacks: {
      otherCluster:
        "SimulatorEngine drives its one cluster and cannot name another; RdsEngine over the local cluster's endpoint checks DBClusterNotFoundFault",
    },
  },
)
