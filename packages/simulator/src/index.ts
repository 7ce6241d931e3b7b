export {
  SimulatorEngine,
  type ConnectionGate,
  type SimulatorEngineOptions,
  type BacktrackOutcome,
} from './simulator-engine.js'
export { ManualClock, systemClock, type Clock } from './clock.js'
export {
  PageLog,
  type TableIncarnation,
  type TableSchema,
  type ColumnMeta,
  type TxnRecord,
} from './page-log/page-log.js'
export { Capture, type CaptureLogger } from './capture/capture.js'
export { readCells, type Cell } from '@backtrack/binlog'
export { loadRows, type LoadColumn, type LoadOptions, type LoadResult, type LoadTarget } from './load-data.js'
export {
  startLocalCluster,
  StartedLocalCluster,
  CONTROL_SIGNING_NAME,
  isLoopbackHost,
  type LocalClusterOptions,
  type LocalClusterInfo,
  type LocalClusterStatus,
} from './local-cluster/local-cluster.js'
export { SqlProxy, type SqlProxyOptions } from './local-cluster/sql-proxy.js'
export { ClusterNode, type ClusterNodeOptions, type LocalServerSource } from './local-cluster/cluster-node.js'
export { LocalClusterRegistry, type LocalClusterRegistryOptions } from './local-cluster/local-cluster-registry.js'
export type { LocalClusterState } from './local-cluster/cluster-state.js'
export {
  LocalClusterClient,
  LOCAL_POLL,
  type LocalRdsTarget,
  type RunningLocalCluster,
} from './local-cluster/local-cluster-client.js'
export {
  ClusterHistory,
  pageLogFile,
  previewLines,
  timeOfMicros,
  commitTimeOf,
  qualified,
  type BacktrackArc,
  type BacktrackPreview,
  type DecodedRow,
  type FindQuery,
  type HistoryDiff,
  type HistoryEvent,
  type HistoryMatch,
  type TableDiff,
  type Timeline,
} from './history/cluster-history.js'
export { verifyState, type TableVerdict, type VerifyReport } from './verify/verify-state.js'
