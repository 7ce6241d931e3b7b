import { setTimeout as sleep } from 'node:timers/promises'
import {
  BacktrackDBClusterCommand,
  DescribeDBClusterBacktracksCommand,
  DescribeDBClustersCommand,
  type RDSClient,
} from '@aws-sdk/client-rds'

export interface ApiBacktrack {
  backtrackIdentifier: string
  /** From sending BacktrackDBCluster until DescribeDBClusters first says `available`. */
  millis: number
  /** How long the BacktrackDBCluster call itself took. */
  requestMillis: number
  /** DescribeDBClusters calls made while waiting. */
  polls: number
}

/**
 * Backtracks a cluster as a user of the AWS CLI or SDK does: BacktrackDBCluster, then DescribeDBClusters every
 * `pollMillis` until the cluster is `available` again. Rejects when the backtrack did not complete.
 */
export async function backtrackThroughApi(
  rds: RDSClient,
  clusterIdentifier: string,
  backtrackTo: Date,
  options: { pollMillis: number; timeoutMillis?: number },
): Promise<ApiBacktrack> {
  const started = performance.now()
  const { BacktrackIdentifier: id } = await rds.send(
    new BacktrackDBClusterCommand({ DBClusterIdentifier: clusterIdentifier, BacktrackTo: backtrackTo }),
  )
  const requestMillis = performance.now() - started
  if (id === undefined) throw new Error('BacktrackDBCluster returned no BacktrackIdentifier')
  const deadline = started + (options.timeoutMillis ?? 15 * 60_000)
  let polls = 0
  for (;;) {
    polls++
    const { DBClusters } = await rds.send(new DescribeDBClustersCommand({ DBClusterIdentifier: clusterIdentifier }))
    if (DBClusters?.[0]?.Status === 'available') break
    if (performance.now() > deadline) throw new Error(`backtrack ${id} did not finish in time`)
    await sleep(options.pollMillis)
  }
  const millis = performance.now() - started
  const { DBClusterBacktracks } = await rds.send(
    new DescribeDBClusterBacktracksCommand({ DBClusterIdentifier: clusterIdentifier, BacktrackIdentifier: id }),
  )
  const status = DBClusterBacktracks?.[0]?.Status
  if (status?.toLowerCase() !== 'completed')
    throw new Error(`backtrack ${id} ended ${status ?? 'without a record'}, not completed`)
  return { backtrackIdentifier: id, millis, requestMillis, polls }
}
