// Test support of the RDS endpoint: an in-memory ClusterRegistry of FakeEngines with an event log.
import { BacktrackError, clusterNotFound, type DBCluster, type RdsEvent } from '@backtrack/core'
import { FakeEngine, type FakeEngineOptions } from '@backtrack/core/testing'
import type { MetricDescriptor, MetricPoint, MetricSource } from '../cloudwatch/metric-source.js'
import {
  matchesEventQuery,
  type ClusterRegistry,
  type CreateClusterInput,
  type CreateInstanceInput,
  type RdsEventQuery,
  type RestoreClusterInput,
} from '../cluster-registry.js'
import { RdsCatalog, type CatalogStore, type InstanceRecord } from '../rds-catalog.js'
import { instanceArn } from '../rds-shapes.js'

/** Metrics a test puts in, by descriptor. */
class FakeMetricSource implements MetricSource {
  readonly #series: { metric: MetricDescriptor; points: MetricPoint[] }[] = []

  add(metric: MetricDescriptor, points: MetricPoint[]): void {
    this.#series.push({ metric, points })
  }

  metrics(): MetricDescriptor[] {
    return this.#series.map((series) => series.metric)
  }

  points(metric: MetricDescriptor, start: Date, end: Date): MetricPoint[] {
    const series = this.#series.find((candidate) => candidate.metric === metric)
    return (series?.points ?? []).filter((point) => point.timestamp >= start && point.timestamp < end)
  }
}

export interface FakeClusterRegistryOptions {
  clock?: () => Date
  region?: string
  /** Passed to every engine the registry creates. */
  phaseMs?: number
  /** Where the catalog persists (tests of persistence); in memory by default. */
  store?: CatalogStore
}

/** An in-memory set of fake clusters with an event log. */
export class FakeClusterRegistry implements ClusterRegistry {
  readonly #engines = new Map<string, FakeEngine>()
  readonly #events: RdsEvent[] = []
  readonly #options: FakeClusterRegistryOptions
  readonly catalog: RdsCatalog
  readonly metrics = new FakeMetricSource()
  #nextPort = 20_000

  constructor(options: FakeClusterRegistryOptions = {}) {
    this.#options = options
    this.catalog = new RdsCatalog(options.store)
  }

  #now(): Date {
    return (this.#options.clock ?? (() => new Date()))()
  }

  #region(): string {
    return this.#options.region ?? 'us-east-1'
  }

  /**
   * Adds a cluster directly (test setup), with a writer instance `<id>-instance-1` as a local cluster's own has
   * (`writer: false` for none); emits the creation event as `create` does.
   */
  add(options: Omit<FakeEngineOptions, 'onEvent'> & { writer?: false }): FakeEngine {
    if (this.#engines.has(options.identifier)) {
      throw new BacktrackError('DBClusterAlreadyExistsFault', 'DB Cluster already exists')
    }
    const engine = new FakeEngine({
      ...(this.#options.clock === undefined ? {} : { clock: this.#options.clock }),
      ...(this.#options.region === undefined ? {} : { region: this.#options.region }),
      ...(this.#options.phaseMs === undefined ? {} : { phaseMs: this.#options.phaseMs }),
      ...options,
      onEvent: (event) => this.#events.push(event),
    })
    this.#engines.set(options.identifier, engine)
    this.catalog.ensureCluster(options.identifier)
    if (options.writer !== false) {
      this.catalog.putInstance({
        identifier: `${options.identifier}-instance-1`,
        clusterIdentifier: options.identifier,
        instanceClass: 'db.r6g.large',
        availabilityZone: `${this.#region()}a`,
        promotionTier: 1,
        createdAt: (options.createdAt ?? this.#now()).toISOString(),
        address: '127.0.0.1',
        port: options.port ?? 3306,
        writer: true,
        status: 'available',
        tags: [],
        autoMinorVersionUpgrade: true,
        publiclyAccessible: false,
      })
    }
    this.#events.push({
      SourceIdentifier: options.identifier,
      SourceType: 'db-cluster',
      Message: 'DB cluster created.',
      EventCategories: ['creation'],
      Date: options.createdAt ?? (this.#options.clock ?? (() => new Date()))(),
      SourceArn: engine.arn,
    })
    return engine
  }

  get(identifier: string): FakeEngine | undefined {
    return this.#engines.get(identifier)
  }

  list(): FakeEngine[] {
    return [...this.#engines.values()]
  }

  async create(input: CreateClusterInput): Promise<FakeEngine> {
    const engine = this.add({
      identifier: input.identifier,
      writer: false,
      backtrackWindow: input.backtrackWindow,
      ...(input.masterUsername === undefined ? {} : { masterUsername: input.masterUsername }),
      ...(input.databaseName === undefined ? {} : { databaseName: input.databaseName }),
      ...(input.port === undefined ? {} : { port: input.port }),
    })
    this.catalog.ensureCluster(input.identifier, { tags: [...(input.tags ?? [])] })
    return engine
  }

  async restore(input: RestoreClusterInput): Promise<FakeEngine> {
    const source = this.catalog.ensureCluster(input.sourceIdentifier)
    const engine = this.add({
      identifier: input.identifier,
      writer: false,
      backtrackWindow: input.backtrackWindow,
      ...(input.port === undefined ? {} : { port: input.port }),
    })
    this.catalog.ensureCluster(input.identifier, {
      tags: [...input.tags],
      ...(input.restoreType === 'copy-on-write' ? { cloneGroupId: source.cloneGroupId } : {}),
    })
    return engine
  }

  async createInstance(input: CreateInstanceInput): Promise<InstanceRecord> {
    const cluster = await this.get(input.clusterIdentifier)!.describeCluster()
    const writer = this.catalog.instances(input.clusterIdentifier).length === 0
    const record: InstanceRecord = {
      ...input,
      createdAt: this.#now().toISOString(),
      address: cluster.Endpoint,
      port: writer ? cluster.Port : this.#nextPort++,
      writer,
      status: 'available',
    }
    this.catalog.putInstance(record)
    if (!writer) this.catalog.updateCluster(input.clusterIdentifier, { readerAddress: '127.0.0.2' })
    this.#instanceEvent(input.identifier, 'DB instance created.', 'creation')
    return record
  }

  async deleteInstance(identifier: string): Promise<InstanceRecord> {
    const { record, others } = this.catalog.deletableInstance(identifier)
    this.catalog.removeInstance(identifier)
    if (others.every((other) => other.writer)) {
      this.catalog.updateCluster(record.clusterIdentifier, { readerAddress: undefined })
    }
    this.#instanceEvent(identifier, 'DB instance deleted.', 'deletion')
    return record
  }

  #instanceEvent(identifier: string, message: string, category: string): void {
    this.#events.push({
      SourceIdentifier: identifier,
      SourceType: 'db-instance',
      Message: message,
      EventCategories: [category],
      Date: this.#now(),
      SourceArn: instanceArn(this.#region(), identifier),
    })
  }

  async delete(identifier: string): Promise<DBCluster> {
    const engine = this.#engines.get(identifier)
    if (engine === undefined) throw clusterNotFound(identifier)
    const before = await engine.describeCluster()
    if (before.Status !== 'available') {
      throw new BacktrackError(
        'InvalidDBClusterStateFault',
        `DB cluster ${identifier} cannot be deleted while it is ${before.Status}.`,
      )
    }
    engine.markDeleting()
    this.#engines.delete(identifier)
    this.#events.push({
      SourceIdentifier: identifier,
      SourceType: 'db-cluster',
      Message: 'DB cluster deleted.',
      EventCategories: ['deletion'],
      Date: (this.#options.clock ?? (() => new Date()))(),
      SourceArn: engine.arn,
    })
    return engine.describeCluster()
  }

  events(query: RdsEventQuery): RdsEvent[] {
    return this.#events.filter((event) => matchesEventQuery(event, query))
  }
}
