export { SimulatorEngine, type SimulatorEngineOptions } from './simulator-engine.js'
export { PageLog, type TableSchema } from './page-log/page-log.js'
export {
  startLocalCluster,
  StartedLocalCluster,
  CONTROL_SIGNING_NAME,
  isLoopbackHost,
  type LocalClusterOptions,
  type LocalClusterInfo,
  type LocalClusterStatus,
} from './local-cluster/local-cluster.js'
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
