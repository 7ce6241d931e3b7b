export {}
export type {
  Credentials,
  ServerConnectionOptions,
  ServerFlavor,
  ServerLogger,
  ServerSource,
  StartedMysqlServer,
} from './server/mysql-server.js'
export { startMysqlServer, type StartMysqlServerOptions } from './server/start-mysql-server.js'
export { startPrivateServer, type PrivateServerOptions } from './server/private-server.js'
export { connectExistingServer, parseServerUrl, type UrlServerOptions } from './server/url-server.js'
export { isDockerReachable, startContainerServer, type ContainerServerOptions } from './server/container-server.js'
export { buildRdsEndpoint, RDS_API_VERSION, RDS_XMLNS, type RdsEndpointOptions } from './rds-endpoint/rds-endpoint.js'
export type { ClusterRegistry, CreateClusterInput, RdsEvent, RdsEventQuery } from './rds-endpoint/cluster-registry.js'
export type { AccessKey } from './rds-endpoint/sigv4.js'
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
export { readCells, encodeCells, RowWriter, type Cell } from './row-codec.js'
export { openBinlogStream, type BinlogStream, type BinlogStreamOptions } from './binlog/binlog-client.js'
export { BinlogDecoder, EVENT_TYPE, type DecodedEvent } from './binlog/decode-event.js'
export {
  COLUMN_TYPE,
  type BinlogEvent,
  type BinlogPosition,
  type ColumnInfo,
  type TableMap,
  type ValueKind,
} from './binlog/binlog-event.js'
export { loadRows, type LoadColumn, type LoadOptions, type LoadResult, type LoadTarget } from './binlog/load-data.js'
export {
  startLocalCluster,
  StartedLocalCluster,
  CONTROL_ROUTES,
  type LocalClusterOptions,
  type LocalClusterInfo,
  type LocalClusterStatus,
} from './local-cluster/local-cluster.js'
export { SqlProxy, type SqlProxyOptions } from './local-cluster/sql-proxy.js'
export { ClusterNode, type ClusterNodeOptions, type LocalServerSource } from './local-cluster/cluster-node.js'
export { LocalClusterRegistry, type LocalClusterRegistryOptions } from './local-cluster/local-cluster-registry.js'
export {
  CLUSTER_STATE_FILE,
  readClusterState,
  writeClusterState,
  runningClusterState,
  isProcessAlive,
  waitForProcessExit,
  stopOrphanServer,
  type LocalClusterState,
} from './local-cluster/cluster-state.js'
export {
  ClusterHistory,
  openClusterHistory,
  hasClusterHistory,
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
