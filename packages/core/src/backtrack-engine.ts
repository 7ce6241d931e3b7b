import type {
  BacktrackInput,
  BacktrackPage,
  DBCluster,
  DBClusterBacktrack,
  DescribeBacktracksInput,
  SqlEndpoint,
  WaitOptions,
} from './types.js'

/**
 * One Aurora MySQL cluster that can be backtracked: a local simulated one (`SimulatorEngine`) or a real one
 * (`RdsEngine`). Everything above this interface (CLI, scenario runner, conformance suite) is written once.
 * Every member rejects with a `BacktrackError` whose `code` is the RDS fault name.
 *
 * @example
 * const before = await engine.mark()
 * await sql('DROP TABLE sbtest1')
 * const record = await engine.backtrack({ backtrackTo: before })
 * await engine.waitForBacktrack(record.BacktrackIdentifier)
 */
export interface BacktrackEngine {
  /** Which kind of cluster this engine drives. */
  readonly kind: 'simulator' | 'aws'

  /** The cluster's identifier (lower case, as RDS stores it). */
  readonly clusterIdentifier: string

  /** Describes the cluster, as `DescribeDBClusters` does for one identifier. */
  describeCluster(): Promise<DBCluster>

  /** Starts rewinding the cluster to `input.backtrackTo` and returns the request's record (`pending`). */
  backtrack(input: BacktrackInput): Promise<DBClusterBacktrack>

  /** Lists backtrack requests, newest first, by id, by filters and a page at a time. */
  describeBacktracks(input?: DescribeBacktracksInput): Promise<BacktrackPage>

  /**
   * Resolves once the backtrack is `completed` and the cluster has left `backtracking`; rejects with
   * `InternalFailure` if it `failed`, `ServiceUnavailable` when `timeoutMs` runs out, `signal.reason` when aborted.
   */
  waitForBacktrack(backtrackIdentifier: string, options?: WaitOptions): Promise<DBClusterBacktrack>

  /**
   * Sets the target backtrack window in seconds (0..259200; 0 disables backtracking for good: re-enabling it, or
   * any change while a backtrack runs, is `InvalidDBClusterStateFault`).
   */
  modifyBacktrackWindow(seconds: number): Promise<DBCluster>

  /** The cluster's current time, from its own clock. */
  now(): Promise<Date>

  /** A time that separates everything committed so far from what follows: backtracking to it restores the present. */
  mark(): Promise<Date>

  /** Where and as whom the SQL side of the cluster is reached. */
  sqlEndpoint(): Promise<SqlEndpoint>

  /** Releases what the engine holds (clients, connections); the cluster itself keeps running. */
  close(): Promise<void>
}
