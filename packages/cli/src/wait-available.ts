import { BacktrackError, type BacktrackEngine } from '@backtrack/core'

/**
 * After a backtrack completed, Aurora may describe the cluster as `backtracking` a little longer. Polls until it is
 * something else and returns that status; rejects with `ServiceUnavailable` when it is still `backtracking` after
 * `timeoutMs`, so no caller says "available" about a cluster that is not.
 */
export async function waitUntilAvailable(
  engine: Pick<BacktrackEngine, 'describeCluster' | 'clusterIdentifier'>,
  options: { pollMs: number; timeoutMs: number },
): Promise<string> {
  const deadline = Date.now() + options.timeoutMs
  for (;;) {
    const status = (await engine.describeCluster()).Status
    if (status !== 'backtracking') return status
    if (Date.now() >= deadline) {
      throw new BacktrackError(
        'ServiceUnavailable',
        `The backtrack completed, but DBCluster ${engine.clusterIdentifier} is still backtracking after ` +
          `${Math.round(options.timeoutMs / 1000)} s; check it with describe-db-clusters.`,
      )
    }
    await new Promise((resolve) => setTimeout(resolve, options.pollMs))
  }
}
