/** Cluster states a backtrack testbed can observe (a subset of the RDS `DBCluster.Status` values). */
export const CLUSTER_STATUSES = [
  'available',
  'backtracking',
  'creating',
  'deleting',
  'modifying',
  'starting',
  'stopped',
  'stopping',
  'failed',
] as const
export type ClusterStatus = (typeof CLUSTER_STATUSES)[number]

/** Life cycle of one backtrack request, as RDS documents `DBClusterBacktrack.Status`. */
export const BACKTRACK_STATUSES = ['pending', 'applying', 'completed', 'failed'] as const
export type BacktrackStatus = (typeof BACKTRACK_STATUSES)[number]

/**
 * The tag every cluster of the simulator's RDS endpoint carries. Its `aws:` prefix is reserved by AWS (no user can
 * add it to a real resource), so a client that sees it knows it talks to a simulator, whatever the endpoint's address.
 */
export const SIMULATED_CLUSTER_TAG = { Key: 'aws:backtrack:simulated', Value: 'true' } as const

/** Largest backtrack window Aurora accepts, in seconds (72 hours). */
export const MAX_BACKTRACK_WINDOW_SECONDS = 259_200

/** The part of RDS `DBCluster` that backtrack works with; member names are the RDS API's. */
export interface DBCluster {
  DBClusterIdentifier: string
  DBClusterArn: string
  Status: ClusterStatus
  Engine: string
  EngineVersion: string
  /** Host of the SQL endpoint clients connect to. */
  Endpoint: string
  /** Port of the SQL endpoint. */
  Port: number
  MasterUsername: string
  DatabaseName?: string
  ClusterCreateTime: Date
  /** Target backtrack window in seconds; 0 means backtracking is disabled for good. */
  BacktrackWindow: number
  /** Earliest time the cluster can be backtracked to; absent when backtracking is disabled. */
  EarliestBacktrackTime?: Date
  /** Number of change records stored for Backtrack. */
  BacktrackConsumedChangeRecords: number
  LatestRestorableTime?: Date
  /** Earliest time a point-in-time restore can go back to (the start of the history the cluster keeps). */
  EarliestRestorableTime?: Date
}

/** One RDS event as `DescribeEvents` returns it (a cluster created, deleted, backtracked); member names are the RDS API's. */
export interface RdsEvent {
  SourceIdentifier: string
  SourceType: 'db-cluster' | 'db-instance'
  Message: string
  EventCategories: string[]
  Date: Date
  SourceArn: string
}

/** One backtrack request and its outcome; member names are the RDS API's. */
export interface DBClusterBacktrack {
  DBClusterIdentifier: string
  /** A UUID. */
  BacktrackIdentifier: string
  /** The time the cluster was (or is being) backtracked to. */
  BacktrackTo: Date
  /** The time the cluster was backtracked from (stamped when applying starts). */
  BacktrackedFrom?: Date
  BacktrackRequestCreationTime: Date
  Status: BacktrackStatus
}

/** Input of `BacktrackEngine.backtrack`. */
export interface BacktrackInput {
  /** The time to rewind to. Must not be in the future. */
  backtrackTo: Date
  /** Backtrack even though binary logging is enabled (Aurora refuses otherwise). */
  force?: boolean
  /** Rewind to the earliest backtrack time when `backtrackTo` is older than that, instead of failing. */
  useEarliestTimeOnPointInTimeUnavailable?: boolean
}

/** Filter names `DescribeDBClusterBacktracks` supports. */
export const BACKTRACK_FILTER_NAMES = ['db-cluster-backtrack-id', 'db-cluster-backtrack-status'] as const
export type BacktrackFilterName = (typeof BACKTRACK_FILTER_NAMES)[number]

export interface BacktrackFilter {
  name: BacktrackFilterName
  values: string[]
}

/** Input of `BacktrackEngine.describeBacktracks`. */
export interface DescribeBacktracksInput {
  backtrackIdentifier?: string
  filters?: BacktrackFilter[]
  /** Page size, 20..100 (default 100). */
  maxRecords?: number
  /** Opaque token from a previous page. */
  marker?: string
}

/** One page of backtrack records, newest request first. */
export interface BacktrackPage {
  backtracks: DBClusterBacktrack[]
  marker?: string
}

/** Options for `BacktrackEngine.waitForBacktrack`. */
export interface WaitOptions {
  /** Give up after this many milliseconds (default 15 minutes). */
  timeoutMs?: number
  /** First polling interval in milliseconds (default: the engine's own cadence); engines back off from it. */
  pollMs?: number
  /** Called whenever the observed status changes. */
  onProgress?: (backtrack: DBClusterBacktrack) => void
  /** Ends the wait: it rejects with `signal.reason` (the backtrack itself goes on). */
  signal?: AbortSignal
}

/** How clients reach the cluster's SQL side. */
export interface SqlEndpoint {
  host: string
  port: number
  user: string
  password: string
  database?: string
}
