export { createRdsEngine, RdsEngine, type RdsEngineConfig } from './rds-engine.js'
export { mapSdkError } from './map-sdk-error.js'
export { hasTestbedTag, isLoopbackEndpoint, TESTBED_TAG } from './live-guard.js'
export { connectMysql, type ConnectSql, type SqlConnection } from './server-clock.js'
export type { SqlCredentials } from './sql-credentials.js'
export {
  compareWithSnapshot,
  diffSnapshots,
  errorSnapshot,
  normalizeSnapshot,
  readSnapshot,
  SNAPSHOT_DIR,
  type CompareOptions,
  type NormalizeOptions,
  type SnapshotComparison,
  type SnapshotFile,
} from './parity/index.js'
