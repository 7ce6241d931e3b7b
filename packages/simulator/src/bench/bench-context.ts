import { join } from 'node:path'
import { RDSClient } from '@aws-sdk/client-rds'
import mysql, { type Connection } from 'mysql2/promise'
import { startLocalCluster, type StartedLocalCluster } from '../local-cluster/local-cluster.js'
import type { ServerConnectionOptions, StartedMysqlServer } from '@backtrack/mysql-server'
import { startPrivateServer } from '@backtrack/mysql-server'
import type { SimulatorEngine } from '../simulator-engine.js'
import { SqlClient } from '../testing/sql-client.js'
import type { BenchSizes } from './options.js'
import type { Check, Figure } from './report.js'

/** The lab's database on every server of the bench. */
export const DATABASE = 'mylab'
export const CATCH_UP_TIMEOUT_MS = 15 * 60_000

/**
 * What every phase of the bench shares: the sizes, the local cluster (started once: its private server, capture,
 * SQL and RDS endpoints, all in this process), a plain server with the same binlog settings for baselines (started
 * when a phase first asks for it), an AWS SDK client of the cluster's RDS endpoint, and the figures and checks the
 * phases add. `close()` tears everything down in reverse order.
 */
export class BenchContext {
  readonly sizes: BenchSizes
  /** `--quick`: development sizes (phases with sizes of their own pick their small ones). */
  readonly quick: boolean
  readonly dir: string
  readonly log: (message: string) => void
  readonly figures: Figure[] = []
  readonly checks: Check[] = []
  readonly #closers: (() => Promise<void>)[] = []
  #cluster: StartedLocalCluster | undefined
  #plain: Promise<StartedMysqlServer> | undefined
  #rds: RDSClient | undefined
  #admin: Connection | undefined
  #closed = false

  constructor(options: { sizes: BenchSizes; quick: boolean; dir: string; log: (message: string) => void }) {
    this.sizes = options.sizes
    this.quick = options.quick
    this.dir = options.dir
    this.log = options.log
  }

  /** Starts the local cluster (a private server in `<dir>/cluster`), as `backtrack up` would. */
  async startCluster(): Promise<StartedLocalCluster> {
    const cluster = await startLocalCluster({
      dataDir: join(this.dir, 'cluster'),
      source: 'private',
      database: DATABASE,
      logger: { info: () => undefined, warn: (message) => this.log(`warn: ${message}`) },
    })
    this.#cluster = cluster
    this.#closers.push(() => cluster.stop())
    return cluster
  }

  get cluster(): StartedLocalCluster {
    if (this.#cluster === undefined) throw new Error('the bench cluster is not started')
    return this.#cluster
  }

  get engine(): SimulatorEngine {
    return this.cluster.engine
  }

  /** The cluster's own server (its port is the SQL endpoint). */
  get server(): StartedMysqlServer {
    return this.cluster.node.server
  }

  /** Where applications connect: the cluster's SQL endpoint. */
  endpointOptions(database = DATABASE): ServerConnectionOptions {
    const { host, port, user, password } = this.cluster.sql
    return { host, port, user, password, database }
  }

  /** An admin session on the cluster's server (the bench's own bookkeeping: checksums, binlog counters). */
  async admin(): Promise<Connection> {
    if (this.#admin === undefined) {
      const admin = await mysql.createConnection(this.server.connectionOptions('admin'))
      this.#admin = admin
      this.#closers.push(() => admin.end().catch(() => admin.destroy()))
    }
    return this.#admin
  }

  /** A plain server with the cluster's binlog settings and no capture: the baselines' server. */
  plainServer(): Promise<StartedMysqlServer> {
    this.#plain ??= (async () => {
      this.log(`starting a plain server (same binlog settings, no capture) in ${join(this.dir, 'plain')}`)
      // Detached, as the cluster's server is (and as a server run as a service is): in its own session, so in its own
      // scheduler autogroup (kernel.sched_autogroup_enabled). A server that shares sysbench's autogroup got about 1.5x
      // the TPS of one that does not on these 2-core machines, which figure 2 once counted against the capture.
      const server = await startPrivateServer({ dataDir: join(this.dir, 'plain'), detached: true })
      this.#closers.push(() => server.stop())
      return server
    })()
    return this.#plain
  }

  /** The AWS SDK's RDS client of the cluster's endpoint (any credentials are accepted). */
  get rds(): RDSClient {
    if (this.#rds === undefined) {
      // The SDK's advice to upgrade Node is noise in the bench's output.
      process.env['AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED'] ??= 'true'
      const rds = new RDSClient({
        endpoint: this.cluster.rdsEndpoint,
        region: this.cluster.region,
        credentials: { accessKeyId: 'bench', secretAccessKey: 'bench' },
        maxAttempts: 1,
      })
      this.#rds = rds
      this.#closers.push(async () => rds.destroy())
    }
    return this.#rds
  }

  /** An application session that reconnects after a backtrack closed it; closed with the context. */
  sqlClient(options: ServerConnectionOptions): SqlClient {
    const client = new SqlClient(options)
    this.#closers.push(() => client.end())
    return client
  }

  /** Everything the capture has seen is in the log; returns a mark (a time a backtrack restores exactly). */
  async catchUp(): Promise<Date> {
    await this.engine.capture.catchUp(CATCH_UP_TIMEOUT_MS)
    return this.engine.mark()
  }

  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    for (const close of this.#closers.reverse()) await close().catch(() => undefined)
  }
}

/** One part of the bench: it measures something and adds its figures and checks to the context. */
export interface BenchPhase {
  /** For `--only` and progress lines. */
  name: string
  run(context: BenchContext): Promise<void>
}
