import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import mysql from 'mysql2/promise'
import {
  BacktrackError,
  clusterNotFound,
  formatRdsTime,
  type BacktrackEngine,
  type DBCluster,
  type RdsEvent,
} from '@backtrack/core'
import {
  RdsCatalog,
  instanceArn,
  type ClusterRegistry,
  type CreateClusterInput,
  type CreateInstanceInput,
  type InstanceRecord,
  type MetricDescriptor,
  type MetricPoint,
  type MetricSource,
  type RdsEventQuery,
  type RestoreClusterInput,
} from '@backtrack/rds-endpoint'
import { startPrivateServer, type ServerLogger, type StartedMysqlServer } from '@backtrack/mysql-server'
import { copyAccounts, restoreFromPageLog } from '../executor/restore-from-page-log.js'
import { ClusterEvents } from './cluster-events.js'
import { BACKTRACK_METRICS, type BacktrackMetricName } from './cluster-metrics.js'
import { ClusterNode, connectHost, type ClusterNodeOptions } from './cluster-node.js'
import { DATA_DIR } from './data-dir.js'
import { RestoringCluster } from './restoring-cluster.js'
import type { SqlProxy } from './sql-proxy.js'

/** Kept in `<dataDir>/clusters/<id>/node.json`: what a restart needs to bring a created cluster back. */
interface CreatedClusterRecord {
  identifier: string
  sqlPort: number
  backtrackWindow: number
  database?: string
}

export interface LocalClusterRegistryOptions {
  /** The local cluster's data dir: created clusters live in `clusters/<id>/`, events in `events.jsonl`. */
  dataDir: string
  host: string
  region: string
  logger: (identifier: string) => ServerLogger
  pendingMillis?: number
  /** Called with every event as it is recorded (the foreground `up` logs them). */
  onEvent?: (event: RdsEvent) => void
  /** How often clusters sample their backtrack metrics (default one minute). */
  metricsIntervalMs?: number
  /** How long `RestoreDBClusterToPointInTime` waits for the restore before it answers `creating` (default 10 s). */
  restoreAnswerMs?: number
}

/**
 * The reader endpoint's address: the cluster's loopback address with its third byte moved on by one (127.0.0.1 →
 * 127.0.1.1), so that it can listen on the cluster's port as Aurora's reader endpoint does; undefined when the
 * cluster listens beyond loopback (a wildcard address already holds that port everywhere).
 */
function readerAddressFor(host: string): string | undefined {
  const match = /^127\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(host)
  if (match === null) return undefined
  const third = Number(match[2])
  return `127.${match[1]}.${third === 255 ? 254 : third + 1}.${match[3]}`
}

/**
 * The clusters of one local endpoint: the one `up` started, and those made with `CreateDBCluster` or
 * `RestoreDBClusterToPointInTime`, each with its own private server, page log and SQL endpoints under
 * `<dataDir>/clusters/<id>`; their instances (a writer, readers) and tags live in the catalog. Everything comes back on
 * restart.
 */
export class LocalClusterRegistry implements ClusterRegistry {
  readonly #options: LocalClusterRegistryOptions
  readonly #nodes = new Map<string, ClusterNode>()
  readonly #restoring = new Map<string, RestoringCluster>()
  readonly #creating = new Set<string>()
  readonly #deletions = new Set<Promise<void>>()
  readonly #restores = new Set<Promise<void>>()
  readonly #readers = new Map<string, SqlProxy>()
  readonly #events: ClusterEvents
  readonly catalog: RdsCatalog
  readonly metrics: MetricSource
  #primary: string | undefined

  constructor(options: LocalClusterRegistryOptions) {
    this.#options = options
    this.#events = new ClusterEvents(DATA_DIR.eventsFile(options.dataDir))
    const file = DATA_DIR.catalogFile(options.dataDir)
    this.catalog = new RdsCatalog({
      load: () => {
        try {
          return JSON.parse(readFileSync(file, 'utf8')) as unknown
        } catch {
          return undefined
        }
      },
      save: (data) => {
        const tmp = `${file}.${process.pid}.tmp`
        writeFileSync(tmp, JSON.stringify(data, null, 2) + '\n')
        renameSync(tmp, file)
      },
    })
    this.metrics = this.#metricSource()
  }

  get #clustersDir(): string {
    return DATA_DIR.createdClustersDir(this.#options.dataDir)
  }

  addEvent(event: RdsEvent): void {
    this.#record(event)
  }

  #record(event: RdsEvent): void {
    this.#events.add(event)
    this.#options.onEvent?.(event)
  }

  #clusterEvent(identifier: string, message: string, category: string): void {
    this.#record({
      SourceIdentifier: identifier,
      SourceType: 'db-cluster',
      Message: message,
      EventCategories: [category],
      Date: new Date(),
      SourceArn: `arn:aws:rds:${this.#options.region}:000000000000:cluster:${identifier}`,
    })
  }

  #instanceEvent(identifier: string, message: string, category: string): void {
    this.#record({
      SourceIdentifier: identifier,
      SourceType: 'db-instance',
      Message: message,
      EventCategories: [category],
      Date: new Date(),
      SourceArn: instanceArn(this.#options.region, identifier),
    })
  }

  /** Adds the cluster the process was started for, with its writer instance; it cannot be deleted through the API. */
  async addPrimary(node: ClusterNode): Promise<void> {
    this.#primary = node.clusterIdentifier
    this.#nodes.set(node.clusterIdentifier, node)
    this.catalog.ensureCluster(node.clusterIdentifier)
    const writer = this.catalog.instances(node.clusterIdentifier).find((instance) => instance.writer)
    const address = connectHost(this.#options.host)
    if (writer === undefined) {
      this.catalog.putInstance({
        identifier: `${node.clusterIdentifier}-instance-1`,
        clusterIdentifier: node.clusterIdentifier,
        instanceClass: 'db.r6g.large',
        availabilityZone: `${this.#options.region}a`,
        promotionTier: 1,
        createdAt: (await node.describeCluster()).ClusterCreateTime.toISOString(),
        address,
        port: node.port,
        writer: true,
        status: 'available',
        tags: [],
        autoMinorVersionUpgrade: true,
        publiclyAccessible: false,
      })
    } else {
      // The primary's port may have moved (the previous one was taken).
      this.catalog.updateInstance(writer.identifier, { address, port: node.port, status: 'available' })
    }
    await this.#openReaders(node)
  }

  #nodeOptions(record: CreatedClusterRecord, input?: CreateClusterInput): ClusterNodeOptions {
    return {
      identifier: record.identifier,
      dataDir: join(this.#clustersDir, record.identifier),
      host: this.#options.host,
      sqlPort: record.sqlPort,
      backtrackWindow: record.backtrackWindow,
      ...(record.database === undefined ? {} : { database: record.database }),
      source: 'private',
      ...(input?.masterUsername === undefined ? {} : { appUser: input.masterUsername }),
      ...(input?.masterUserPassword === undefined ? {} : { appPassword: input.masterUserPassword }),
      region: this.#options.region,
      logger: this.#options.logger(record.identifier),
      ...(this.#options.pendingMillis === undefined ? {} : { pendingMillis: this.#options.pendingMillis }),
      ...(this.#options.metricsIntervalMs === undefined ? {} : { metricsIntervalMs: this.#options.metricsIntervalMs }),
      onEvent: (event) => this.#record(event),
      onWindowAlert: (alert) => this.#windowAlert(record.identifier, alert),
      // As in Aurora, a cluster made through the API answers SQL once its writer instance exists.
      writerOpen: false,
    }
  }

  /** RDS-EVENT-0131/0132, on the writer instance, when the actual window falls short of the target or catches up. */
  #windowAlert(clusterIdentifier: string, alert: boolean): void {
    const writer = this.catalog.instances(clusterIdentifier).find((instance) => instance.writer)
    if (writer === undefined) return
    this.#instanceEvent(
      writer.identifier,
      alert
        ? 'The actual Backtrack window is smaller than the target Backtrack window you specified. Consider reducing the number of hours in your target Backtrack window.'
        : 'The actual Backtrack window is the same as the target Backtrack window.',
      'backtrack',
    )
  }

  /** Options for the primary's node, so its metrics and alerts work as the created clusters' do. */
  primaryNodeOptions(identifier: string): Pick<ClusterNodeOptions, 'metricsIntervalMs' | 'onWindowAlert'> {
    return {
      ...(this.#options.metricsIntervalMs === undefined ? {} : { metricsIntervalMs: this.#options.metricsIntervalMs }),
      onWindowAlert: (alert) => this.#windowAlert(identifier, alert),
    }
  }

  #hasWriter(clusterIdentifier: string): boolean {
    return this.catalog.instances(clusterIdentifier).some((instance) => instance.writer)
  }

  /**
   * Starts a cluster's node again with or without its writer: the writer's endpoint is the server itself, so the
   * server moves between a private port and the cluster's (a second or two; the page log carries the history over).
   */
  async #restart(node: ClusterNode, writerOpen: boolean): Promise<ClusterNode> {
    const { server: _started, ...options } = node.options
    await node.close()
    const next = await ClusterNode.start({ ...options, writerOpen, sqlPort: node.port })
    this.#nodes.set(next.clusterIdentifier, next)
    for (const [identifier] of this.#readers) {
      if (this.catalog.instance(identifier)?.clusterIdentifier === next.clusterIdentifier)
        this.#readers.delete(identifier)
    }
    await this.#openReaders(next)
    return next
  }

  async #openReaders(node: ClusterNode): Promise<void> {
    for (const instance of this.catalog.instances(node.clusterIdentifier)) {
      if (instance.writer || this.#readers.has(instance.identifier)) continue
      try {
        this.#readers.set(instance.identifier, await node.openReader(instance.port))
      } catch {
        // Its port was taken meanwhile: another one.
        const reader = await node.openReader()
        this.#readers.set(instance.identifier, reader)
        this.catalog.updateInstance(instance.identifier, { port: reader.address.port })
      }
    }
    await this.#syncReaderEndpoint(node)
  }

  /** The reader endpoint listens while the cluster has a reader; without one it is the writer's, as in Aurora. */
  async #syncReaderEndpoint(node: ClusterNode): Promise<void> {
    const hasReader = this.catalog.instances(node.clusterIdentifier).some((instance) => !instance.writer)
    const address = readerAddressFor(connectHost(this.#options.host))
    if (hasReader && address !== undefined) {
      const opened = await node.openReaderEndpoint(address)
      this.catalog.updateCluster(node.clusterIdentifier, { readerAddress: opened })
    } else {
      await node.closeReaderEndpoint()
      this.catalog.updateCluster(node.clusterIdentifier, { readerAddress: undefined })
    }
  }

  /** Starts the clusters an earlier run created; one that fails to start is logged and left on disk. */
  async resumeCreated(): Promise<void> {
    if (!existsSync(this.#clustersDir)) return
    for (const name of readdirSync(this.#clustersDir)) {
      let record: CreatedClusterRecord
      try {
        record = JSON.parse(
          readFileSync(DATA_DIR.nodeFile(join(this.#clustersDir, name)), 'utf8'),
        ) as CreatedClusterRecord
      } catch {
        // A restore that did not finish (no node.json): it never became a cluster.
        if (this.catalog.cluster(name) !== undefined) this.catalog.removeCluster(name)
        rmSync(join(this.#clustersDir, name), { recursive: true, force: true })
        continue
      }
      try {
        const node = await ClusterNode.start({
          ...this.#nodeOptions(record),
          writerOpen: this.#hasWriter(record.identifier),
        })
        this.#nodes.set(record.identifier, node)
        for (const instance of this.catalog.instances(record.identifier)) {
          if (instance.status !== 'available') this.catalog.updateInstance(instance.identifier, { status: 'available' })
        }
        await this.#openReaders(node)
      } catch (error) {
        this.#options.logger(record.identifier).warn(`could not resume cluster: ${(error as Error).message}`)
      }
    }
  }

  get(identifier: string): ClusterNode | RestoringCluster | undefined {
    return this.#nodes.get(identifier) ?? this.#restoring.get(identifier)
  }

  /** The running cluster with this identifier (not one still being restored). */
  node(identifier: string): ClusterNode | undefined {
    return this.#nodes.get(identifier)
  }

  list(): (ClusterNode | RestoringCluster)[] {
    return [...this.#nodes.values(), ...this.#restoring.values()]
  }

  /** The running clusters. */
  nodes(): ClusterNode[] {
    return [...this.#nodes.values()]
  }

  #taken(identifier: string): boolean {
    return this.#nodes.has(identifier) || this.#restoring.has(identifier) || this.#creating.has(identifier)
  }

  async create(input: CreateClusterInput): Promise<ClusterNode> {
    if (this.#taken(input.identifier)) {
      throw new BacktrackError('DBClusterAlreadyExistsFault', 'DB Cluster already exists')
    }
    this.#creating.add(input.identifier)
    const dir = join(this.#clustersDir, input.identifier)
    try {
      const node = await ClusterNode.start(
        this.#nodeOptions(
          {
            identifier: input.identifier,
            sqlPort: input.port ?? 0,
            backtrackWindow: input.backtrackWindow,
            ...(input.databaseName === undefined ? {} : { database: input.databaseName }),
          },
          input,
        ),
      )
      // Keep the SQL port across restarts.
      const record: CreatedClusterRecord = {
        identifier: input.identifier,
        sqlPort: node.port,
        backtrackWindow: input.backtrackWindow,
        ...(input.databaseName === undefined ? {} : { database: input.databaseName }),
      }
      writeFileSync(DATA_DIR.nodeFile(dir), JSON.stringify(record, null, 2) + '\n')
      this.#nodes.set(input.identifier, node)
      this.catalog.removeCluster(input.identifier)
      this.catalog.ensureCluster(input.identifier, { tags: [...(input.tags ?? [])] })
      this.#clusterEvent(input.identifier, 'DB cluster created.', 'creation')
      return node
    } catch (error) {
      rmSync(dir, { recursive: true, force: true })
      throw error
    } finally {
      this.#creating.delete(input.identifier)
    }
  }

  async restore(input: RestoreClusterInput): Promise<BacktrackEngine> {
    if (this.#taken(input.identifier)) {
      throw new BacktrackError('DBClusterAlreadyExistsFault', 'DB Cluster already exists')
    }
    const source = this.#nodes.get(input.sourceIdentifier)
    if (source === undefined) throw clusterNotFound(input.sourceIdentifier)
    const sourceCluster = await source.describeCluster()
    const sourceRecord = this.catalog.ensureCluster(input.sourceIdentifier)
    const placeholder = new RestoringCluster({
      identifier: input.identifier,
      region: this.#options.region,
      host: connectHost(this.#options.host),
      port: input.port ?? 0,
      backtrackWindow: input.backtrackWindow,
      masterUsername: sourceCluster.MasterUsername,
      engineVersion: sourceCluster.EngineVersion,
      ...(sourceCluster.DatabaseName === undefined ? {} : { databaseName: sourceCluster.DatabaseName }),
    })
    this.#restoring.set(input.identifier, placeholder)
    this.catalog.removeCluster(input.identifier)
    this.catalog.ensureCluster(input.identifier, {
      tags: [...input.tags],
      // A clone shares its source's clone group; a full copy starts its own.
      ...(input.restoreType === 'copy-on-write' ? { cloneGroupId: sourceRecord.cloneGroupId } : {}),
    })
    const work = this.#restoreInBackground(input, source, sourceCluster, placeholder)
    this.#restores.add(work)
    void work.finally(() => this.#restores.delete(work))
    // A small restore is done before the answer, so a waiter's first look sees it available.
    await Promise.race([work, new Promise((resolve) => setTimeout(resolve, this.#options.restoreAnswerMs ?? 10_000))])
    return this.#nodes.get(input.identifier) ?? placeholder
  }

  async #restoreInBackground(
    input: RestoreClusterInput,
    source: ClusterNode,
    sourceCluster: DBCluster,
    placeholder: RestoringCluster,
  ): Promise<void> {
    const dir = join(this.#clustersDir, input.identifier)
    const logger = this.#options.logger(input.identifier)
    let server: StartedMysqlServer | undefined
    try {
      mkdirSync(dir, { recursive: true })
      // The source's master credentials log in to the copy: Aurora restores the whole volume, users included.
      server = await startPrivateServer({
        dataDir: DATA_DIR.serverDir(dir),
        appUser: source.server.app.user,
        appPassword: source.server.app.password,
        logger,
        detached: true,
      })
      const target = await mysql.createConnection(server.connectionOptions('admin'))
      const sourceAdmin = await mysql.createConnection(source.server.connectionOptions('admin'))
      try {
        // The restore reads row_version only: what the source captured so far is merged into it first.
        source.engine.capture.settle()
        const stats = await restoreFromPageLog(source.engine.pageLog.path, input.restoreTo.getTime() * 1000, target)
        const accounts = await copyAccounts(sourceAdmin, target, [source.server.admin.user])
        logger.info(
          `restored from ${input.sourceIdentifier} as of ${formatRdsTime(input.restoreTo)} (${input.restoreType}): ` +
            `${stats.tablesCreated} tables, ${stats.rowsRestored} rows, accounts ${accounts.join(', ')}`,
        )
      } finally {
        await target.end().catch(() => undefined)
        await sourceAdmin.end().catch(() => undefined)
      }
      const record: CreatedClusterRecord = {
        identifier: input.identifier,
        sqlPort: input.port ?? 0,
        backtrackWindow: input.backtrackWindow,
        ...(sourceCluster.DatabaseName === undefined ? {} : { database: sourceCluster.DatabaseName }),
      }
      let node = await ClusterNode.start({ ...this.#nodeOptions(record), server })
      writeFileSync(DATA_DIR.nodeFile(dir), JSON.stringify({ ...record, sqlPort: node.port }, null, 2) + '\n')
      this.#nodes.set(input.identifier, node)
      this.#restoring.delete(input.identifier)
      this.#clusterEvent(input.identifier, 'DB cluster created.', 'creation')
      this.#clusterEvent(
        input.identifier,
        `Restored from DB cluster ${input.sourceIdentifier} to ${formatRdsTime(input.restoreTo)}.`,
        'notification',
      )
      // Instances created while it was being restored open now.
      if (this.#hasWriter(input.identifier)) node = await this.#restart(node, true)
      for (const instance of this.catalog.instances(input.identifier)) {
        this.catalog.updateInstance(instance.identifier, {
          status: 'available',
          ...(instance.writer ? { port: node.port } : {}),
        })
      }
      await this.#openReaders(node)
    } catch (error) {
      logger.warn(`restore failed: ${(error as Error).message}`)
      placeholder.fail((error as Error).message)
      await server?.stop().catch(() => undefined)
      rmSync(dir, { recursive: true, force: true })
      this.#clusterEvent(input.identifier, `Restore failed: ${(error as Error).message}`, 'failure')
    }
  }

  async createInstance(input: CreateInstanceInput): Promise<InstanceRecord> {
    if (this.catalog.instance(input.identifier) !== undefined) {
      throw new BacktrackError('DBInstanceAlreadyExists', 'DB instance already exists')
    }
    const restoring = this.#restoring.get(input.clusterIdentifier)
    const node = this.#nodes.get(input.clusterIdentifier)
    if (node === undefined && restoring === undefined) throw clusterNotFound(input.clusterIdentifier)
    if (restoring?.failed === true) {
      throw new BacktrackError(
        'InvalidDBClusterStateFault',
        `DB cluster ${input.clusterIdentifier} failed to restore; delete it.`,
      )
    }
    const writer = !this.catalog.instances(input.clusterIdentifier).some((instance) => instance.writer)
    const record: InstanceRecord = {
      ...input,
      createdAt: new Date().toISOString(),
      address: connectHost(this.#options.host),
      port: node?.port ?? 0,
      writer,
      // An instance of a cluster still being restored opens when the restore is done.
      status: node === undefined ? 'creating' : 'available',
    }
    if (node !== undefined) {
      if (writer) {
        if (!node.writerOpen) await this.#restart(node, true)
      } else {
        const reader = await node.openReader()
        this.#readers.set(input.identifier, reader)
        record.port = reader.address.port
      }
    }
    this.catalog.putInstance(record)
    if (node !== undefined && !writer) await this.#syncReaderEndpoint(node)
    this.#instanceEvent(input.identifier, 'DB instance created.', 'creation')
    return record
  }

  async deleteInstance(identifier: string): Promise<InstanceRecord> {
    const { record } = this.catalog.deletableInstance(identifier)
    if (record.clusterIdentifier === this.#primary && record.writer) {
      throw new BacktrackError(
        'InvalidDBClusterStateFault',
        `DB instance ${identifier} is the writer of the cluster this endpoint was started for; stop it with \`backtrack down\`.`,
      )
    }
    let node = this.#nodes.get(record.clusterIdentifier)
    if (record.writer) {
      this.catalog.removeInstance(identifier)
      if (node !== undefined) node = await this.#restart(node, false)
    } else {
      const reader = this.#readers.get(identifier)
      this.#readers.delete(identifier)
      if (reader !== undefined) await node?.closeReader(reader)
    }
    this.catalog.removeInstance(identifier)
    if (node !== undefined) await this.#syncReaderEndpoint(node)
    this.#instanceEvent(identifier, 'DB instance deleted.', 'deletion')
    return record
  }

  async delete(identifier: string): Promise<DBCluster> {
    const restoring = this.#restoring.get(identifier)
    if (restoring !== undefined) {
      if (!restoring.failed) {
        throw new BacktrackError(
          'InvalidDBClusterStateFault',
          `DBCluster ${identifier} is being restored; wait until it is available.`,
        )
      }
      this.#restoring.delete(identifier)
      this.catalog.removeCluster(identifier)
      return { ...(await restoring.describeCluster()), Status: 'deleting' }
    }
    const node = this.#nodes.get(identifier)
    if (node === undefined) throw clusterNotFound(identifier)
    if (identifier === this.#primary) {
      throw new BacktrackError(
        'InvalidDBClusterStateFault',
        `DBCluster ${identifier} is the cluster this endpoint was started for; stop it with \`backtrack down --purge\`.`,
      )
    }
    const before = await node.describeCluster()
    if (before.Status !== 'available') {
      throw new BacktrackError(
        'InvalidDBClusterStateFault',
        `DBCluster ${identifier} cannot be deleted while it is ${before.Status}.`,
      )
    }
    node.markDeleting()
    this.#nodes.delete(identifier)
    const described = await node.describeCluster()
    const deletion = (async () => {
      try {
        await node.close()
      } catch (error) {
        this.#options.logger(identifier).warn(`stopping the deleted cluster failed: ${(error as Error).message}`)
      }
      rmSync(join(this.#clustersDir, identifier), { recursive: true, force: true })
      this.#clusterEvent(identifier, 'DB cluster deleted.', 'deletion')
    })()
    this.#deletions.add(deletion)
    void deletion.finally(() => this.#deletions.delete(deletion))
    return described
  }

  events(query: RdsEventQuery): RdsEvent[] {
    return this.#events.query(query)
  }

  #metricSource(): MetricSource {
    const names = Object.keys(BACKTRACK_METRICS) as BacktrackMetricName[]
    return {
      metrics: (): MetricDescriptor[] =>
        this.nodes().flatMap((node) =>
          names.map((name) => ({
            Namespace: 'AWS/RDS',
            MetricName: name,
            Dimensions: [{ Name: 'DBClusterIdentifier', Value: node.clusterIdentifier }],
            Unit: BACKTRACK_METRICS[name],
          })),
        ),
      points: (metric: MetricDescriptor, start: Date, end: Date): MetricPoint[] => {
        const identifier = metric.Dimensions.find((dimension) => dimension.Name === 'DBClusterIdentifier')?.Value
        const node = identifier === undefined ? undefined : this.#nodes.get(identifier)
        if (node === undefined || !(metric.MetricName in BACKTRACK_METRICS)) return []
        return node.metrics.points(metric.MetricName as BacktrackMetricName, start, end)
      },
    }
  }

  /** Resolves when every deletion and restore in progress has finished. */
  async settled(): Promise<void> {
    await Promise.all([...this.#deletions, ...this.#restores])
  }

  /** Stops every cluster (created ones first) and waits for deletions and restores in progress. */
  async close(): Promise<void> {
    await this.settled()
    const nodes = this.nodes().reverse()
    this.#nodes.clear()
    this.#readers.clear()
    const results = await Promise.allSettled(nodes.map((node) => node.close()))
    const failed = results.find((result) => result.status === 'rejected')
    if (failed !== undefined) throw failed.reason
  }
}
