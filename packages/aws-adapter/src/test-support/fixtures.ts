import { list, queryResult, type CannedResponse } from './fake-aws-endpoint.js'

export const CLUSTER_ID = 'labstack-cluster'
export const CLUSTER_ARN = `arn:aws:rds:us-east-1:123456789012:cluster:${CLUSTER_ID}`
export const BACKTRACK_ID = 'a5507cbc-7815-4ba8-ac23-68faaa0fcea2'

export function clusterFields(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    DBClusterIdentifier: CLUSTER_ID,
    DBClusterArn: CLUSTER_ARN,
    Status: 'available',
    Engine: 'aurora-mysql',
    EngineVersion: '8.0.mysql_aurora.3.05.2',
    Endpoint: `${CLUSTER_ID}.cluster-cnpexample.us-east-1.rds.amazonaws.com`,
    Port: 3306,
    MasterUsername: 'admin',
    DatabaseName: 'mylab',
    ClusterCreateTime: '2026-11-20T10:00:00.123Z',
    BacktrackWindow: 86400,
    EarliestBacktrackTime: '2026-11-23T00:00:00Z',
    BacktrackConsumedChangeRecords: 123456,
    LatestRestorableTime: '2026-11-24T00:00:00Z',
    ...overrides,
  }
}

export function tags(entries: Record<string, string>): { xml: string } {
  return list(
    'Tag',
    Object.entries(entries).map(([Key, Value]) => ({ Key, Value })),
  )
}

export function describeClusters(...clusters: Record<string, unknown>[]): CannedResponse {
  return queryResult('DescribeDBClusters', { DBClusters: list('DBCluster', clusters) })
}

export function backtrackFields(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    DBClusterIdentifier: CLUSTER_ID,
    BacktrackIdentifier: BACKTRACK_ID,
    BacktrackTo: '2026-11-24T00:10:00Z',
    BacktrackRequestCreationTime: '2026-11-24T00:12:01.104Z',
    Status: 'PENDING',
    ...overrides,
  }
}

export function describeBacktracks(records: Record<string, unknown>[], marker?: string): CannedResponse {
  return queryResult('DescribeDBClusterBacktracks', {
    DBClusterBacktracks: list('DBClusterBacktrack', records),
    Marker: marker,
  })
}
