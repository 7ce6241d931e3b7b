import { createHash } from 'node:crypto'
import type { DBCluster, DBClusterBacktrack } from '@backtrack/core'
import type { RdsEvent } from '@backtrack/core'
import { el, xmlList, type XmlElement } from './xml.js'

// Element names are the RDS model's member names; list members use the model's `locationName`.

/** The members of an RDS `DBCluster`, with the fixed parts of a one-writer provisioned Aurora MySQL cluster. */
export function dbClusterMembers(cluster: DBCluster, region: string): XmlElement[] {
  const resourceId = createHash('sha256').update(cluster.DBClusterArn).digest('hex').slice(0, 26).toUpperCase()
  const backtrackEnabled = cluster.BacktrackWindow > 0
  return [
    el('AllocatedStorage', 1),
    xmlList('AvailabilityZones', 'AvailabilityZone', [`${region}a`], (zone) => zone),
    el('BackupRetentionPeriod', 1),
    el('DatabaseName', cluster.DatabaseName),
    el('DBClusterIdentifier', cluster.DBClusterIdentifier),
    el('DBClusterParameterGroup', 'default.aurora-mysql8.0'),
    el('DBSubnetGroup', 'default'),
    el('Status', cluster.Status),
    el('EarliestRestorableTime', cluster.ClusterCreateTime),
    el('Endpoint', cluster.Endpoint),
    // One server answers both; Aurora's reader endpoint falls back to the writer when there is no replica.
    el('ReaderEndpoint', cluster.Endpoint),
    el('MultiAZ', false),
    el('Engine', cluster.Engine),
    el('EngineVersion', cluster.EngineVersion),
    el('LatestRestorableTime', cluster.LatestRestorableTime),
    el('Port', cluster.Port),
    el('MasterUsername', cluster.MasterUsername),
    el('PreferredBackupWindow', '07:00-07:30'),
    el('PreferredMaintenanceWindow', 'sun:08:00-sun:08:30'),
    el('ReadReplicaIdentifiers', []),
    xmlList('DBClusterMembers', 'DBClusterMember', [`${cluster.DBClusterIdentifier}-instance-1`], (instance) => [
      el('DBInstanceIdentifier', instance),
      el('IsClusterWriter', true),
      el('DBClusterParameterGroupStatus', 'in-sync'),
      el('PromotionTier', 1),
    ]),
    el('VpcSecurityGroups', []),
    el('StorageEncrypted', false),
    el('DbClusterResourceId', `cluster-${resourceId}`),
    el('DBClusterArn', cluster.DBClusterArn),
    el('AssociatedRoles', []),
    el('IAMDatabaseAuthenticationEnabled', false),
    el('ClusterCreateTime', cluster.ClusterCreateTime),
    el('EarliestBacktrackTime', backtrackEnabled ? cluster.EarliestBacktrackTime : undefined),
    el('BacktrackWindow', cluster.BacktrackWindow),
    el('BacktrackConsumedChangeRecords', cluster.BacktrackConsumedChangeRecords),
    el('EngineMode', 'provisioned'),
    el('DeletionProtection', false),
    el('HttpEndpointEnabled', false),
    el('CopyTagsToSnapshot', false),
    el('CrossAccountClone', false),
    el('DomainMemberships', []),
    el('TagList', []),
    el('AutoMinorVersionUpgrade', true),
    el('NetworkType', 'IPV4'),
  ]
}

/** The members of an RDS `DBClusterBacktrack`; `Status` upper case, as real Aurora sends it. */
export function dbClusterBacktrackMembers(backtrack: DBClusterBacktrack): XmlElement[] {
  return [
    el('DBClusterIdentifier', backtrack.DBClusterIdentifier),
    el('BacktrackIdentifier', backtrack.BacktrackIdentifier),
    el('BacktrackTo', backtrack.BacktrackTo),
    el('BacktrackedFrom', backtrack.BacktrackedFrom),
    el('BacktrackRequestCreationTime', backtrack.BacktrackRequestCreationTime),
    el('Status', backtrack.Status.toUpperCase()),
  ]
}

/** The members of an RDS `Event`. */
export function eventMembers(event: RdsEvent): XmlElement[] {
  return [
    el('SourceIdentifier', event.SourceIdentifier),
    el('SourceType', event.SourceType),
    el('Message', event.Message),
    xmlList('EventCategories', 'EventCategory', event.EventCategories, (category) => category),
    el('Date', event.Date),
    el('SourceArn', event.SourceArn),
  ]
}
