import {
  BACKTRACK_FILTER_NAMES,
  BacktrackError,
  backtrackNotFound,
  clusterNotFound,
  formatRdsTime,
  normalizeClusterIdentifier,
  pageItems,
  SIMULATED_CLUSTER_TAG,
  validateBacktrackIdentifier,
  validateBacktrackWindow,
  validateFilters,
  validateMaxRecords,
  type BacktrackEngine,
  type BacktrackFilter,
  type DBCluster,
} from '@backtrack/core'
import type { ClusterRegistry } from './cluster-registry.js'
import { invalidValue, type QueryFilter, type QueryParams } from './query-params.js'
import { instanceNotFound, isSystemTagKey, MAX_TAGS, type InstanceRecord, type Tag } from './rds-catalog.js'
import { dbClusterBacktrackMembers, dbClusterMembers, dbInstanceMembers, eventMembers } from './rds-shapes.js'
import { el, xmlList, type XmlElement } from './xml.js'

/** What every action handler gets besides its parameters. */
interface ActionContext {
  registry: ClusterRegistry
  region: string
  now: () => Date
}

/**
 * Reads and validates every parameter first (so bad input changes nothing), then acts; returns `<XResult>`'s members,
 * or undefined for an action without output (no `<XResult>` at all).
 */
type ActionHandler = (params: QueryParams, context: ActionContext) => Promise<XmlElement[] | undefined>

const ARN = /^arn:aws[a-z-]*:rds:([a-z0-9-]+):(\d{12}):(cluster|db):(.+)$/
const CLUSTER_FILTER_NAMES = ['clone-group-id', 'db-cluster-id', 'db-cluster-resource-id', 'domain', 'engine']
const INSTANCE_FILTER_NAMES = ['db-cluster-id', 'db-instance-id', 'dbi-resource-id', 'domain', 'engine']
const EVENT_SOURCE_TYPES = [
  'db-instance',
  'db-parameter-group',
  'db-security-group',
  'db-snapshot',
  'db-cluster',
  'db-cluster-snapshot',
  'custom-engine-version',
  'db-proxy',
  'blue-green-deployment',
  'db-shard-group',
  'zero-etl',
]
const DEFAULT_EVENT_MINUTES = 60
/** RDS's event categories by source type, as its "event categories and event messages" page lists them. */
const EVENT_CATEGORIES: Readonly<Record<string, readonly string[]>> = {
  'db-instance': [
    'availability',
    'backtrack',
    'backup',
    'configuration change',
    'creation',
    'deletion',
    'failover',
    'failure',
    'low storage',
    'maintenance',
    'notification',
    'read replica',
    'recovery',
    'restoration',
    'security',
    'security patching',
  ],
  // `backtrack` on a cluster is the simulator's own (request, start and end of each backtrack); see docs.
  'db-cluster': [
    'backtrack',
    'configuration change',
    'creation',
    'deletion',
    'failover',
    'failure',
    'global-failover',
    'maintenance',
    'migration',
    'notification',
    'serverless',
  ],
  'db-parameter-group': ['configuration change'],
  'db-security-group': ['configuration change', 'failure'],
  'db-snapshot': ['creation', 'deletion', 'notification', 'restoration'],
  'db-cluster-snapshot': ['backup', 'creation', 'deletion', 'notification'],
  'db-proxy': ['configuration change', 'creation', 'deletion', 'failure'],
  'blue-green-deployment': ['creation', 'deletion', 'notification'],
  'custom-engine-version': ['creation', 'deletion', 'failure', 'restoration'],
}
const INSTANCE_CLASS = /^db\.[a-z0-9-]+\.[a-z0-9]+$|^db\.serverless$/
const MASTER_USERNAME = /^[A-Za-z][A-Za-z0-9_]{0,15}$/
// Aurora MySQL: 8 to 41 printable ASCII characters except /, ", @ and space.
const MASTER_PASSWORD = /^[!#-.0-?A-~]{8,41}$/
const ENGINE_VERSION = /^(5\.7|8\.0)\.mysql_aurora\.\d+\.\d+\.\d+$|^(5\.7|8\.0)$/
const BACKUP_WINDOW = /^([01]\d|2[0-3]):[0-5]\d-([01]\d|2[0-3]):[0-5]\d$/
const MAINTENANCE_WINDOW =
  /^(mon|tue|wed|thu|fri|sat|sun):([01]\d|2[0-3]):[0-5]\d-(mon|tue|wed|thu|fri|sat|sun):([01]\d|2[0-3]):[0-5]\d$/
const TAG_TEXT = /^[\p{L}\p{Z}\p{N}_.:/=+\-@]*$/u
/** Names MySQL reserves and the simulator's own accounts: no master user may be called so. */
const RESERVED_USERS = new Set(['root', 'backtrack', 'rdsadmin', 'mysql', 'select', 'user', 'admin_', 'mariadb'])

/** A cluster or instance identifier, lower-cased, checked against RDS's rules. */
function resourceIdentifier(value: string, parameter: string): string {
  try {
    return normalizeClusterIdentifier(value)
  } catch (error) {
    throw BacktrackError.is(error)
      ? new BacktrackError('InvalidParameterValue', error.message.replace('DBClusterIdentifier', parameter))
      : error
  }
}

/** A cluster identifier, or the cluster's ARN where RDS takes one (DescribeDBClusters). */
function clusterIdentifier(value: string, acceptArn: boolean): string {
  const fromArn = acceptArn ? ARN.exec(value) : null
  return resourceIdentifier(fromArn?.[3] === 'cluster' ? fromArn[4]! : value, 'DBClusterIdentifier')
}

function findCluster(registry: ClusterRegistry, identifier: string): BacktrackEngine {
  const engine = registry.get(identifier)
  if (engine === undefined) throw clusterNotFound(identifier)
  return engine
}

function findInstance(registry: ClusterRegistry, identifier: string): InstanceRecord {
  const instance = registry.catalog.instance(identifier)
  if (instance === undefined) throw instanceNotFound(identifier)
  return instance
}

function isBacktrackFilter(filter: QueryFilter): filter is BacktrackFilter {
  return (BACKTRACK_FILTER_NAMES as readonly string[]).includes(filter.name)
}

/** Refuses a member this endpoint cannot honour, naming it, rather than ignoring it silently. */
function refuseMembers(params: QueryParams, action: string, members: readonly string[], why: string): void {
  for (const name of params.names()) {
    const member = name.split('.')[0]!
    if (members.includes(member)) {
      throw new BacktrackError(
        'InvalidParameterCombination',
        `${action}: ${member} is not supported by this endpoint (a local simulator): ${why}. Drop ${member} from the request.`,
      )
    }
  }
}

/** `Tags.Tag.N.Key/Value`, checked as RDS checks them; `aws:` keys are AWS's alone. */
function readTags(params: QueryParams, prefix = 'Tags'): Tag[] {
  const tags = params.structs(prefix, 'Tag', ['Key', 'Value'] as const).map(({ Key, Value }, i) => {
    if (Key === undefined || Key === '') {
      throw new BacktrackError('MissingParameter', `The request must contain the parameter ${prefix}.Tag.${i + 1}.Key`)
    }
    return { Key, Value: Value ?? '' }
  })
  if (tags.length > MAX_TAGS) throw invalidValue(prefix, `${tags.length} tags`, `at most ${MAX_TAGS} tags`)
  for (const tag of tags) checkTagKey(tag.Key, `${prefix}.Tag.N.Key`, tag.Value)
  return tags
}

function checkTagKey(key: string, parameter: string, value?: string): void {
  if (key.length > 128 || !TAG_TEXT.test(key)) {
    throw invalidValue(parameter, key, 'a tag key of 1 to 128 letters, digits, spaces and _.:/=+-@')
  }
  if (isSystemTagKey(key)) {
    throw new BacktrackError(
      'InvalidParameterValue',
      `Tag keys starting with "aws:" are reserved for AWS and cannot be added or removed: ${key}.`,
    )
  }
  if (value !== undefined && (value.length > 256 || !TAG_TEXT.test(value))) {
    throw invalidValue(
      `${parameter.replace(/Key$/, 'Value')}`,
      value,
      'a tag value of 0 to 256 letters, digits, spaces and _.:/=+-@',
    )
  }
}

/** The ARN a tag action names: a cluster or an instance of this endpoint. */
function tagOwner(registry: ClusterRegistry, arn: string): { tags: Tag[]; system: readonly Tag[] } {
  const match = ARN.exec(arn)
  if (match === null) {
    throw new BacktrackError(
      'InvalidParameterValue',
      `The parameter ResourceName is not a valid RDS ARN: "${arn}". Use a DBClusterArn or DBInstanceArn from a describe call.`,
    )
  }
  const [, , , type, id = ''] = match
  if (type === 'cluster') {
    if (registry.get(id) === undefined) throw clusterNotFound(id)
    return { tags: registry.catalog.ensureCluster(id).tags, system: [SIMULATED_CLUSTER_TAG] }
  }
  return { tags: findInstance(registry, id).tags, system: [SIMULATED_CLUSTER_TAG] }
}

function tagOwnerRecord(registry: ClusterRegistry, arn: string): { tags: Tag[] } {
  const match = ARN.exec(arn)!
  const id = match[4]!
  return match[3] === 'cluster' ? registry.catalog.ensureCluster(id) : findInstance(registry, id)
}

async function describeWithExtras(registry: ClusterRegistry, engine: BacktrackEngine, region: string) {
  const cluster = await engine.describeCluster()
  const record = registry.catalog.ensureCluster(cluster.DBClusterIdentifier)
  return {
    cluster,
    record,
    members: dbClusterMembers(cluster, region, {
      record,
      instances: registry.catalog.instances(cluster.DBClusterIdentifier),
      systemTags: [SIMULATED_CLUSTER_TAG],
    }),
  }
}

async function clusterElement(registry: ClusterRegistry, engine: BacktrackEngine, region: string): Promise<XmlElement> {
  return el('DBCluster', (await describeWithExtras(registry, engine, region)).members)
}

/** The text of the member `name` (empty when absent or not text). */
function memberText(members: readonly XmlElement[], name: string): string {
  const value = members.find((member) => member.name === name)?.value
  if (typeof value === 'string') return value
  if (typeof value === 'number' || typeof value === 'boolean' || value instanceof Date) return String(value)
  return ''
}

const describeDBClusters: ActionHandler = async (params, { registry, region }) => {
  const identifier = params.optionalString('DBClusterIdentifier')
  const wanted = identifier === undefined ? undefined : clusterIdentifier(identifier, true)
  const filters = params.filters()
  validateFilters(filters, CLUSTER_FILTER_NAMES)
  const pageSize = validateMaxRecords(params.optionalInteger('MaxRecords'))
  const marker = params.optionalString('Marker')
  params.optionalBoolean('IncludeShared')

  const engines = wanted === undefined ? registry.list() : [findCluster(registry, wanted)]
  const described = await Promise.all(engines.map((engine) => describeWithExtras(registry, engine, region)))
  // Every filter narrows; a filter's values are alternatives. The simulator's clusters are in no directory domain.
  const matches = (name: string, value: string | undefined) =>
    filters
      .filter((filter) => filter.name === name)
      .every((filter) =>
        filter.values.some((wantedValue) =>
          name === 'db-cluster-id'
            ? (ARN.exec(wantedValue)?.[4] ?? wantedValue.toLowerCase()) === value
            : name === 'engine'
              ? wantedValue.toLowerCase() === value
              : wantedValue === value,
        ),
      )
  const clusters = described.filter(
    ({ cluster, record, members }) =>
      matches('db-cluster-id', cluster.DBClusterIdentifier) &&
      matches('engine', cluster.Engine.toLowerCase()) &&
      matches('clone-group-id', record.cloneGroupId) &&
      matches('db-cluster-resource-id', memberText(members, 'DbClusterResourceId')) &&
      matches('domain', undefined),
  )
  const result = pageItems(clusters, pageSize, marker)
  return [xmlList('DBClusters', 'DBCluster', result.page, (item) => item.members), el('Marker', result.marker)]
}

const backtrackDBCluster: ActionHandler = async (params, { registry }) => {
  const identifier = clusterIdentifier(params.requiredString('DBClusterIdentifier'), false)
  const backtrackTo = params.requiredTime('BacktrackTo')
  const force = params.optionalBoolean('Force')
  const useEarliest = params.optionalBoolean('UseEarliestTimeOnPointInTimeUnavailable')

  const record = await findCluster(registry, identifier).backtrack({
    backtrackTo,
    ...(force === undefined ? {} : { force }),
    ...(useEarliest === undefined ? {} : { useEarliestTimeOnPointInTimeUnavailable: useEarliest }),
  })
  return dbClusterBacktrackMembers(record)
}

const describeDBClusterBacktracks: ActionHandler = async (params, { registry }) => {
  const identifier = clusterIdentifier(params.requiredString('DBClusterIdentifier'), false)
  const rawBacktrackId = params.optionalString('BacktrackIdentifier')
  const backtrackIdentifier = rawBacktrackId === undefined ? undefined : validateBacktrackIdentifier(rawBacktrackId)
  const filters = params.filters()
  validateFilters(filters, BACKTRACK_FILTER_NAMES)
  const maxRecords = params.optionalInteger('MaxRecords')
  validateMaxRecords(maxRecords)
  const marker = params.optionalString('Marker')

  const engine = findCluster(registry, identifier)
  const page = await engine.describeBacktracks({
    ...(backtrackIdentifier === undefined ? {} : { backtrackIdentifier }),
    filters: filters.filter(isBacktrackFilter),
    ...(maxRecords === undefined ? {} : { maxRecords }),
    ...(marker === undefined ? {} : { marker }),
  })
  // RDS answers an unknown BacktrackIdentifier with a 404 rather than an empty list, whatever the filters say.
  if (backtrackIdentifier !== undefined && page.backtracks.length === 0) {
    const known = filters.length === 0 ? page : await engine.describeBacktracks({ backtrackIdentifier })
    if (known.backtracks.length === 0) throw backtrackNotFound(backtrackIdentifier)
  }
  return [
    xmlList('DBClusterBacktracks', 'DBClusterBacktrack', page.backtracks, dbClusterBacktrackMembers),
    el('Marker', page.marker),
  ]
}

/** ModifyDBCluster members that mean nothing for a local cluster (or would need a new one): refused by name. */
const MODIFY_REFUSED = [
  'NewDBClusterIdentifier',
  'DBClusterParameterGroupName',
  'VpcSecurityGroupIds',
  'Port',
  'MasterUserPassword',
  'OptionGroupName',
  'EnableIAMDatabaseAuthentication',
  'CloudwatchLogsExportConfiguration',
  'AllowMajorVersionUpgrade',
  'DBInstanceParameterGroupName',
  'Domain',
  'DomainIAMRoleName',
  'ScalingConfiguration',
  'EnableHttpEndpoint',
  'EnableGlobalWriteForwarding',
  'DBClusterInstanceClass',
  'AllocatedStorage',
  'StorageType',
  'Iops',
  'MonitoringInterval',
  'MonitoringRoleArn',
  'DatabaseInsightsMode',
  'EnablePerformanceInsights',
  'PerformanceInsightsKMSKeyId',
  'PerformanceInsightsRetentionPeriod',
  'ServerlessV2ScalingConfiguration',
  'NetworkType',
  'ManageMasterUserPassword',
  'RotateMasterUserPassword',
  'EnableLocalWriteForwarding',
  'MasterUserSecretKmsKeyId',
  'EngineMode',
  'AllowEngineModeChange',
  'AwsBackupRecoveryPointArn',
  'EnableLimitlessDatabase',
  'CACertificateIdentifier',
  'MasterUserAuthenticationType',
]

function readWindows(params: QueryParams) {
  const backupRetentionPeriod = params.optionalInteger('BackupRetentionPeriod')
  if (backupRetentionPeriod !== undefined && (backupRetentionPeriod < 1 || backupRetentionPeriod > 35)) {
    throw invalidValue('BackupRetentionPeriod', String(backupRetentionPeriod), 'a number of days from 1 to 35')
  }
  const preferredBackupWindow = params.optionalString('PreferredBackupWindow')
  if (preferredBackupWindow !== undefined && !BACKUP_WINDOW.test(preferredBackupWindow)) {
    throw invalidValue('PreferredBackupWindow', preferredBackupWindow, 'hh24:mi-hh24:mi in UTC, e.g. 07:00-07:30')
  }
  const preferredMaintenanceWindow = params.optionalString('PreferredMaintenanceWindow')?.toLowerCase()
  if (preferredMaintenanceWindow !== undefined && !MAINTENANCE_WINDOW.test(preferredMaintenanceWindow)) {
    throw invalidValue(
      'PreferredMaintenanceWindow',
      preferredMaintenanceWindow,
      'ddd:hh24:mi-ddd:hh24:mi in UTC, e.g. sun:08:00-sun:08:30',
    )
  }
  const deletionProtection = params.optionalBoolean('DeletionProtection')
  const copyTagsToSnapshot = params.optionalBoolean('CopyTagsToSnapshot')
  return {
    ...(backupRetentionPeriod === undefined ? {} : { backupRetentionPeriod }),
    ...(preferredBackupWindow === undefined ? {} : { preferredBackupWindow }),
    ...(preferredMaintenanceWindow === undefined ? {} : { preferredMaintenanceWindow }),
    ...(deletionProtection === undefined ? {} : { deletionProtection }),
    ...(copyTagsToSnapshot === undefined ? {} : { copyTagsToSnapshot }),
  }
}

function readEngineVersion(params: QueryParams): string | undefined {
  const version = params.optionalString('EngineVersion')
  if (version !== undefined && !ENGINE_VERSION.test(version)) {
    throw new BacktrackError(
      'InvalidParameterCombination',
      `Cannot find version ${version} for aurora-mysql. Use an Aurora MySQL version such as 8.0.mysql_aurora.3.08.0.`,
    )
  }
  return version
}

const modifyDBCluster: ActionHandler = async (params, { registry, region }) => {
  const identifier = clusterIdentifier(params.requiredString('DBClusterIdentifier'), false)
  refuseMembers(params, 'ModifyDBCluster', MODIFY_REFUSED, 'it has no effect on a local cluster')
  const window = params.optionalInteger('BacktrackWindow')
  if (window !== undefined) validateBacktrackWindow(window)
  // Accepted: the simulator applies every change immediately.
  params.optionalBoolean('ApplyImmediately')
  params.optionalBoolean('AutoMinorVersionUpgrade')
  const windows = readWindows(params)
  const engineVersion = readEngineVersion(params)

  const engine = findCluster(registry, identifier)
  const before = await engine.describeCluster()
  const current = registry.catalog.ensureCluster(identifier).engineVersion ?? before.EngineVersion
  if (engineVersion !== undefined && engineVersion !== current) {
    throw new BacktrackError(
      'InvalidParameterCombination',
      `ModifyDBCluster: EngineVersion ${engineVersion} differs from the cluster's ${current}; a local cluster cannot be upgraded. Drop EngineVersion.`,
    )
  }
  if (window !== undefined) await engine.modifyBacktrackWindow(window)
  registry.catalog.updateCluster(identifier, windows)
  return [await clusterElement(registry, engine, region)]
}

/** CreateDBCluster members that would ask for something a local cluster cannot be. */
const CREATE_REFUSED = [
  'GlobalClusterIdentifier',
  'ReplicationSourceIdentifier',
  'ScalingConfiguration',
  'ServerlessV2ScalingConfiguration',
  'EnableGlobalWriteForwarding',
  'ManageMasterUserPassword',
  'EnableLimitlessDatabase',
  'ClusterScalabilityType',
]

function checkMasterCredentials(username: string | undefined, password: string | undefined): void {
  if (username === undefined) {
    throw new BacktrackError(
      'InvalidParameterValue',
      'The parameter MasterUsername must be provided and must not be blank.',
    )
  }
  if (!MASTER_USERNAME.test(username)) {
    throw invalidValue('MasterUsername', username, '1 to 16 letters, digits or underscores, starting with a letter')
  }
  if (RESERVED_USERS.has(username.toLowerCase())) {
    throw new BacktrackError(
      'InvalidParameterValue',
      `MasterUsername ${username} cannot be used as it is a reserved word used by the engine`,
    )
  }
  if (password === undefined) {
    throw new BacktrackError(
      'InvalidParameterValue',
      'The parameter MasterUserPassword must be provided and must not be blank.',
    )
  }
  if (!MASTER_PASSWORD.test(password)) {
    throw new BacktrackError(
      'InvalidParameterValue',
      "The parameter MasterUserPassword is not a valid password. Only printable ASCII characters besides '/', '@', '\"', ' ' may be used, and it must be 8 to 41 characters long.",
    )
  }
}

function readPort(params: QueryParams): number | undefined {
  const port = params.optionalInteger('Port')
  if (port !== undefined && (port < 1150 || port > 65535)) {
    throw invalidValue('Port', String(port), 'a port from 1150 to 65535')
  }
  return port
}

/** Errors of the local server underneath, as the RDS fault a client of this action can understand. */
function asRdsFault(
  error: unknown,
  code: 'InsufficientStorageClusterCapacity' | 'InsufficientDBInstanceCapacity',
): never {
  if (BacktrackError.is(error, 'ServerStartFault') || BacktrackError.is(error, 'ServerConfigurationFault')) {
    throw new BacktrackError(code, error.message, { cause: error })
  }
  throw error
}

const createDBCluster: ActionHandler = async (params, { registry, region }) => {
  const identifier = clusterIdentifier(params.requiredString('DBClusterIdentifier'), false)
  const engineName = params.requiredString('Engine').toLowerCase()
  const window = params.optionalInteger('BacktrackWindow')
  if (window !== undefined) validateBacktrackWindow(window)
  if (engineName !== 'aurora-mysql') {
    if (window !== undefined && window > 0) {
      throw new BacktrackError(
        'InvalidParameterCombination',
        `Backtrack is not supported for the ${engineName} engine. Use Engine aurora-mysql or drop BacktrackWindow.`,
      )
    }
    throw new BacktrackError(
      'InvalidParameterValue',
      `Invalid DB engine: ${engineName}. This endpoint simulates aurora-mysql clusters only.`,
    )
  }
  refuseMembers(params, 'CreateDBCluster', CREATE_REFUSED, 'a local cluster is one provisioned Aurora MySQL cluster')
  const engineMode = params.optionalString('EngineMode')
  if (engineMode !== undefined && engineMode !== 'provisioned') {
    throw new BacktrackError(
      'InvalidParameterCombination',
      `EngineMode ${engineMode} is not supported by this endpoint (a local simulator): use provisioned.`,
    )
  }
  const masterUsername = params.optionalString('MasterUsername')
  const masterUserPassword = params.optionalString('MasterUserPassword')
  checkMasterCredentials(masterUsername, masterUserPassword)
  const databaseName = params.optionalString('DatabaseName')
  if (databaseName !== undefined && !/^[A-Za-z][A-Za-z0-9_]{0,63}$/.test(databaseName)) {
    throw invalidValue('DatabaseName', databaseName, '1 to 64 letters, digits or underscores, starting with a letter')
  }
  const port = readPort(params)
  const tags = readTags(params)
  const engineVersion = readEngineVersion(params)
  const windows = readWindows(params)
  if (registry.get(identifier) !== undefined) {
    throw new BacktrackError('DBClusterAlreadyExistsFault', 'DB Cluster already exists')
  }

  const engine = await registry
    .create({
      identifier,
      engine: 'aurora-mysql',
      backtrackWindow: window ?? 0,
      masterUsername: masterUsername!,
      masterUserPassword: masterUserPassword!,
      ...(databaseName === undefined ? {} : { databaseName }),
      ...(port === undefined ? {} : { port }),
      tags,
    })
    .catch((error: unknown) => asRdsFault(error, 'InsufficientStorageClusterCapacity'))
  registry.catalog.updateCluster(identifier, { ...windows, ...(engineVersion === undefined ? {} : { engineVersion }) })
  return [await clusterElement(registry, engine, region)]
}

const deleteDBCluster: ActionHandler = async (params, { registry, region }) => {
  const identifier = clusterIdentifier(params.requiredString('DBClusterIdentifier'), false)
  const skipFinalSnapshot = params.optionalBoolean('SkipFinalSnapshot') ?? false
  const finalSnapshot = params.optionalString('FinalDBSnapshotIdentifier')
  params.optionalBoolean('DeleteAutomatedBackups')
  if (skipFinalSnapshot && finalSnapshot !== undefined) {
    throw new BacktrackError(
      'InvalidParameterCombination',
      'FinalDBSnapshotIdentifier can not be specified when deleting a cluster with SkipFinalSnapshot enabled.',
    )
  }
  if (!skipFinalSnapshot) {
    throw new BacktrackError(
      'InvalidParameterCombination',
      finalSnapshot === undefined
        ? 'FinalDBSnapshotIdentifier is required unless SkipFinalSnapshot is specified.'
        : 'This endpoint keeps no snapshots, so it cannot take a final one: set SkipFinalSnapshot=true.',
    )
  }

  const engine = findCluster(registry, identifier)
  const record = registry.catalog.ensureCluster(identifier)
  if (record.deletionProtection) {
    throw new BacktrackError(
      'InvalidParameterCombination',
      'Cannot delete protected Cluster, please disable deletion protection and try again.',
    )
  }
  if (registry.catalog.instances(identifier).some((instance) => instance.status !== 'deleting')) {
    throw new BacktrackError(
      'InvalidDBClusterStateFault',
      'Cluster cannot be deleted, it still contains DB instances in non-deleting state.',
    )
  }
  const before = await describeWithExtras(registry, engine, region)
  const deleted: DBCluster = await registry.delete(identifier)
  const members = dbClusterMembers(deleted, region, {
    record: before.record,
    instances: [],
    systemTags: [SIMULATED_CLUSTER_TAG],
  })
  registry.catalog.removeCluster(identifier)
  return [el('DBCluster', members)]
}

const describeEvents: ActionHandler = async (params, { registry, now }) => {
  const sourceIdentifier = params.optionalString('SourceIdentifier')?.toLowerCase()
  const sourceType = params.optionalString('SourceType')
  if (sourceType !== undefined && !EVENT_SOURCE_TYPES.includes(sourceType)) {
    throw invalidValue('SourceType', sourceType, `expected one of ${EVENT_SOURCE_TYPES.join(', ')}`)
  }
  const startTime = params.optionalTime('StartTime')
  const endTime = params.optionalTime('EndTime') ?? now()
  const duration = params.optionalInteger('Duration')
  if (duration !== undefined && duration < 0) {
    throw invalidValue('Duration', String(duration), 'expected a number of minutes, 0 or more')
  }
  const categories = params.list('EventCategories', 'EventCategory').map((category) => category.toLowerCase())
  validateFilters(params.filters(), [])
  const pageSize = validateMaxRecords(params.optionalInteger('MaxRecords'))
  const marker = params.optionalString('Marker')

  const from = startTime ?? new Date(endTime.getTime() - (duration ?? DEFAULT_EVENT_MINUTES) * 60_000)
  const events =
    from > endTime
      ? []
      : registry
          .events({
            startTime: from,
            endTime,
            ...(sourceIdentifier === undefined ? {} : { sourceIdentifier }),
            ...(sourceType === undefined ? {} : { sourceType }),
            ...(categories.length === 0 ? {} : { eventCategories: categories }),
          })
          .sort((a, b) => a.Date.getTime() - b.Date.getTime())
  const result = pageItems(events, pageSize, marker)
  return [xmlList('Events', 'Event', result.page, eventMembers), el('Marker', result.marker)]
}

const describeEventCategories: ActionHandler = async (params) => {
  const sourceType = params.optionalString('SourceType')
  if (sourceType !== undefined && !EVENT_SOURCE_TYPES.includes(sourceType)) {
    throw invalidValue('SourceType', sourceType, `expected one of ${EVENT_SOURCE_TYPES.join(', ')}`)
  }
  validateFilters(params.filters(), [])
  const types = Object.keys(EVENT_CATEGORIES).filter((type) => sourceType === undefined || type === sourceType)
  return [
    xmlList('EventCategoriesMapList', 'EventCategoriesMap', types, (type) => [
      el('SourceType', type),
      xmlList('EventCategories', 'EventCategory', EVENT_CATEGORIES[type]!, (category) => category),
    ]),
  ]
}

// Tags

const addTagsToResource: ActionHandler = async (params, { registry }) => {
  const arn = params.requiredString('ResourceName')
  const tags = readTags(params)
  if (tags.length === 0) throw new BacktrackError('MissingParameter', 'The request must contain the parameter Tags')
  tagOwner(registry, arn)
  registry.catalog.addTags(tagOwnerRecord(registry, arn), tags)
  return undefined
}

const removeTagsFromResource: ActionHandler = async (params, { registry }) => {
  const arn = params.requiredString('ResourceName')
  const keys = params.list('TagKeys', 'member')
  if (keys.length === 0) throw new BacktrackError('MissingParameter', 'The request must contain the parameter TagKeys')
  for (const key of keys) checkTagKey(key, 'TagKeys.member.N')
  tagOwner(registry, arn)
  registry.catalog.removeTags(tagOwnerRecord(registry, arn), keys)
  return undefined
}

const listTagsForResource: ActionHandler = async (params, { registry }) => {
  const arn = params.requiredString('ResourceName')
  validateFilters(params.filters(), [])
  const owner = tagOwner(registry, arn)
  return [
    xmlList('TagList', 'Tag', [...owner.system, ...owner.tags], (tag) => [el('Key', tag.Key), el('Value', tag.Value)]),
  ]
}

// Instances

async function instanceElements(
  registry: ClusterRegistry,
  region: string,
  instances: readonly InstanceRecord[],
): Promise<XmlElement[][]> {
  const clusters = new Map<string, DBCluster | undefined>()
  for (const instance of instances) {
    if (!clusters.has(instance.clusterIdentifier)) {
      clusters.set(instance.clusterIdentifier, await registry.get(instance.clusterIdentifier)?.describeCluster())
    }
  }
  return instances.map((instance) => {
    const cluster = clusters.get(instance.clusterIdentifier)
    return dbInstanceMembers(instance, cluster, region, {
      engineVersion:
        registry.catalog.cluster(instance.clusterIdentifier)?.engineVersion ??
        cluster?.EngineVersion ??
        '8.0.mysql_aurora.3.08.0',
      systemTags: [SIMULATED_CLUSTER_TAG],
    })
  })
}

const describeDBInstances: ActionHandler = async (params, { registry, region }) => {
  const raw = params.optionalString('DBInstanceIdentifier')
  const fromArn = raw === undefined ? null : ARN.exec(raw)
  const wanted =
    raw === undefined
      ? undefined
      : resourceIdentifier(fromArn?.[3] === 'db' ? fromArn[4]! : raw, 'DBInstanceIdentifier')
  const filters = params.filters()
  validateFilters(filters, INSTANCE_FILTER_NAMES)
  const pageSize = validateMaxRecords(params.optionalInteger('MaxRecords'))
  const marker = params.optionalString('Marker')

  const all = wanted === undefined ? registry.catalog.instances() : [findInstance(registry, wanted)]
  const elements = await instanceElements(registry, region, all)
  const value = memberText
  const selected = all
    .map((instance, i) => ({ instance, members: elements[i]! }))
    .filter(({ instance, members }) =>
      filters.every((filter) =>
        filter.values.some((wantedValue) => {
          switch (filter.name) {
            case 'db-cluster-id':
              return (ARN.exec(wantedValue)?.[4] ?? wantedValue.toLowerCase()) === instance.clusterIdentifier
            case 'db-instance-id':
              return (ARN.exec(wantedValue)?.[4] ?? wantedValue.toLowerCase()) === instance.identifier
            case 'dbi-resource-id':
              return wantedValue === value(members, 'DbiResourceId')
            case 'engine':
              return wantedValue.toLowerCase() === 'aurora-mysql'
            default:
              return false // domain: no instance here is in a directory domain
          }
        }),
      ),
    )
  const result = pageItems(selected, pageSize, marker)
  return [xmlList('DBInstances', 'DBInstance', result.page, (item) => item.members), el('Marker', result.marker)]
}

/** CreateDBInstance members that belong to the cluster in Aurora (or to other engines): refused by name. */
const INSTANCE_REFUSED = [
  'AllocatedStorage',
  'MasterUsername',
  'MasterUserPassword',
  'DBSecurityGroups',
  'VpcSecurityGroupIds',
  'BackupRetentionPeriod',
  'PreferredBackupWindow',
  'Port',
  'MultiAZ',
  'Iops',
  'CharacterSetName',
  'NcharCharacterSetName',
  'StorageType',
  'TdeCredentialArn',
  'TdeCredentialPassword',
  'StorageEncrypted',
  'KmsKeyId',
  'Domain',
  'DomainIAMRoleName',
  'EnableIAMDatabaseAuthentication',
  'EnableCloudwatchLogsExports',
  'ProcessorFeatures',
  'DeletionProtection',
  'MaxAllocatedStorage',
  'EnableCustomerOwnedIp',
  'CustomIamInstanceProfile',
  'BackupTarget',
  'StorageThroughput',
  'ManageMasterUserPassword',
  'DBName',
]

const createDBInstance: ActionHandler = async (params, { registry, region }) => {
  const identifier = resourceIdentifier(params.requiredString('DBInstanceIdentifier'), 'DBInstanceIdentifier')
  const instanceClass = params.requiredString('DBInstanceClass')
  const engineName = params.requiredString('Engine').toLowerCase()
  if (!INSTANCE_CLASS.test(instanceClass)) {
    throw invalidValue('DBInstanceClass', instanceClass, 'an instance class such as db.r6g.large or db.t3.medium')
  }
  const rawCluster = params.optionalString('DBClusterIdentifier')
  if (engineName !== 'aurora-mysql') {
    throw new BacktrackError(
      'InvalidParameterValue',
      `Invalid DB engine: ${engineName}. This endpoint simulates aurora-mysql clusters and their instances only.`,
    )
  }
  if (rawCluster === undefined) {
    throw new BacktrackError(
      'InvalidParameterValue',
      'The parameter DBClusterIdentifier must be provided for an aurora-mysql DB instance: create the cluster first, then its instances.',
    )
  }
  refuseMembers(
    params,
    'CreateDBInstance',
    INSTANCE_REFUSED,
    'an Aurora instance takes it from its DB cluster, so set it there',
  )
  const clusterId = clusterIdentifier(rawCluster, false)
  const promotionTier = params.optionalInteger('PromotionTier') ?? 1
  if (promotionTier < 0 || promotionTier > 15) {
    throw invalidValue('PromotionTier', String(promotionTier), 'a number from 0 to 15')
  }
  const availabilityZone = params.optionalString('AvailabilityZone') ?? `${region}a`
  if (!availabilityZone.startsWith(region) || !/^[a-z0-9-]+[a-z]$/.test(availabilityZone)) {
    throw invalidValue('AvailabilityZone', availabilityZone, `an availability zone of ${region}, e.g. ${region}a`)
  }
  const engineVersion = readEngineVersion(params)
  const tags = readTags(params)
  const autoMinorVersionUpgrade = params.optionalBoolean('AutoMinorVersionUpgrade') ?? true
  const publiclyAccessible = params.optionalBoolean('PubliclyAccessible') ?? false
  for (const name of [
    'DBSubnetGroupName',
    'DBParameterGroupName',
    'PreferredMaintenanceWindow',
    'MonitoringRoleArn',
    'PerformanceInsightsKMSKeyId',
    'CACertificateIdentifier',
    'NetworkType',
  ]) {
    params.optionalString(name)
  }
  params.optionalInteger('MonitoringInterval')
  params.optionalInteger('PerformanceInsightsRetentionPeriod')
  params.optionalBoolean('EnablePerformanceInsights')
  params.optionalBoolean('CopyTagsToSnapshot')

  const engine = findCluster(registry, clusterId)
  if (registry.catalog.instance(identifier) !== undefined) {
    throw new BacktrackError('DBInstanceAlreadyExists', 'DB instance already exists')
  }
  const cluster = await engine.describeCluster()
  const clusterVersion = registry.catalog.ensureCluster(clusterId).engineVersion ?? cluster.EngineVersion
  if (engineVersion !== undefined && engineVersion !== clusterVersion) {
    throw new BacktrackError(
      'InvalidParameterCombination',
      `The engine version you requested for your DB instance (${engineVersion}) does not match the engine version of your DB cluster (${clusterVersion}).`,
    )
  }
  if (cluster.Status === 'deleting') {
    throw new BacktrackError('InvalidDBClusterStateFault', `DB cluster ${clusterId} is being deleted.`)
  }
  const instance = await registry
    .createInstance({
      identifier,
      clusterIdentifier: clusterId,
      instanceClass,
      availabilityZone,
      promotionTier,
      tags,
      autoMinorVersionUpgrade,
      publiclyAccessible,
    })
    .catch((error: unknown) => asRdsFault(error, 'InsufficientDBInstanceCapacity'))
  const [members] = await instanceElements(registry, region, [instance])
  // RDS answers a create with the instance as it starts: `creating`, whatever happens next.
  const creating = members!.map((member) =>
    member.name === 'DBInstanceStatus' ? el('DBInstanceStatus', 'creating') : member,
  )
  return [el('DBInstance', creating)]
}

const deleteDBInstance: ActionHandler = async (params, { registry, region }) => {
  const identifier = resourceIdentifier(params.requiredString('DBInstanceIdentifier'), 'DBInstanceIdentifier')
  params.optionalBoolean('SkipFinalSnapshot')
  params.optionalBoolean('DeleteAutomatedBackups')
  if (params.optionalString('FinalDBSnapshotIdentifier') !== undefined) {
    throw new BacktrackError(
      'InvalidParameterCombination',
      'FinalDBSnapshotIdentifier can not be specified when deleting a DB instance of a DB cluster: its data lives in the cluster.',
    )
  }
  const instance = findInstance(registry, identifier)
  if (instance.status === 'deleting') {
    throw new BacktrackError('InvalidDBInstanceState', `DB instance ${identifier} is already being deleted.`)
  }
  const cluster = await registry.get(instance.clusterIdentifier)?.describeCluster()
  if (cluster?.Status === 'backtracking') {
    throw new BacktrackError(
      'InvalidDBClusterStateFault',
      `DB cluster ${instance.clusterIdentifier} is backtracking; delete its instances once it is available.`,
    )
  }
  const deleted = await registry.deleteInstance(identifier)
  const [members] = await instanceElements(registry, region, [{ ...deleted, status: 'deleting' }])
  return [el('DBInstance', members)]
}

// Point-in-time restore

/** RestoreDBClusterToPointInTime members that ask for another kind of cluster; network placement is accepted. */
const RESTORE_REFUSED = [
  'ScalingConfiguration',
  'ServerlessV2ScalingConfiguration',
  'RdsCustomClusterConfiguration',
  'SourceDbClusterResourceId',
  'DBClusterInstanceClass',
  'Iops',
]

const restoreDBClusterToPointInTime: ActionHandler = async (params, { registry, region, now }) => {
  const identifier = clusterIdentifier(params.requiredString('DBClusterIdentifier'), false)
  const sourceId = clusterIdentifier(params.requiredString('SourceDBClusterIdentifier'), true)
  const restoreType = params.optionalString('RestoreType') ?? 'full-copy'
  if (restoreType !== 'full-copy' && restoreType !== 'copy-on-write') {
    throw invalidValue('RestoreType', restoreType, 'full-copy or copy-on-write')
  }
  const restoreToTime = params.optionalTime('RestoreToTime')
  const useLatest = params.optionalBoolean('UseLatestRestorableTime') ?? false
  if (restoreToTime !== undefined && useLatest) {
    throw new BacktrackError(
      'InvalidParameterCombination',
      'Cannot specify both RestoreToTime and UseLatestRestorableTime.',
    )
  }
  if (restoreToTime === undefined && !useLatest) {
    throw new BacktrackError(
      'InvalidParameterCombination',
      'Either RestoreToTime or UseLatestRestorableTime must be specified.',
    )
  }
  const window = params.optionalInteger('BacktrackWindow')
  if (window !== undefined) validateBacktrackWindow(window)
  const port = readPort(params)
  const tags = readTags(params)
  refuseMembers(
    params,
    'RestoreDBClusterToPointInTime',
    RESTORE_REFUSED,
    'a local cluster is one provisioned Aurora MySQL cluster',
  )
  const engineMode = params.optionalString('EngineMode')
  if (engineMode !== undefined && engineMode !== 'provisioned') {
    throw new BacktrackError(
      'InvalidParameterCombination',
      `EngineMode ${engineMode} is not supported by this endpoint (a local simulator): use provisioned.`,
    )
  }
  if (params.optionalBoolean('EnableIAMDatabaseAuthentication') === true) {
    throw new BacktrackError(
      'InvalidParameterCombination',
      'EnableIAMDatabaseAuthentication is not supported by this endpoint (a local simulator): log in with the master user.',
    )
  }
  const windows = readWindows(params)

  const source = findCluster(registry, sourceId)
  if (registry.get(identifier) !== undefined) {
    throw new BacktrackError('DBClusterAlreadyExistsFault', 'DB Cluster already exists')
  }
  const described = await source.describeCluster()
  if (described.Status !== 'available' && described.Status !== 'backtracking') {
    throw new BacktrackError(
      'InvalidDBClusterStateFault',
      `DB cluster ${sourceId} is ${described.Status}; it can be restored from once it is available.`,
    )
  }
  const latest = described.LatestRestorableTime ?? now()
  const earliest = described.EarliestRestorableTime ?? described.ClusterCreateTime
  const restoreTo = restoreToTime ?? latest
  if (restoreTo > latest || restoreTo < earliest) {
    throw new BacktrackError(
      'InvalidRestoreFault',
      `The restore time ${formatRdsTime(restoreTo)} is outside the restorable window of DB cluster ${sourceId}: ` +
        `${formatRdsTime(earliest)} to ${formatRdsTime(latest)}.`,
    )
  }
  const engine = await registry
    .restore({
      identifier,
      sourceIdentifier: sourceId,
      restoreTo,
      restoreType,
      backtrackWindow: window ?? 0,
      ...(port === undefined ? {} : { port }),
      tags,
    })
    .catch((error: unknown) => asRdsFault(error, 'InsufficientStorageClusterCapacity'))
  const sourceRecord = registry.catalog.ensureCluster(sourceId)
  registry.catalog.updateCluster(identifier, {
    ...windows,
    ...(sourceRecord.engineVersion === undefined ? {} : { engineVersion: sourceRecord.engineVersion }),
  })
  return [await clusterElement(registry, engine, region)]
}

/** The actions the endpoint serves, by their Query-protocol `Action` name. */
export const RDS_ACTIONS: Readonly<Record<string, ActionHandler>> = {
  AddTagsToResource: addTagsToResource,
  BacktrackDBCluster: backtrackDBCluster,
  CreateDBCluster: createDBCluster,
  CreateDBInstance: createDBInstance,
  DeleteDBCluster: deleteDBCluster,
  DeleteDBInstance: deleteDBInstance,
  DescribeDBClusterBacktracks: describeDBClusterBacktracks,
  DescribeDBClusters: describeDBClusters,
  DescribeDBInstances: describeDBInstances,
  DescribeEventCategories: describeEventCategories,
  DescribeEvents: describeEvents,
  ListTagsForResource: listTagsForResource,
  ModifyDBCluster: modifyDBCluster,
  RemoveTagsFromResource: removeTagsFromResource,
  RestoreDBClusterToPointInTime: restoreDBClusterToPointInTime,
}
