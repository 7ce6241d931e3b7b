export { diffSnapshots, normalizeSnapshot, type NormalizeOptions } from './normalize-snapshot.js'
export {
  compareWithSnapshot,
  errorSnapshot,
  readSnapshot,
  SNAPSHOT_DIR,
  type CompareOptions,
  type SnapshotComparison,
  type SnapshotFile,
} from './compare-with-snapshot.js'
