/** A CloudWatch dimension: `{ Name: 'DBClusterIdentifier', Value: 'labstack-cluster' }`. */
export interface Dimension {
  Name: string
  Value: string
}

/** One metric the endpoint has data for. */
export interface MetricDescriptor {
  Namespace: string
  MetricName: string
  Dimensions: Dimension[]
  /** A CloudWatch `StandardUnit`. */
  Unit: string
}

/** One data point of one metric. */
export interface MetricPoint {
  timestamp: Date
  value: number
}

/** The metrics one endpoint serves through CloudWatch's `ListMetrics`, `GetMetricStatistics` and `GetMetricData`. */
export interface MetricSource {
  /** Every metric with data, in a stable order. */
  metrics(): MetricDescriptor[]
  /** The data points of `metric` taken in [start, end), oldest first. */
  points(metric: MetricDescriptor, start: Date, end: Date): MetricPoint[]
}

/** Whether two dimension sets are the same set (CloudWatch matches a metric by all of its dimensions). */
export function sameDimensions(a: readonly Dimension[], b: readonly Dimension[]): boolean {
  if (a.length !== b.length) return false
  return a.every((dimension) => b.some((other) => other.Name === dimension.Name && other.Value === dimension.Value))
}
