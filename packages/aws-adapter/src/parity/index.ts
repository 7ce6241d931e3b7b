export {
  compareWithSnapshot,
  errorSnapshot,
  readSnapshot,
  SNAPSHOT_DIR,
  type SnapshotComparison,
  type SnapshotFile,
} from './compare-with-snapshot.js'
