import { createHash } from 'node:crypto'
import type { DBCluster, DBClusterBacktrack, RdsEvent } from '@backtrack/core'
import type { ClusterRecord, InstanceRecord, Tag } from './rds-catalog.js'
import { el, xmlList, type XmlElement } from './xml.js'

// Element names are the RDS model's member names; list members use the model's `locationName`.

/** What the Query protocol shows as a resource id: stable, derived from the ARN. */
function resourceId(arn: string, length: number): string {
  return createHash('sha256').update(arn).digest('hex').slice(0, length).toUpperCase()
}

/** The ARN of a DB instance of this endpoint. */
export function instanceArn(region: string, identifier: string): string {
  return `arn:aws:rds:${region}:000000000000:db:${identifier}`
}

function tagList(tags: readonly Tag[]): XmlElement {
  return xmlList('TagList', 'Tag', tags, (tag) => [el('Key', tag.Key), el('Value', tag.Value)])
}

/** The parts of an RDS `DBCluster` that the engine does not describe: instances, tags, clone group, windows. */
export interface ClusterExtras {
  record: ClusterRecord
  instances: readonly InstanceRecord[]
  /** What a tag's `aws:` keys add (the simulator marker), shown before the user's tags. */
  systemTags: readonly Tag[]
}

/** The members of an RDS `DBCluster`, with the fixed parts of a provisioned Aurora MySQL cluster. */
export function dbClusterMembers(cluster: DBCluster, region: string, extras: ClusterExtras): XmlElement[] {
  const { record, instances } = extras
  const backtrackEnabled = cluster.BacktrackWindow > 0
  return [
    el('AllocatedStorage', 1),
    xmlList('AvailabilityZones', 'AvailabilityZone', [`${region}a`], (zone) => zone),
    el('BackupRetentionPeriod', record.backupRetentionPeriod),
    el('DatabaseName', cluster.DatabaseName),
    el('DBClusterIdentifier', cluster.DBClusterIdentifier),
    el('DBClusterParameterGroup', 'default.aurora-mysql8.0'),
    el('DBSubnetGroup', 'default'),
    el('Status', cluster.Status),
    el('EarliestRestorableTime', cluster.EarliestRestorableTime ?? cluster.ClusterCreateTime),
    el('Endpoint', cluster.Endpoint),
    // Aurora's reader endpoint leads to the writer while the cluster has no reader.
    el('ReaderEndpoint', record.readerAddress ?? cluster.Endpoint),
    el('MultiAZ', instances.length > 1),
    el('Engine', cluster.Engine),
    el('EngineVersion', record.engineVersion ?? cluster.EngineVersion),
    el('LatestRestorableTime', cluster.LatestRestorableTime),
    el('Port', cluster.Port),
    el('MasterUsername', cluster.MasterUsername),
    el('PreferredBackupWindow', record.preferredBackupWindow),
    el('PreferredMaintenanceWindow', record.preferredMaintenanceWindow),
    el('ReadReplicaIdentifiers', []),
    xmlList('DBClusterMembers', 'DBClusterMember', instances, (instance) => [
      el('DBInstanceIdentifier', instance.identifier),
      el('IsClusterWriter', instance.writer),
      el('DBClusterParameterGroupStatus', 'in-sync'),
      el('PromotionTier', instance.promotionTier),
    ]),
    el('VpcSecurityGroups', []),
    el('HostedZoneId', 'Z2R2ITUGPM61AM'),
    el('StorageEncrypted', false),
    el('DbClusterResourceId', `cluster-${resourceId(cluster.DBClusterArn, 26)}`),
    el('DBClusterArn', cluster.DBClusterArn),
    el('AssociatedRoles', []),
    el('IAMDatabaseAuthenticationEnabled', false),
    el('CloneGroupId', record.cloneGroupId),
    el('ClusterCreateTime', cluster.ClusterCreateTime),
    el('EarliestBacktrackTime', backtrackEnabled ? cluster.EarliestBacktrackTime : undefined),
    el('BacktrackWindow', cluster.BacktrackWindow),
    el('BacktrackConsumedChangeRecords', cluster.BacktrackConsumedChangeRecords),
    el('EngineMode', 'provisioned'),
    el('DeletionProtection', record.deletionProtection),
    el('HttpEndpointEnabled', false),
    el('CopyTagsToSnapshot', record.copyTagsToSnapshot),
    el('CrossAccountClone', false),
    el('DomainMemberships', []),
    tagList([...extras.systemTags, ...record.tags]),
    el('AutoMinorVersionUpgrade', true),
    el('NetworkType', 'IPV4'),
  ]
}

/** How an instance shows its status: a cluster's backtrack or deletion shows on every instance. */
function instanceStatus(instance: InstanceRecord, cluster: DBCluster | undefined): string {
  if (instance.status !== 'available') return instance.status
  if (cluster?.Status === 'backtracking' || cluster?.Status === 'deleting') return cluster.Status
  return 'available'
}

/** The members of an RDS `DBInstance` of an Aurora MySQL cluster. */
export function dbInstanceMembers(
  instance: InstanceRecord,
  cluster: DBCluster | undefined,
  region: string,
  extras: { engineVersion: string; systemTags: readonly Tag[] },
): XmlElement[] {
  const arn = instanceArn(region, instance.identifier)
  return [
    el('DBInstanceIdentifier', instance.identifier),
    el('DBInstanceClass', instance.instanceClass),
    el('Engine', 'aurora-mysql'),
    el('DBInstanceStatus', instanceStatus(instance, cluster)),
    el('MasterUsername', cluster?.MasterUsername),
    el('DBName', cluster?.DatabaseName),
    el('Endpoint', [el('Address', instance.address), el('Port', instance.port), el('HostedZoneId', 'Z2R2ITUGPM61AM')]),
    el('AllocatedStorage', 1),
    el('InstanceCreateTime', new Date(instance.createdAt)),
    el('PreferredBackupWindow', '07:00-07:30'),
    el('BackupRetentionPeriod', 1),
    el('DBSecurityGroups', []),
    el('VpcSecurityGroups', []),
    xmlList('DBParameterGroups', 'DBParameterGroup', ['default.aurora-mysql8.0'], (name) => [
      el('DBParameterGroupName', name),
      el('ParameterApplyStatus', 'in-sync'),
    ]),
    el('AvailabilityZone', instance.availabilityZone),
    el('PreferredMaintenanceWindow', 'sun:08:00-sun:08:30'),
    el('PendingModifiedValues', []),
    el('MultiAZ', false),
    el('EngineVersion', extras.engineVersion),
    el('AutoMinorVersionUpgrade', instance.autoMinorVersionUpgrade),
    el('ReadReplicaDBInstanceIdentifiers', []),
    el('LicenseModel', 'general-public-license'),
    xmlList('OptionGroupMemberships', 'OptionGroupMembership', ['default:aurora-mysql-8-0'], (name) => [
      el('OptionGroupName', name),
      el('Status', 'in-sync'),
    ]),
    el('PubliclyAccessible', instance.publiclyAccessible),
    el('StorageType', 'aurora'),
    el('DbInstancePort', 0),
    el('DBClusterIdentifier', instance.clusterIdentifier),
    el('StorageEncrypted', false),
    el('DbiResourceId', `db-${resourceId(arn, 26)}`),
    el('CACertificateIdentifier', 'rds-ca-rsa2048-g1'),
    el('DomainMemberships', []),
    el('CopyTagsToSnapshot', false),
    el('MonitoringInterval', 0),
    el('PromotionTier', instance.promotionTier),
    el('DBInstanceArn', arn),
    el('IAMDatabaseAuthenticationEnabled', false),
    el('PerformanceInsightsEnabled', false),
    el('DeletionProtection', false),
    el('AssociatedRoles', []),
    tagList([...extras.systemTags, ...instance.tags]),
    el('CustomerOwnedIpEnabled', false),
    el('BackupTarget', 'region'),
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
