import { BacktrackError } from '@backtrack/core'
import type { DocumentInput } from './document-input.js'
import {
  sameDimensions,
  type Dimension,
  type MetricDescriptor,
  type MetricPoint,
  type MetricSource,
} from './metric-source.js'

/** The CloudWatch API version the endpoint speaks, and its Query-protocol XML namespace. */
export const CLOUDWATCH_API_VERSION = '2010-08-01'
export const CLOUDWATCH_XMLNS = `http://monitoring.amazonaws.com/doc/${CLOUDWATCH_API_VERSION}/`
/** The JSON protocol's `X-Amz-Target` prefix and the Smithy service name of CloudWatch. */
export const CLOUDWATCH_TARGET_PREFIX = 'GraniteServiceVersion20100801'

/**
 * A response document: member names are the model's, lists are arrays, times are `Date`s, and a `Map` is a CloudWatch
 * map (`ExtendedStatistics`). Each wire protocol renders it its own way.
 */
export type CloudWatchDocument = { [member: string]: CloudWatchValue }
export type CloudWatchValue =
  string | number | boolean | Date | CloudWatchDocument | CloudWatchValue[] | Map<string, number> | undefined

type CloudWatchAction = (input: DocumentInput, source: MetricSource, now: Date) => CloudWatchDocument

const STATISTICS = ['SampleCount', 'Average', 'Sum', 'Minimum', 'Maximum'] as const
type Statistic = (typeof STATISTICS)[number]
const PERCENTILE = /^p(\d{1,2}(\.\d{1,2})?|100)$/
const MAX_DATAPOINTS = 1440
const LIST_PAGE = 500
const METRIC_ID = /^[a-z][a-zA-Z0-9_]*$/

function invalidValue(message: string): BacktrackError {
  return new BacktrackError('InvalidParameterValue', message)
}

function readDimensions(
  input: DocumentInput,
  member: string,
  valueRequired: boolean,
): { Name: string; Value?: string }[] {
  return input.structs(member, 30).map((dimension) => {
    const name = dimension.string('Name', { required: true, max: 255 })
    const value = valueRequired
      ? dimension.string('Value', { required: true, max: 1024 })
      : dimension.string('Value', { max: 1024 })
    return value === undefined ? { Name: name } : { Name: name, Value: value }
  })
}

function readMetric(input: DocumentInput): { namespace: string; metricName: string; dimensions: Dimension[] } {
  return {
    namespace: input.string('Namespace', { required: true, max: 255 }),
    metricName: input.string('MetricName', { required: true, max: 255 }),
    dimensions: readDimensions(input, 'Dimensions', true) as Dimension[],
  }
}

function findMetric(
  source: MetricSource,
  wanted: { namespace: string; metricName: string; dimensions: Dimension[] },
): MetricDescriptor | undefined {
  return source
    .metrics()
    .find(
      (metric) =>
        metric.Namespace === wanted.namespace &&
        metric.MetricName === wanted.metricName &&
        sameDimensions(metric.Dimensions, wanted.dimensions),
    )
}

function readPeriod(input: DocumentInput, member: string, required: boolean): number | undefined {
  const period = required ? input.integer(member, { required: true }) : input.integer(member)
  if (period === undefined) return undefined
  // CloudWatch: 1, 5, 10, 30 (high resolution) or any multiple of 60 seconds.
  if (period < 1 || (period % 60 !== 0 && ![1, 5, 10, 30].includes(period))) {
    throw invalidValue(`The parameter ${member} must be 1, 5, 10, 30, or a multiple of 60 seconds, not ${period}.`)
  }
  return period
}

function readRange(input: DocumentInput): { start: Date; end: Date } {
  const start = input.time('StartTime', { required: true })
  const end = input.time('EndTime', { required: true })
  if (start >= end) throw invalidValue('The parameter StartTime must be less than the parameter EndTime.')
  return { start, end }
}

/** The points of one metric grouped into periods aligned to the epoch, oldest first. */
function buckets(points: readonly MetricPoint[], period: number): { start: Date; values: number[] }[] {
  const byStart = new Map<number, number[]>()
  for (const point of points) {
    const start = Math.floor(point.timestamp.getTime() / (period * 1000)) * period * 1000
    let values = byStart.get(start)
    if (values === undefined) byStart.set(start, (values = []))
    values.push(point.value)
  }
  return [...byStart.entries()]
    .sort((a, b) => a[0] - b[0])
    .map(([start, values]) => ({ start: new Date(start), values }))
}

function statistic(values: readonly number[], stat: string): number {
  switch (stat as Statistic) {
    case 'SampleCount':
      return values.length
    case 'Sum':
      return values.reduce((sum, value) => sum + value, 0)
    case 'Average':
      return values.reduce((sum, value) => sum + value, 0) / values.length
    case 'Minimum':
      return Math.min(...values)
    case 'Maximum':
      return Math.max(...values)
  }
  // A percentile (nearest rank).
  const percent = Number(stat.slice(1))
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((percent / 100) * sorted.length) - 1))]!
}

function checkDatapointCount(start: Date, end: Date, period: number): void {
  const count = Math.ceil((end.getTime() - start.getTime()) / (period * 1000))
  if (count > MAX_DATAPOINTS) {
    throw new BacktrackError(
      'InvalidParameterCombination',
      `You have requested up to ${count} datapoints, which exceeds the limit of ${MAX_DATAPOINTS}. You may reduce the datapoints requested by increasing Period, or decreasing the time range.`,
    )
  }
}

const listMetrics: CloudWatchAction = (input, source, now) => {
  const namespace = input.string('Namespace', { max: 255 })
  const metricName = input.string('MetricName', { max: 255 })
  const filters = readDimensions(input, 'Dimensions', false)
  const recentlyActive = input.string('RecentlyActive')
  if (recentlyActive !== undefined && recentlyActive !== 'PT3H') {
    throw invalidValue(`The parameter RecentlyActive must be PT3H, not ${recentlyActive}.`)
  }
  input.boolean('IncludeLinkedAccounts')
  input.string('OwningAccount')
  const token = input.string('NextToken')
  const metrics = source
    .metrics()
    .filter(
      (metric) =>
        (namespace === undefined || metric.Namespace === namespace) &&
        (metricName === undefined || metric.MetricName === metricName) &&
        filters.every((filter) =>
          metric.Dimensions.some(
            (dimension) =>
              dimension.Name === filter.Name && (filter.Value === undefined || dimension.Value === filter.Value),
          ),
        ) &&
        (recentlyActive === undefined ||
          source.points(metric, new Date(now.getTime() - 3 * 3600_000), new Date(now.getTime() + 1)).length > 0),
    )
  let start = 0
  if (token !== undefined) {
    const decoded = Buffer.from(token, 'base64url').toString('utf8')
    start = /^list:\d{1,9}$/.test(decoded) ? Number(decoded.slice(5)) : -1
    if (start < 0 || start > metrics.length) throw invalidValue(`The NextToken "${token}" is not valid.`)
  }
  const page = metrics.slice(start, start + LIST_PAGE)
  const next =
    start + LIST_PAGE < metrics.length ? Buffer.from(`list:${start + LIST_PAGE}`).toString('base64url') : undefined
  return {
    Metrics: page.map((metric) => ({
      Namespace: metric.Namespace,
      MetricName: metric.MetricName,
      Dimensions: metric.Dimensions.map((dimension) => ({ Name: dimension.Name, Value: dimension.Value })),
    })),
    NextToken: next,
  }
}

const getMetricStatistics: CloudWatchAction = (input, source) => {
  const wanted = readMetric(input)
  const { start, end } = readRange(input)
  const period = readPeriod(input, 'Period', true)!
  const statistics = input.strings('Statistics', 5)
  const extended = input.strings('ExtendedStatistics', 10)
  const unit = input.string('Unit')
  for (const stat of statistics) {
    if (!(STATISTICS as readonly string[]).includes(stat)) {
      throw invalidValue(`The parameter Statistics contains ${stat}; valid values are ${STATISTICS.join(', ')}.`)
    }
  }
  for (const stat of extended) {
    if (!PERCENTILE.test(stat))
      throw invalidValue(`The parameter ExtendedStatistics contains ${stat}; use p0.0 to p100.`)
  }
  if ((statistics.length === 0) === (extended.length === 0)) {
    throw new BacktrackError(
      'InvalidParameterCombination',
      'Must specify either Statistics or ExtendedStatistics, but not both.',
    )
  }
  checkDatapointCount(start, end, period)
  const metric = findMetric(source, wanted)
  const points =
    metric === undefined || (unit !== undefined && unit !== metric.Unit) ? [] : source.points(metric, start, end)
  return {
    Label: wanted.metricName,
    Datapoints: buckets(points, period).map(({ start: timestamp, values }) => {
      const datapoint: CloudWatchDocument = { Timestamp: timestamp }
      for (const stat of statistics) datapoint[stat] = statistic(values, stat)
      if (extended.length > 0)
        datapoint['ExtendedStatistics'] = new Map(extended.map((stat) => [stat, statistic(values, stat)]))
      datapoint['Unit'] = metric!.Unit
      return datapoint
    }),
  }
}

const getMetricData: CloudWatchAction = (input, source) => {
  const queries = input.structs('MetricDataQueries', 500)
  if (queries.length === 0) throw new BacktrackError('MissingParameter', 'The parameter MetricDataQueries is required.')
  const { start, end } = readRange(input)
  const token = input.string('NextToken')
  if (token !== undefined) {
    throw new BacktrackError(
      'InvalidNextToken',
      `The NextToken "${token}" is not valid: this endpoint answers in one page.`,
    )
  }
  const scanBy = input.string('ScanBy') ?? 'TimestampDescending'
  if (scanBy !== 'TimestampDescending' && scanBy !== 'TimestampAscending') {
    throw invalidValue(`The parameter ScanBy must be TimestampDescending or TimestampAscending, not ${scanBy}.`)
  }
  const maxDatapoints = input.integer('MaxDatapoints', { min: 1 })
  input.struct('LabelOptions')?.string('Timezone')
  const ids = new Set<string>()
  const parsed = queries.map((query, index) => {
    const id = query.string('Id', { required: true, max: 255 })
    if (!METRIC_ID.test(id)) {
      throw invalidValue(
        `The value ${id} for parameter MetricDataQueries.member.${index + 1}.Id is invalid: it must start with a lower-case letter and hold only letters, digits and underscores.`,
      )
    }
    if (ids.has(id)) throw invalidValue(`The Id ${id} is used by more than one MetricDataQuery.`)
    ids.add(id)
    if (query.string('Expression') !== undefined) {
      throw invalidValue(
        `MetricDataQueries.member.${index + 1} (${id}) is a metric math expression, which this endpoint does not evaluate; use MetricStat.`,
      )
    }
    const stat = query.struct('MetricStat')
    if (stat === undefined) {
      throw new BacktrackError('MissingParameter', `MetricDataQueries.member.${index + 1} (${id}) needs a MetricStat.`)
    }
    const metric = stat.struct('Metric')
    if (metric === undefined) {
      throw new BacktrackError(
        'MissingParameter',
        `The parameter MetricDataQueries.member.${index + 1}.MetricStat.Metric is required.`,
      )
    }
    const wanted = readMetric(metric)
    const period = readPeriod(stat, 'Period', true)!
    const statName = stat.string('Stat', { required: true })
    if (!(STATISTICS as readonly string[]).includes(statName) && !PERCENTILE.test(statName)) {
      throw invalidValue(`The Stat ${statName} is not valid; use ${STATISTICS.join(', ')} or a percentile (p99).`)
    }
    const unit = stat.string('Unit')
    query.integer('Period')
    query.string('AccountId')
    return {
      id,
      wanted,
      period,
      statName,
      unit,
      label: query.string('Label'),
      returnData: query.boolean('ReturnData') ?? true,
    }
  })
  const results = parsed
    .filter((query) => query.returnData)
    .map((query) => {
      checkDatapointCount(start, end, query.period)
      const metric = findMetric(source, query.wanted)
      const points =
        metric === undefined || (query.unit !== undefined && query.unit !== metric.Unit)
          ? []
          : source.points(metric, start, end)
      let values = buckets(points, query.period).map(({ start: timestamp, values: samples }) => ({
        timestamp,
        value: statistic(samples, query.statName),
      }))
      if (scanBy === 'TimestampDescending') values = values.reverse()
      if (maxDatapoints !== undefined) values = values.slice(0, maxDatapoints)
      return {
        Id: query.id,
        Label: query.label ?? query.wanted.metricName,
        Timestamps: values.map((value) => value.timestamp),
        Values: values.map((value) => value.value),
        StatusCode: 'Complete',
      }
    })
  return { MetricDataResults: results, Messages: [] }
}

/** The CloudWatch operations the endpoint serves, by name. */
export const CLOUDWATCH_ACTIONS: Readonly<Record<string, CloudWatchAction>> = {
  GetMetricData: getMetricData,
  GetMetricStatistics: getMetricStatistics,
  ListMetrics: listMetrics,
}
