import { existsSync, readdirSync } from 'node:fs'
import { join } from 'node:path'

/**
 * Where things live in a local cluster's data dir: the one place that knows. The cluster lays it out, and
 * `LocalClusterClient` finds a cluster (running or not) by it.
 *
 *     cluster.json   the state file: how another process reaches the running cluster
 *     cluster.log    the log of a detached `backtrack up`
 *     events.jsonl   the events DescribeEvents returns
 *     mysql/         the private server's data dir
 *     cluster/       the simulated cluster (page-log.sqlite: its history)
 *     clusters/<id>/ each cluster made with CreateDBCluster or RestoreDBClusterToPointInTime, laid out like the
 *                    primary (mysql/, cluster/, metrics.jsonl), with node.json (how to start it again)
 *     rds-catalog.json what RDS keeps besides the data: instances, tags, clone groups
 *     metrics.jsonl  the backtrack metrics CloudWatch serves
 */
export const DATA_DIR = {
  stateFile: (dataDir: string) => join(dataDir, 'cluster.json'),
  logFile: (dataDir: string) => join(dataDir, 'cluster.log'),
  eventsFile: (dataDir: string) => join(dataDir, 'events.jsonl'),
  serverDir: (dataDir: string) => join(dataDir, 'mysql'),
  engineDir: (dataDir: string) => join(dataDir, 'cluster'),
  pageLogFile: (dataDir: string) => join(dataDir, 'cluster', 'page-log.sqlite'),
  createdClustersDir: (dataDir: string) => join(dataDir, 'clusters'),
  catalogFile: (dataDir: string) => join(dataDir, 'rds-catalog.json'),
  metricsFile: (dataDir: string) => join(dataDir, 'metrics.jsonl'),
  nodeFile: (clusterDir: string) => join(clusterDir, 'node.json'),
  /** The private server data dirs: the primary's and those of clusters made with CreateDBCluster. */
  serverDirs(dataDir: string): string[] {
    const clusters = DATA_DIR.createdClustersDir(dataDir)
    const created = existsSync(clusters)
      ? readdirSync(clusters).map((name) => DATA_DIR.serverDir(join(clusters, name)))
      : []
    return [DATA_DIR.serverDir(dataDir), ...created]
  },
} as const
