import type { BacktrackEngine, DBCluster, RdsEvent } from '@backtrack/core'

/** Which events `ClusterRegistry.events` returns; every field narrows the result. */
export interface RdsEventQuery {
  /** A cluster identifier (lower case). */
  sourceIdentifier?: string
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

  /** Events about clusters that match `query`, oldest first. */
  events(query: RdsEventQuery): RdsEvent[]
}

/** Whether an event matches a `DescribeEvents` query (times inclusive, any one of the categories). */
export function matchesEventQuery(event: RdsEvent, query: RdsEventQuery): boolean {
  return (
    event.Date >= query.startTime &&
    event.Date <= query.endTime &&
    (query.sourceIdentifier === undefined || event.SourceIdentifier === query.sourceIdentifier) &&
    (query.eventCategories === undefined ||
      event.EventCategories.some((category) => query.eventCategories?.includes(category)))
  )
}
