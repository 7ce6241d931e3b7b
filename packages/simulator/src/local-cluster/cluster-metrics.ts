import { JsonLinesJournal } from './json-lines-journal.js'

/** CloudWatch keeps one-minute data points for 15 days. */
const RETENTION_MS = 15 * 24 * 3600_000
/** `BacktrackChangeRecordsCreationRate` counts the change records created over five minutes. */
const CREATION_RATE_SPAN_MS = 5 * 60_000

/**
 * Aurora's backtrack metrics (namespace `AWS/RDS`, dimension `DBClusterIdentifier`), with their CloudWatch units.
 * AWS documents BacktrackWindowActual in minutes, but CloudWatch's StandardUnit has no Minutes: its value is minutes,
 * its unit Count.
 */
export const BACKTRACK_METRICS = {
  BacktrackChangeRecordsCreationRate: 'Count',
  BacktrackChangeRecordsStored: 'Count',
  BacktrackWindowActual: 'Count',
  BacktrackWindowAlert: 'Count',
} as const

export type BacktrackMetricName = keyof typeof BACKTRACK_METRICS

/** One sample of a cluster's backtrack metrics. */
export interface MetricSample {
  /** When it was taken (ms since the epoch). */
  t: number
  /** Change records created since the previous sample. */
  created: number
  /** Change records stored (`BacktrackConsumedChangeRecords`). */
  stored: number
  /** How far back the cluster can be backtracked now, in minutes, at most the target window. */
  windowActualMinutes: number
  /** 1 when the actual window is smaller than the target one (history is missing that should be there). */
  alert: 0 | 1
}

/** What a sample is computed from. */
export interface MetricInputs {
  now: Date
  /** Change records created since the previous sample. */
  created: number
  stored: number
  /** Target window in seconds (0: backtracking disabled). */
  targetWindowSeconds: number
  earliestBacktrackTime?: Date
  clusterCreateTime: Date
}

/**
 * The actual window is how far back the log reaches (capped at the target). It falls short of the target only when
 * history is missing that should be there: a cluster younger than its window is not short of anything.
 */
export function sampleOf(inputs: MetricInputs): MetricSample {
  const now = inputs.now.getTime()
  const target = inputs.targetWindowSeconds * 1000
  if (target === 0 || inputs.earliestBacktrackTime === undefined) {
    return { t: now, created: inputs.created, stored: inputs.stored, windowActualMinutes: 0, alert: 0 }
  }
  const reach = Math.max(0, now - inputs.earliestBacktrackTime.getTime())
  const expected = Math.min(target, Math.max(0, now - inputs.clusterCreateTime.getTime()))
  return {
    t: now,
    created: inputs.created,
    stored: inputs.stored,
    windowActualMinutes: Math.min(target, reach) / 60_000,
    // A second of slack: the earliest time is rounded to the millisecond and moves in steps as the log is pruned.
    alert: reach + 1000 < expected ? 1 : 0,
  }
}

/** One data point of one metric. */
export interface MetricPoint {
  timestamp: Date
  value: number
}

/**
 * The backtrack metric samples of one cluster, kept in memory and appended to a JSON-lines file so restarts keep
 * them (15 days, as CloudWatch keeps one-minute data).
 */
export class ClusterMetrics {
  readonly #journal: JsonLinesJournal<MetricSample>

  constructor(file?: string) {
    const oldest = Date.now() - RETENTION_MS
    this.#journal = new JsonLinesJournal(
      file,
      (raw) => raw as MetricSample,
      (sample) => typeof sample.t === 'number' && sample.t >= oldest,
    )
  }

  get #samples(): MetricSample[] {
    return this.#journal.records
  }

  /** The newest sample, if any. */
  get last(): MetricSample | undefined {
    return this.#samples.at(-1)
  }

  add(sample: MetricSample): void {
    this.#journal.add(sample)
  }

  /** The data points of `metric` taken in [start, end). */
  points(metric: BacktrackMetricName, start: Date, end: Date): MetricPoint[] {
    const from = start.getTime()
    const to = end.getTime()
    const points: MetricPoint[] = []
    this.#samples.forEach((sample, index) => {
      if (sample.t < from || sample.t >= to) return
      points.push({ timestamp: new Date(sample.t), value: this.#value(metric, sample, index) })
    })
    return points
  }

  #value(metric: BacktrackMetricName, sample: MetricSample, index: number): number {
    switch (metric) {
      case 'BacktrackChangeRecordsStored':
        return sample.stored
      case 'BacktrackWindowActual':
        return sample.windowActualMinutes
      case 'BacktrackWindowAlert':
        return sample.alert
      case 'BacktrackChangeRecordsCreationRate': {
        let sum = 0
        for (let i = index; i >= 0 && this.#samples[i]!.t > sample.t - CREATION_RATE_SPAN_MS; i--) {
          sum += this.#samples[i]!.created
        }
        return sum
      }
    }
  }
}
