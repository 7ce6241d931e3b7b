import { createConnection } from 'mysql2/promise'
import {
  BacktrackError,
  formatRdsTime,
  type BacktrackEngine,
  type BacktrackInput,
  type BacktrackPage,
  type DBCluster,
  type DBClusterBacktrack,
  type DescribeBacktracksInput,
  type RdsEvent,
  type SqlEndpoint,
  type WaitOptions,
} from '@backtrack/core'
import {
  connectExistingServer,
  startContainerServer,
  startPrivateServer,
  type ServerLogger,
  type StartedMysqlServer,
} from '@backtrack/mysql-server'
import { SimulatorEngine } from '../simulator-engine.js'
import { DATA_DIR } from './data-dir.js'
import { SupervisedServer } from './supervised-server.js'

/** Where a cluster's server comes from (`auto` is resolved by the caller). */
export type LocalServerSource = 'private' | 'container' | 'url'

export interface ClusterNodeOptions {
  identifier: string
  /** Holds `mysql/` (a private server's data) and `cluster/` (the page log). */
  dataDir: string
  /** Address of the SQL endpoint. */
  host: string
  /** Port of the SQL endpoint; 0 or unset picks a free one. */
  sqlPort?: number
  backtrackWindow: number
  database?: string
  source: LocalServerSource
  mysqlUrl?: string
  appUser?: string
  appPassword?: string
  region: string
  logger: ServerLogger
  pendingMillis?: number
  onEvent: (event: RdsEvent) => void
}

/** A wildcard listen address is reached through the loopback one. */
export function connectHost(host: string): string {
  return host === '0.0.0.0' || host === '::' || host === '' ? '127.0.0.1' : host
}

/**
 * One local cluster: its own server, page log and SQL endpoint. It is the engine the RDS endpoint serves, and it
 * reports what Aurora reports as events (backtrack requested, started, completed or failed; window changes).
 */
export class ClusterNode implements BacktrackEngine {
  readonly kind = 'simulator' as const
  readonly clusterIdentifier: string
  readonly server: StartedMysqlServer
  readonly engine: SimulatorEngine
  readonly dataDir: string
  readonly #options: ClusterNodeOptions
  readonly #watchers = new Set<Promise<void>>()
  #deleting = false
  #closing: Promise<void> | undefined
  readonly #stopWatching = new AbortController()

  private constructor(options: ClusterNodeOptions, server: StartedMysqlServer, engine: SimulatorEngine) {
    this.#options = options
    this.clusterIdentifier = engine.clusterIdentifier
    this.server = server
    this.engine = engine
    this.dataDir = options.dataDir
  }

  /** Starts (or resumes, when `dataDir` holds one) a cluster; a server left running by a killed process is adopted. */
  static async start(options: ClusterNodeOptions): Promise<ClusterNode> {
    const { logger } = options
    const app = {
      ...(options.appUser === undefined ? {} : { appUser: options.appUser }),
      ...(options.appPassword === undefined ? {} : { appPassword: options.appPassword }),
    }
    let server: StartedMysqlServer
    if (options.source === 'url') {
      logger.info('server source: url (--mysql-url)')
      server = await connectExistingServer(options.mysqlUrl ?? '', { ...app, logger })
    } else if (options.source === 'container') {
      logger.info('server source: container')
      server = await startContainerServer({ ...app, logger })
    } else {
      // Detached: a Ctrl-C of a foreground `up` must reach the cluster process, which shuts the server down in order;
      // after a kill -9 of that process the server keeps running and the next `up` adopts it.
      // The server itself is the cluster's SQL endpoint (no proxy in the data path): it listens on the cluster's host
      // and SQL port. Without a port it keeps the one of its previous start when that is free.
      const start = (port?: number) =>
        startPrivateServer({
          ...app,
          logger,
          dataDir: DATA_DIR.serverDir(options.dataDir),
          detached: true,
          host: options.host,
          ...(port ? { port } : {}),
        })
      const started = await start(options.sqlPort)
      // A managed database restarts an instance whose server died; so does the cluster, on the same address.
      server = new SupervisedServer(started, {
        restart: () => start(started.port),
        logger,
        onEvent: (message) => node?.emitEvent(message, ['availability']),
      })
    }
    let node: ClusterNode | undefined
    try {
      if (server.adopted === true) {
        // A backtrack interrupted by a kill -9 may have left the server read-only.
        const conn = await createConnection(server.connectionOptions('admin'))
        await conn.query('SET GLOBAL read_only = OFF').finally(() => conn.end())
      }
      if (options.source !== 'private' && (options.sqlPort || connectHost(options.host) !== '127.0.0.1')) {
        logger.warn(
          `the SQL endpoint is the ${options.source} server itself, ${server.host}:${server.port}; --host/--sql-port apply to a private server only`,
        )
      }
      const engine = await SimulatorEngine.start({
        server,
        dataDir: DATA_DIR.engineDir(options.dataDir),
        clusterIdentifier: options.identifier,
        backtrackWindow: options.backtrackWindow,
        ...(options.database === undefined ? {} : { database: options.database }),
        logger,
        region: options.region,
        ...(options.pendingMillis === undefined ? {} : { pendingMillis: options.pendingMillis }),
      })
      node = new ClusterNode(options, server, engine)
      return node
    } catch (error) {
      await server.stop().catch(() => undefined)
      throw error
    }
  }

  get arn(): string {
    return `arn:aws:rds:${this.#options.region}:000000000000:cluster:${this.clusterIdentifier}`
  }

  /** Records an event of this cluster (what `DescribeEvents` returns). */
  emitEvent(message: string, categories: string[]): void {
    this.#emit(message, categories)
  }

  #emit(message: string, categories: string[] = ['backtrack']): void {
    this.#options.onEvent({
      SourceIdentifier: this.clusterIdentifier,
      SourceType: 'db-cluster',
      Message: message,
      EventCategories: categories,
      Date: new Date(),
      SourceArn: this.arn,
    })
  }

  /** Marks the cluster as being deleted: it describes itself as `deleting` and refuses backtracks. */
  markDeleting(): void {
    this.#deleting = true
  }

  async describeCluster(): Promise<DBCluster> {
    const cluster = await this.engine.describeCluster()
    return this.#deleting ? { ...cluster, Status: 'deleting' } : cluster
  }

  async backtrack(input: BacktrackInput): Promise<DBClusterBacktrack> {
    if (this.#deleting) {
      throw new BacktrackError(
        'InvalidDBClusterStateFault',
        `DBCluster ${this.clusterIdentifier} is not in the available state (it is deleting).`,
      )
    }
    const record = await this.engine.backtrack(input)
    const to = formatRdsTime(record.BacktrackTo)
    this.#emit(`Backtrack to ${to} requested (backtrack ${record.BacktrackIdentifier}).`)
    const watcher = this.engine
      .waitForBacktrack(record.BacktrackIdentifier, {
        pollMs: 20,
        signal: this.#stopWatching.signal,
        onProgress: (progress) => {
          if (progress.Status === 'applying') this.#emit(`Backtrack to ${to} started.`)
        },
      })
      .then(
        () => this.#emit(`Backtrack to ${to} completed.`),
        (error: Error) => {
          // Stopped while it was unfinished: the next start finishes it and says so.
          if (!this.#stopWatching.signal.aborted) this.#emit(`Backtrack to ${to} failed: ${error.message}`)
        },
      )
      .finally(() => this.#watchers.delete(watcher))
    this.#watchers.add(watcher)
    return record
  }

  /** A test reset (see {@link SimulatorEngine.rewind}): idle client connections stay open. */
  async rewind(to: Date): Promise<DBClusterBacktrack> {
    if (this.#deleting) {
      throw new BacktrackError(
        'InvalidDBClusterStateFault',
        `DBCluster ${this.clusterIdentifier} is not in the available state (it is deleting).`,
      )
    }
    const at = formatRdsTime(to)
    try {
      const record = await this.engine.rewind(to)
      this.#emit(`Backtrack to ${formatRdsTime(record.BacktrackTo)} completed (rewind ${record.BacktrackIdentifier}).`)
      return record
    } catch (error) {
      if (BacktrackError.is(error, 'InternalFailure')) this.#emit(`Backtrack to ${at} failed: ${error.message}`)
      throw error
    }
  }

  describeBacktracks(input?: DescribeBacktracksInput): Promise<BacktrackPage> {
    return this.engine.describeBacktracks(input)
  }

  waitForBacktrack(backtrackIdentifier: string, options?: WaitOptions): Promise<DBClusterBacktrack> {
    return this.engine.waitForBacktrack(backtrackIdentifier, options)
  }

  async modifyBacktrackWindow(seconds: number): Promise<DBCluster> {
    const before = (await this.engine.describeCluster()).BacktrackWindow
    const cluster = await this.engine.modifyBacktrackWindow(seconds)
    if (before !== seconds) {
      this.#emit(
        seconds === 0
          ? 'Backtrack was disabled (target Backtrack window 0); it cannot be enabled again.'
          : `The target Backtrack window was modified to ${seconds} seconds. The actual Backtrack window is the same as the target Backtrack window.`,
      )
    }
    return cluster
  }

  now(): Promise<Date> {
    return this.engine.now()
  }

  mark(): Promise<Date> {
    return this.engine.mark()
  }

  namedMark(name: string): Promise<Date> {
    return this.engine.namedMark(name)
  }

  sqlEndpoint(): Promise<SqlEndpoint> {
    return this.engine.sqlEndpoint()
  }

  /** Where clients connect: the server itself. */
  get sqlAddress(): { host: string; port: number } {
    return { host: this.server.host, port: this.server.port }
  }

  /** Stops the engine (after a running backtrack) and the server, in that order. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      // A rewind waiting for a server that does not come back stops waiting (the next start finishes it).
      this.engine.stopWaitingForServer()
      await this.engine.idle()
      this.#stopWatching.abort()
      await Promise.all(this.#watchers)
      await this.engine.close()
      await this.server.stop()
    })()
    return this.#closing
  }

  /** As a kill -9 would leave it: the page log and the server are not shut down (tests). */
  async crash(): Promise<void> {
    if (this.server instanceof SupervisedServer) this.server.detach()
    this.#stopWatching.abort()
    await this.engine.crash()
  }
}
