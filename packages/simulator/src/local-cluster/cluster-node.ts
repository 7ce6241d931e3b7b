import { createServer } from 'node:net'
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
import { ClusterMetrics, sampleOf } from './cluster-metrics.js'
import type { VerifyReport } from '../verify/verify-state.js'
import { DATA_DIR } from './data-dir.js'
import { SqlProxy } from './sql-proxy.js'
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
  /**
   * Whether the cluster has its writer instance, whose endpoint is the server itself on `host`:`sqlPort`. A cluster
   * made through the RDS API has no instance at first, so, as in Aurora, nothing answers on its endpoint until
   * `CreateDBInstance` adds the writer: its server listens on a private port meanwhile, and `sqlPort` stays reserved
   * for the writer. Default true (the cluster `up` starts, whose writer exists).
   */
  writerOpen?: boolean
  /** A private server already started for this cluster (a point-in-time restore loads it before the cluster starts). */
  server?: StartedMysqlServer
  /** How often the backtrack metrics are sampled (default one minute, as CloudWatch's data points). */
  metricsIntervalMs?: number
  /** Called when the actual backtrack window falls short of the target, or catches up again. */
  onWindowAlert?: (alert: boolean) => void
}

/** A port that is free on `host` now (bound and released at once), for an endpoint that opens later. */
async function freePort(host: string): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen({ host, port: 0, exclusive: true }, () => resolve())
  })
  const address = server.address()
  await new Promise<void>((resolve) => server.close(() => resolve()))
  if (address === null || typeof address === 'string') throw new Error(`no free port on ${host}`)
  return address.port
}

const DEFAULT_METRICS_INTERVAL_MS = 60_000

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
  /** The backtrack metrics CloudWatch serves, sampled while the cluster runs. */
  readonly metrics: ClusterMetrics
  readonly #options: ClusterNodeOptions
  readonly #watchers = new Set<Promise<void>>()
  readonly #endpoint: { host: string; port: number }
  readonly #readers = new Set<SqlProxy>()
  #readerEndpoint: SqlProxy | undefined
  #sampler: ReturnType<typeof setInterval> | undefined
  #sampledAt: number
  #deleting = false
  #closing: Promise<void> | undefined
  readonly #stopWatching = new AbortController()

  private constructor(
    options: ClusterNodeOptions,
    server: StartedMysqlServer,
    engine: SimulatorEngine,
    endpoint: { host: string; port: number },
  ) {
    this.#options = options
    this.clusterIdentifier = engine.clusterIdentifier
    this.server = server
    this.engine = engine
    this.dataDir = options.dataDir
    this.#endpoint = endpoint
    this.metrics = new ClusterMetrics(DATA_DIR.metricsFile(options.dataDir))
    this.#sampledAt = this.metrics.last?.t ?? Date.now()
  }

  /** Starts (or resumes, when `dataDir` holds one) a cluster; a server left running by a killed process is adopted. */
  static async start(options: ClusterNodeOptions): Promise<ClusterNode> {
    const { logger } = options
    const app = {
      ...(options.appUser === undefined ? {} : { appUser: options.appUser }),
      ...(options.appPassword === undefined ? {} : { appPassword: options.appPassword }),
    }
    const writerOpen = options.writerOpen ?? true
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
      // Without its writer instance the server listens on a private port, so nothing answers on the cluster's.
      const host = writerOpen ? options.host : '127.0.0.1'
      const start = (port?: number) =>
        startPrivateServer({
          ...app,
          logger,
          dataDir: DATA_DIR.serverDir(options.dataDir),
          detached: true,
          host,
          ...(port ? { port } : {}),
        })
      const started = options.server ?? (await start(writerOpen ? options.sqlPort : await freePort('127.0.0.1')))
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
      // Without its writer the cluster's endpoint is reserved, not served: describe shows it, nothing answers there.
      const endpoint = writerOpen
        ? { host: server.host, port: server.port }
        : { host: connectHost(options.host), port: options.sqlPort || (await freePort(options.host)) }
      const engine = await SimulatorEngine.start({
        server,
        dataDir: DATA_DIR.engineDir(options.dataDir),
        clusterIdentifier: options.identifier,
        backtrackWindow: options.backtrackWindow,
        ...(options.database === undefined ? {} : { database: options.database }),
        ...(writerOpen ? {} : { sqlEndpoint: () => endpoint }),
        logger,
        region: options.region,
        ...(options.pendingMillis === undefined ? {} : { pendingMillis: options.pendingMillis }),
        onCaptureFault: (fault) => {
          if (node !== undefined) node.#captureEvent(fault)
        },
      })
      node = new ClusterNode(options, server, engine, endpoint)
      // A fault met while the engine started (a binlog file purged while the cluster was down) came before the node.
      if (engine.capture.error !== undefined) node.#captureEvent(engine.capture.error)
      node.#startSampling()
      return node
    } catch (error) {
      await server.stop().catch(() => undefined)
      throw error
    }
  }

  get arn(): string {
    return `arn:aws:rds:${this.#options.region}:000000000000:cluster:${this.clusterIdentifier}`
  }

  /** Port of the cluster endpoint: the server's own when the writer exists, else the one reserved for it. */
  get port(): number {
    return this.#endpoint.port
  }

  /** Whether the cluster endpoint answers (the cluster has its writer instance). */
  get writerOpen(): boolean {
    return this.#options.writerOpen ?? true
  }

  /** The options this node was started with (the registry restarts a node when its writer comes or goes). */
  get options(): ClusterNodeOptions {
    return this.#options
  }

  /** Records an event of this cluster (what `DescribeEvents` returns). */
  emitEvent(message: string, categories: string[]): void {
    this.#emit(message, categories)
  }

  #readerProxy(host: string, port: number | undefined): Promise<SqlProxy> {
    return SqlProxy.start({
      host,
      ...(port === undefined ? {} : { port }),
      target: { host: this.server.host, port: this.server.port },
      readOnly: true,
    })
  }

  /**
   * Opens a reader instance's endpoint: its own port on the cluster's host, onto the same server (Aurora's readers
   * share the cluster volume), refusing writes with MySQL's read-only error. A backtrack's lockout reaches its
   * sessions as it reaches the writer's: they are the server's sessions.
   */
  async openReader(port?: number): Promise<SqlProxy> {
    const reader = await this.#readerProxy(this.#options.host, port)
    this.#readers.add(reader)
    return reader
  }

  async closeReader(reader: SqlProxy): Promise<void> {
    this.#readers.delete(reader)
    await reader.close()
  }

  /**
   * Opens the cluster's reader endpoint: the cluster's port on another address (every reader answers the same).
   * Resolves with its address, or undefined when that address cannot be bound (then the reader endpoint stays the
   * writer's, as Aurora's is while a cluster has no reader).
   */
  async openReaderEndpoint(address: string): Promise<string | undefined> {
    if (this.#readerEndpoint !== undefined) return this.#readerEndpoint.address.host
    try {
      this.#readerEndpoint = await this.#readerProxy(address, this.port)
    } catch (error) {
      this.#options.logger.warn(
        `the reader endpoint cannot listen on ${address}:${this.port} (${(error as Error).message}); ReaderEndpoint stays the writer's`,
      )
      return undefined
    }
    return address
  }

  async closeReaderEndpoint(): Promise<void> {
    const endpoint = this.#readerEndpoint
    this.#readerEndpoint = undefined
    await endpoint?.close()
  }

  #startSampling(): void {
    this.sampleMetrics()
    this.#sampler = setInterval(
      () => this.sampleMetrics(),
      this.#options.metricsIntervalMs ?? DEFAULT_METRICS_INTERVAL_MS,
    )
    this.#sampler.unref()
  }

  /** Takes one sample of the backtrack metrics now (the sampler does every interval). */
  sampleMetrics(): void {
    if (this.#closing !== undefined) return
    try {
      const now = Date.now()
      const log = this.engine.pageLog
      const created = log
        .txnsBetween(this.#sampledAt * 1000, now * 1000)
        .filter((txn) => txn.kind === 'dml' || txn.kind === 'ddl')
        .reduce((sum, txn) => sum + txn.changes, 0)
      this.#sampledAt = now
      const window = Number(log.getMeta('backtrack_window') ?? 0)
      const createdMicros = Number(log.getMeta('created_us') ?? now * 1000)
      const earliest = Math.max(log.earliestMicros() ?? now * 1000, createdMicros)
      const sample = sampleOf({
        now: new Date(now),
        created,
        stored: log.changeRecords,
        targetWindowSeconds: window,
        ...(window > 0 ? { earliestBacktrackTime: new Date(earliest / 1000) } : {}),
        clusterCreateTime: new Date(createdMicros / 1000),
      })
      const before = this.metrics.last?.alert ?? 0
      this.metrics.add(sample)
      if (sample.alert !== before) this.#options.onWindowAlert?.(sample.alert === 1)
    } catch (error) {
      this.#options.logger.warn(`sampling the backtrack metrics failed: ${(error as Error).message}`)
    }
  }

  /** The capture stopped with `fault`, or (undefined) resumed after one: DescribeEvents shows both. */
  #captureEvent(fault: BacktrackError | undefined): void {
    if (fault === undefined) this.#emit("The DB cluster's change capture resumed.", ['notification'])
    else this.#emit(`The DB cluster's change capture stopped: ${fault.message}`, ['failure'])
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

  /** See {@link SimulatorEngine.verify}. */
  verify(): Promise<VerifyReport> {
    return this.engine.verify()
  }

  sqlEndpoint(): Promise<SqlEndpoint> {
    return this.engine.sqlEndpoint()
  }

  /** Where clients connect: the server itself. */
  get sqlAddress(): { host: string; port: number } {
    return { ...this.#endpoint }
  }

  async #closeEndpoints(): Promise<void> {
    clearInterval(this.#sampler)
    await this.closeReaderEndpoint()
    for (const reader of [...this.#readers]) await this.closeReader(reader)
  }

  /** Stops the reader endpoints, the engine (after a running backtrack) and the server, in that order. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      // A rewind waiting for a server that does not come back stops waiting (the next start finishes it).
      this.engine.stopWaitingForServer()
      await this.engine.idle()
      this.#stopWatching.abort()
      await Promise.all(this.#watchers)
      await this.#closeEndpoints()
      await this.engine.close()
      await this.server.stop()
    })()
    return this.#closing
  }

  /** As a kill -9 would leave it: the page log and the server are not shut down (tests). */
  async crash(): Promise<void> {
    if (this.server instanceof SupervisedServer) this.server.detach()
    this.#stopWatching.abort()
    await this.#closeEndpoints()
    await this.engine.crash()
  }
}
