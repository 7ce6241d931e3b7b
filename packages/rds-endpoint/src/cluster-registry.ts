import type { BacktrackEngine, DBCluster, RdsEvent } from '@backtrack/core'
import type { MetricSource } from './cloudwatch/metric-source.js'
import type { InstanceRecord, RdsCatalog, Tag } from './rds-catalog.js'

/** Which events `ClusterRegistry.events` returns; every field narrows the result. */
export interface RdsEventQuery {
  /** A cluster or instance identifier (lower case). */
  sourceIdentifier?: string
  /** `db-cluster` or `db-instance`. */
  sourceType?: string
  /** Events at or after this time. */
  startTime: Date
  /** Events at or before this time. */
  endTime: Date
  /** Events in at least one of these categories (lower case). */
  eventCategories?: string[]
}

/** What `CreateDBCluster` asks a registry for, already validated by the endpoint. */
export interface CreateClusterInput {
  /** Lower case, a valid RDS identifier, not taken. */
  identifier: string
  /** Always `aurora-mysql`. */
  engine: 'aurora-mysql'
  /** Target backtrack window in seconds, 0..259200 (0: backtracking disabled for good). */
  backtrackWindow: number
  masterUsername?: string
  masterUserPassword?: string
  databaseName?: string
  /** SQL port of the cluster's endpoints; unset picks a free one. */
  port?: number
  tags?: Tag[]
}

/** What `CreateDBInstance` asks a registry for, already validated by the endpoint. */
export interface CreateInstanceInput {
  /** Lower case, a valid RDS identifier, not taken. */
  identifier: string
  /** An existing cluster. */
  clusterIdentifier: string
  instanceClass: string
  availabilityZone: string
  promotionTier: number
  tags: Tag[]
  autoMinorVersionUpgrade: boolean
  publiclyAccessible: boolean
}

/** What `RestoreDBClusterToPointInTime` asks a registry for, already validated by the endpoint. */
export interface RestoreClusterInput {
  /** Lower case, a valid RDS identifier, not taken. */
  identifier: string
  sourceIdentifier: string
  /** The moment to restore, within the source's restorable range. */
  restoreTo: Date
  /** `copy-on-write` is a clone: it joins the source's clone group. */
  restoreType: 'full-copy' | 'copy-on-write'
  /** Target backtrack window of the new cluster, in seconds (0: disabled). */
  backtrackWindow: number
  port?: number
  tags: Tag[]
}

/**
 * The clusters one RDS-compatible endpoint serves: the simulator's set of local clusters. The endpoint
 * validates every request before it calls a member, and serialises any `BacktrackError` a member throws.
 */
export interface ClusterRegistry {
  /** The cluster with this (lower-case) identifier, if any. */
  get(identifier: string): BacktrackEngine | undefined

  /** Every cluster, in a stable order (the order `DescribeDBClusters` pages through). */
  list(): BacktrackEngine[]

  /** Creates and starts a cluster; rejects with `DBClusterAlreadyExistsFault` if the identifier is taken. */
  create(input: CreateClusterInput): Promise<BacktrackEngine>

  /**
   * Deletes a cluster and resolves with its description as deletion starts (`Status: 'deleting'`); rejects with
   * `DBClusterNotFoundFault`, or `InvalidDBClusterStateFault` while it is backtracking.
   */
  delete(identifier: string): Promise<DBCluster>

  /** Events about clusters and instances that match `query`, oldest first. */
  events(query: RdsEventQuery): RdsEvent[]

  /** The RDS-level records: tags, instances, clone groups, windows (the endpoint reads and updates it). */
  readonly catalog: RdsCatalog

  /**
   * Adds an instance to a cluster and opens its SQL endpoint: the first one is the writer (the cluster's endpoint
   * starts answering), every other one a reader onto the same data that refuses writes.
   */
  createInstance(input: CreateInstanceInput): Promise<InstanceRecord>

  /** Closes an instance's SQL endpoint and forgets it; the writer goes last. */
  deleteInstance(identifier: string): Promise<InstanceRecord>

  /**
   * Creates a cluster holding the source's data (and accounts) as of `restoreTo`, with its own history, and resolves
   * once it is `creating`; it has no instance until `createInstance`.
   */
  restore(input: RestoreClusterInput): Promise<BacktrackEngine>

  /** The clusters' CloudWatch metrics. */
  readonly metrics: MetricSource
}

/** Whether an event matches a `DescribeEvents` query (times inclusive, any one of the categories). */
export function matchesEventQuery(event: RdsEvent, query: RdsEventQuery): boolean {
  return (
    event.Date >= query.startTime &&
    event.Date <= query.endTime &&
    (query.sourceIdentifier === undefined || event.SourceIdentifier === query.sourceIdentifier) &&
    (query.sourceType === undefined || event.SourceType === query.sourceType) &&
    (query.eventCategories === undefined ||
      event.EventCategories.some((category) => query.eventCategories?.includes(category)))
  )
}
