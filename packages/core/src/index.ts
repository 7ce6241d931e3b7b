export type { BacktrackEngine } from './backtrack-engine.js'
export {
  BacktrackError,
  ERROR_CODES,
  backtrackNotFound,
  clusterNotFound,
  isErrorCode,
  type ErrorCode,
  type FaultType,
} from './errors.js'
export {
  BACKTRACK_FILTER_NAMES,
  BACKTRACK_STATUSES,
  CLUSTER_STATUSES,
  MAX_BACKTRACK_WINDOW_SECONDS,
  type BacktrackFilter,
  type BacktrackFilterName,
  type BacktrackInput,
  type BacktrackPage,
  type BacktrackStatus,
  type ClusterStatus,
  type DBCluster,
  type DBClusterBacktrack,
  type DescribeBacktracksInput,
  type SqlEndpoint,
  type WaitOptions,
} from './types.js'
export {
  normalizeClusterIdentifier,
  pageBacktracks,
  validateBacktrackIdentifier,
  validateBacktrackWindow,
  validateMaxRecords,
} from './validation.js'
export { formatRdsTime, parseRdsTime } from './time.js'
