import {
  BACKTRACK_FILTER_NAMES,
  BacktrackError,
  backtrackNotFound,
  clusterNotFound,
  normalizeClusterIdentifier,
  pageItems,
  validateBacktrackIdentifier,
  validateBacktrackWindow,
  validateFilters,
  validateMaxRecords,
  type BacktrackEngine,
  type BacktrackFilter,
  type BacktrackFilterName,
} from '@backtrack/core'
import type { ClusterRegistry } from './cluster-registry.js'
import { invalidValue, type QueryFilter, type QueryParams } from './query-params.js'
import { dbClusterBacktrackMembers, dbClusterMembers, eventMembers } from './rds-shapes.js'
import { el, xmlList, type XmlElement } from './xml.js'

/** What every action handler gets besides its parameters. */
export interface ActionContext {
  registry: ClusterRegistry
  region: string
  now: () => Date
}

/** Reads and validates every parameter first (so bad input changes nothing), then acts; returns `<XResult>`'s members. */
type ActionHandler = (params: QueryParams, context: ActionContext) => Promise<XmlElement[]>

const CLUSTER_ARN = /^arn:aws[a-z-]*:rds:[a-z0-9-]+:\d{12}:cluster:(.+)$/
const CLUSTER_FILTER_NAMES = ['clone-group-id', 'db-cluster-id', 'db-cluster-resource-id', 'domain', 'engine']
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
]
const DEFAULT_EVENT_MINUTES = 60

/** A cluster identifier, or the cluster's ARN where RDS takes one (DescribeDBClusters), lower-cased. */
function clusterIdentifier(value: string, acceptArn: boolean): string {
  const fromArn = acceptArn ? CLUSTER_ARN.exec(value)?.[1] : undefined
  return normalizeClusterIdentifier(fromArn ?? value)
}

function findCluster(registry: ClusterRegistry, identifier: string): BacktrackEngine {
  const engine = registry.get(identifier)
  if (engine === undefined) throw clusterNotFound(identifier)
  return engine
}

function isBacktrackFilter(filter: QueryFilter): filter is BacktrackFilter {
  return (BACKTRACK_FILTER_NAMES as readonly string[]).includes(filter.name as BacktrackFilterName)
}

const describeDBClusters: ActionHandler = async (params, { registry, region }) => {
  const identifier = params.optionalString('DBClusterIdentifier')
  const wanted = identifier === undefined ? undefined : clusterIdentifier(identifier, true)
  const filters = params.filters()
  validateFilters(filters, CLUSTER_FILTER_NAMES)
  const idFilters = filters
    .filter((filter) => filter.name === 'db-cluster-id')
    .map((filter) => new Set(filter.values.map((value) => CLUSTER_ARN.exec(value)?.[1] ?? value.toLowerCase())))
  const engineFilters = filters
    .filter((filter) => filter.name === 'engine')
    .map((filter) => new Set(filter.values.map((value) => value.toLowerCase())))
  const pageSize = validateMaxRecords(params.optionalInteger('MaxRecords'))
  const marker = params.optionalString('Marker')

  const engines = wanted === undefined ? registry.list() : [findCluster(registry, wanted)]
  const clusters = (await Promise.all(engines.map((engine) => engine.describeCluster()))).filter(
    (cluster) =>
      idFilters.every((ids) => ids.has(cluster.DBClusterIdentifier)) &&
      engineFilters.every((names) => names.has(cluster.Engine.toLowerCase())),
  )
  const result = pageItems(clusters, pageSize, marker)
  return [
    xmlList('DBClusters', 'DBCluster', result.page, (cluster) => dbClusterMembers(cluster, region)),
    el('Marker', result.marker),
  ]
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

const modifyDBCluster: ActionHandler = async (params, { registry, region }) => {
  const identifier = clusterIdentifier(params.requiredString('DBClusterIdentifier'), false)
  const window = params.optionalInteger('BacktrackWindow')
  if (window !== undefined) validateBacktrackWindow(window)
  // Accepted for compatibility: the simulator applies every change immediately.
  params.optionalBoolean('ApplyImmediately')

  const engine = findCluster(registry, identifier)
  const cluster = window === undefined ? await engine.describeCluster() : await engine.modifyBacktrackWindow(window)
  return [el('DBCluster', dbClusterMembers(cluster, region))]
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
  const masterUsername = params.optionalString('MasterUsername')
  const masterUserPassword = params.optionalString('MasterUserPassword')
  const databaseName = params.optionalString('DatabaseName')
  if (registry.get(identifier) !== undefined) {
    throw new BacktrackError('DBClusterAlreadyExistsFault', 'DB Cluster already exists')
  }

  const engine = await registry.create({
    identifier,
    engine: 'aurora-mysql',
    backtrackWindow: window ?? 0,
    ...(masterUsername === undefined ? {} : { masterUsername }),
    ...(masterUserPassword === undefined ? {} : { masterUserPassword }),
    ...(databaseName === undefined ? {} : { databaseName }),
  })
  return [el('DBCluster', dbClusterMembers(await engine.describeCluster(), region))]
}

const deleteDBCluster: ActionHandler = async (params, { registry, region }) => {
  const identifier = clusterIdentifier(params.requiredString('DBClusterIdentifier'), false)
  const skipFinalSnapshot = params.optionalBoolean('SkipFinalSnapshot') ?? false
  const finalSnapshot = params.optionalString('FinalDBSnapshotIdentifier')
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

  findCluster(registry, identifier)
  return [el('DBCluster', dbClusterMembers(await registry.delete(identifier), region))]
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
  const pageSize = validateMaxRecords(params.optionalInteger('MaxRecords'))
  const marker = params.optionalString('Marker')

  const from = startTime ?? new Date(endTime.getTime() - (duration ?? DEFAULT_EVENT_MINUTES) * 60_000)
  const events =
    (sourceType !== undefined && sourceType !== 'db-cluster') || from > endTime
      ? []
      : registry
          .events({
            startTime: from,
            endTime,
            ...(sourceIdentifier === undefined ? {} : { sourceIdentifier }),
            ...(categories.length === 0 ? {} : { eventCategories: categories }),
          })
          .sort((a, b) => a.Date.getTime() - b.Date.getTime())
  const result = pageItems(events, pageSize, marker)
  return [xmlList('Events', 'Event', result.page, eventMembers), el('Marker', result.marker)]
}

/** The actions the endpoint serves, by their Query-protocol `Action` name. */
export const RDS_ACTIONS: Readonly<Record<string, ActionHandler>> = {
  BacktrackDBCluster: backtrackDBCluster,
  CreateDBCluster: createDBCluster,
  DeleteDBCluster: deleteDBCluster,
  DescribeDBClusterBacktracks: describeDBClusterBacktracks,
  DescribeDBClusters: describeDBClusters,
  DescribeEvents: describeEvents,
  ModifyDBCluster: modifyDBCluster,
}
