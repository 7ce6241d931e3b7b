import type { DBCluster as RdsDBCluster, DBClusterBacktrack as RdsDBClusterBacktrack } from '@aws-sdk/client-rds'
import {
  BACKTRACK_STATUSES,
  BacktrackError,
  CLUSTER_STATUSES,
  type BacktrackStatus,
  type ClusterStatus,
  type DBCluster,
  type DBClusterBacktrack,
} from '@backtrack/core'

/**
 * RDS cluster states outside the testbed's `ClusterStatus` set, folded into the nearest one: the cluster is busy
 * with something else (`modifying`) or unusable (`failed`). Unknown states also become `modifying`: a backtrack
 * then waits or is refused by RDS rather than being started on the strength of a guess.
 */
const FOLDED_CLUSTER_STATUSES: Readonly<Record<string, ClusterStatus>> = {
  'backing-up': 'modifying',
  maintenance: 'modifying',
  upgrading: 'modifying',
  renaming: 'modifying',
  'resetting-master-credentials': 'modifying',
  'update-iam-db-auth': 'modifying',
  promoting: 'modifying',
  'failing-over': 'modifying',
  migrating: 'modifying',
  'storage-optimization': 'modifying',
  'inaccessible-encryption-credentials': 'failed',
  'inaccessible-encryption-credentials-recoverable': 'failed',
  'cloning-failed': 'failed',
  'migration-failed': 'failed',
  'incompatible-parameters': 'failed',
  'incompatible-restore': 'failed',
}

function clusterStatusFromRds(status: string | undefined): ClusterStatus {
  const lower = (status ?? '').toLowerCase()
  if ((CLUSTER_STATUSES as readonly string[]).includes(lower)) return lower as ClusterStatus
  return FOLDED_CLUSTER_STATUSES[lower] ?? 'modifying'
}

/** Real Aurora sends `PENDING`/`COMPLETED`; the API documents lower case, which is what the engines speak. */
function backtrackStatusFromRds(status: string | undefined): BacktrackStatus {
  const lower = (status ?? '').toLowerCase()
  if ((BACKTRACK_STATUSES as readonly string[]).includes(lower)) return lower as BacktrackStatus
  throw new BacktrackError(
    'InternalFailure',
    `RDS returned the backtrack status "${status ?? ''}", which is none of ${BACKTRACK_STATUSES.join(', ')}.`,
  )
}

export function clusterFromRds(cluster: RdsDBCluster): DBCluster {
  const mapped: DBCluster = {
    DBClusterIdentifier: (cluster.DBClusterIdentifier ?? '').toLowerCase(),
    DBClusterArn: cluster.DBClusterArn ?? '',
    Status: clusterStatusFromRds(cluster.Status),
    Engine: cluster.Engine ?? '',
    EngineVersion: cluster.EngineVersion ?? '',
    // Absent while the cluster is being created; the SQL side is unreachable until it appears.
    Endpoint: cluster.Endpoint ?? '',
    Port: cluster.Port ?? 3306,
    MasterUsername: cluster.MasterUsername ?? '',
    ClusterCreateTime: cluster.ClusterCreateTime ?? new Date(0),
    // RDS leaves BacktrackWindow out when backtracking was never enabled: that is a window of 0.
    BacktrackWindow: cluster.BacktrackWindow ?? 0,
    BacktrackConsumedChangeRecords: cluster.BacktrackConsumedChangeRecords ?? 0,
  }
  if (cluster.DatabaseName !== undefined) mapped.DatabaseName = cluster.DatabaseName
  if (cluster.EarliestBacktrackTime !== undefined) mapped.EarliestBacktrackTime = cluster.EarliestBacktrackTime
  if (cluster.LatestRestorableTime !== undefined) mapped.LatestRestorableTime = cluster.LatestRestorableTime
  return mapped
}

function required<T>(value: T | undefined, field: string, operation: string): T {
  if (value === undefined) {
    throw new BacktrackError('InternalFailure', `${operation} returned a DBClusterBacktrack without ${field}.`)
  }
  return value
}

export function backtrackFromRds(backtrack: RdsDBClusterBacktrack, operation: string): DBClusterBacktrack {
  const mapped: DBClusterBacktrack = {
    DBClusterIdentifier: required(backtrack.DBClusterIdentifier, 'DBClusterIdentifier', operation).toLowerCase(),
    BacktrackIdentifier: required(backtrack.BacktrackIdentifier, 'BacktrackIdentifier', operation).toLowerCase(),
    BacktrackTo: required(backtrack.BacktrackTo, 'BacktrackTo', operation),
    BacktrackRequestCreationTime: required(
      backtrack.BacktrackRequestCreationTime,
      'BacktrackRequestCreationTime',
      operation,
    ),
    Status: backtrackStatusFromRds(backtrack.Status),
  }
  // Real immediate BacktrackDBCluster responses carry no BacktrackedFrom; it appears once applying starts.
  if (backtrack.BacktrackedFrom !== undefined) mapped.BacktrackedFrom = backtrack.BacktrackedFrom
  return mapped
}
