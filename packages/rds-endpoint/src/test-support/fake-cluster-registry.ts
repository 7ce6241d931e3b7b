// Test support of the RDS endpoint: an in-memory ClusterRegistry of FakeEngines with an event log.
import { BacktrackError, clusterNotFound, type DBCluster, type RdsEvent } from '@backtrack/core'
import { FakeEngine, type FakeEngineOptions } from '@backtrack/core/testing'
import {
  matchesEventQuery,
  type ClusterRegistry,
  type CreateClusterInput,
  type RdsEventQuery,
} from '../cluster-registry.js'

export interface FakeClusterRegistryOptions {
  clock?: () => Date
  region?: string
  /** Passed to every engine the registry creates. */
  phaseMs?: number
}

/** An in-memory set of fake clusters with an event log. */
export class FakeClusterRegistry implements ClusterRegistry {
  readonly #engines = new Map<string, FakeEngine>()
  readonly #events: RdsEvent[] = []
  readonly #options: FakeClusterRegistryOptions

  constructor(options: FakeClusterRegistryOptions = {}) {
    this.#options = options
  }

  /** Adds a cluster directly (test setup); emits the creation event as `create` does. */
  add(options: Omit<FakeEngineOptions, 'onEvent'>): FakeEngine {
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
    this.#events.push({
      SourceIdentifier: options.identifier,
      SourceType: 'db-cluster',
      Message: 'DB cluster created',
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
    return this.add({
      identifier: input.identifier,
      backtrackWindow: input.backtrackWindow,
      ...(input.masterUsername === undefined ? {} : { masterUsername: input.masterUsername }),
      ...(input.databaseName === undefined ? {} : { databaseName: input.databaseName }),
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
      Message: 'DB cluster deleted',
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
