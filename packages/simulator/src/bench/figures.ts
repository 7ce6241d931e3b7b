import { MiB, median, pairRatios, spreadOf } from './measure.js'
import type { BenchSizes } from './options.js'
import type { Figure, Target } from './report.js'

const TARGETS = {
  lagSeconds: 2,
  tpsRatio: 0.9,
  dropUndoRatio: 1.3,
  dmlUndoRatio: 1.0,
  rewind1kMillis: 300,
  rewindSizeRatio: 1.5,
  peakRssMiB: 300,
} as const

const n = (x: number) => x.toLocaleString('en-US')
const list = (values: readonly number[], digits = 0) => values.map((x) => x.toFixed(digits)).join(', ')

/**
 * A figure measured as pairs (each value with its baseline, back to back): value and baseline are medians, the
 * ratio is the median of the pairs' ratios, and the spread is the range of those ratios.
 */
export function pairedFigure(options: {
  id: string
  label: string
  unit: string
  values: readonly number[]
  baselineLabel: string
  baselines: readonly number[]
  target?: Target
  note?: string
}): Figure {
  const ratios = pairRatios(options.values, options.baselines)
  return {
    id: options.id,
    label: options.label,
    value: median(options.values),
    unit: options.unit,
    baseline: { label: options.baselineLabel, value: median(options.baselines), unit: options.unit },
    ratio: median(ratios),
    ...(ratios.length > 1 ? { spread: spreadOf(ratios) } : {}),
    ...(options.target === undefined ? {} : { target: options.target }),
    ...(options.note === undefined ? {} : { note: options.note }),
  }
}

/** What figure 1 measures around one `sysbench prepare` with capture running. */
export interface CaptureKeepUp {
  rows: number
  prepareMillis: number
  /** Prepare returning → the log's change-record count covers every inserted row (≥ 0). */
  lastRowLagMillis: number
  /** Prepare returning → `mark()` returns (everything the server committed is in the log, incl. CREATE INDEX). */
  catchUpLagMillis: number
}

export function captureFigures(m: CaptureKeepUp): Figure[] {
  const prepareRate = m.rows / (m.prepareMillis / 1000)
  const captureRate = m.rows / ((m.prepareMillis + m.catchUpLagMillis) / 1000)
  return [
    {
      id: '1.lag',
      label: 'capture lag after sysbench prepare (until mark() returns)',
      value: m.catchUpLagMillis / 1000,
      unit: 's',
      target: { of: 'value', op: '<=', limit: TARGETS.lagSeconds },
      note: `prepare took ${(m.prepareMillis / 1000).toFixed(1)} s; this lag includes processing sysbench's trailing CREATE INDEX`,
    },
    {
      id: '1.lagLastRow',
      label: 'capture lag to the last inserted row',
      value: m.lastRowLagMillis / 1000,
      unit: 's',
      target: { of: 'value', op: '<=', limit: TARGETS.lagSeconds },
    },
    {
      id: '1.rowsPerSec',
      label: 'capture rows/s sustained (rows / (prepare + lag))',
      value: captureRate,
      unit: 'rows/s',
      baseline: { label: 'sysbench prepare', value: prepareRate, unit: 'rows/s' },
      ratio: captureRate / prepareRate,
    },
  ]
}

/** TPS of each way in, one number per round (rounds ran both back to back). */
export interface ThroughputRuns {
  /** Through the cluster's SQL endpoint (the private server's own port, capture running). */
  endpoint: number[]
  /** The plain server (same binlog settings, no capture), each run right after the endpoint run it pairs with. */
  plain: number[]
  /**
   * Through the cluster's SQL endpoint with the capture paused (it reads nothing): the cluster's server alone, and
   * the plain server's runs after them.
   */
  paused?: { tps: number[]; plain: number[] }
}

export function throughputFigures(runs: ThroughputRuns, threads: number, note?: string): Figure {
  return pairedFigure({
    id: '2.endpoint',
    label: `oltp_write_only TPS through the cluster's SQL endpoint (threads=${threads})`,
    unit: 'tps',
    values: runs.endpoint,
    baselineLabel: 'plain server',
    baselines: runs.plain,
    target: { of: 'ratio', op: '>=', limit: TARGETS.tpsRatio },
    note: `rounds: endpoint ${list(runs.endpoint)}, plain ${list(runs.plain)} tps${note === undefined ? '' : `; ${note}`}`,
  })
}

/**
 * Figure 2b: what the cluster's process (capture, endpoints; the bench's own share is a few calls) spent per
 * transaction while the endpoint runs went on, and per transaction on merging their row versions afterwards.
 */
export function clusterCpuFigure(cpu: { duringMicros: number; mergeMicros: number; transactions: number }): Figure {
  const during = cpu.duringMicros / cpu.transactions
  const merge = cpu.mergeMicros / cpu.transactions
  return {
    id: '2b.clusterCpu',
    label: 'cluster process CPU per transaction during the endpoint runs',
    value: during,
    unit: 'µs',
    baseline: { label: 'with the merge after them', value: during + merge, unit: 'µs' },
    ratio: during / (during + merge),
    note: `${cpu.transactions} transactions; the merge of their row versions after the runs took ${(cpu.mergeMicros / 1000).toFixed(0)} ms of CPU (${merge.toFixed(0)} µs per transaction)`,
  }
}

/** Figure 2c: the cluster's own server with the capture paused, against the plain server: what is not the capture's. */
export function pausedCaptureFigure(runs: ThroughputRuns, threads: number): Figure | undefined {
  if (runs.paused === undefined || runs.paused.tps.length === 0) return undefined
  return pairedFigure({
    id: '2c.paused',
    label: `oltp_write_only TPS through the endpoint, capture paused (threads=${threads})`,
    unit: 'tps',
    values: runs.paused.tps,
    baselineLabel: 'plain server',
    baselines: runs.paused.plain,
    note: `rounds: paused ${list(runs.paused.tps)}, plain ${list(runs.paused.plain)} tps; what the capture itself costs is figure 2 against this`,
  })
}

export interface LogGrowth {
  workload: string
  pageLogBytes: number
  binlogBytes: number
  changeRecords: number
}

export function logBytesFigure(id: string, growth: LogGrowth, note?: string): Figure {
  const perRecord = growth.pageLogBytes / growth.changeRecords
  return {
    id,
    label: `page log bytes per change record (${growth.workload})`,
    value: perRecord,
    unit: 'B',
    baseline: { label: 'binlog bytes per change record', value: growth.binlogBytes / growth.changeRecords, unit: 'B' },
    ratio: growth.pageLogBytes / growth.binlogBytes,
    ...(note === undefined ? {} : { note }),
  }
}

/** One undo of the dropped table and its baseline, back to back. */
export interface DropUndoRun {
  /** BacktrackDBCluster sent → DescribeDBClusters says `available`. */
  undoMillis: number
  /** The engine's applying phase of that backtrack. */
  applyMillis: number
  /** LOAD DATA of the same rows into an empty copy. */
  loadMillis: number
  /** CPU seconds of the undo and of the LOAD DATA: the bench's process (the whole local cluster) and the server. */
  cpu?: { undo: CpuSeconds; load: CpuSeconds }
}

export interface CpuSeconds {
  node: number
  server: number
}

export function dropUndoFigures(runs: readonly DropUndoRun[], rows: number, note?: string): Figure[] {
  const load = runs.map((run) => run.loadMillis / 1000)
  const figures = [
    pairedFigure({
      id: '3.dropUndo',
      label: `undo DROP TABLE of ${n(rows)} rows: request to available (AWS SDK)`,
      unit: 's',
      values: runs.map((run) => run.undoMillis / 1000),
      baselineLabel: 'LOAD DATA LOCAL of the same rows',
      baselines: load,
      target: { of: 'ratio', op: '<=', limit: TARGETS.dropUndoRatio },
      ...(note === undefined ? {} : { note }),
    }),
    pairedFigure({
      id: '3.dropApply',
      label: `undo DROP TABLE of ${n(rows)} rows: the engine's applying phase only`,
      unit: 's',
      values: runs.map((run) => run.applyMillis / 1000),
      baselineLabel: 'LOAD DATA LOCAL of the same rows',
      baselines: load,
    }),
  ]
  const cpu = runs.flatMap((run) => (run.cpu === undefined ? [] : [run.cpu]))
  if (cpu.length === runs.length && cpu.length > 0) {
    const total = (seconds: CpuSeconds) => seconds.node + seconds.server
    const each = (pick: (c: { undo: CpuSeconds; load: CpuSeconds }) => CpuSeconds) =>
      cpu.map((c) => `${pick(c).node.toFixed(1)}+${pick(c).server.toFixed(1)}`).join(', ')
    figures.push(
      pairedFigure({
        id: '3.dropCpu',
        label: `undo DROP TABLE of ${n(rows)} rows: CPU seconds, simulator process + server`,
        unit: 's',
        values: cpu.map((c) => total(c.undo)),
        baselineLabel: 'LOAD DATA LOCAL of the same rows, bench process + server',
        baselines: cpu.map((c) => total(c.load)),
        note: `simulator+server per undo: ${each((c) => c.undo)} s; bench+server per LOAD DATA: ${each((c) => c.load)} s`,
      }),
    )
  }
  return figures
}

/** One undo of the DML change and MariaDB's flashback of the same change, back to back. */
export interface DmlUndoRun {
  /** BacktrackDBCluster sent → DescribeDBClusters says `available`. */
  undoMillis: number
  /** `mariadb-binlog --flashback | mariadb` on the plain server. */
  flashbackMillis: number
}

export function dmlUndoFigure(
  runs: readonly DmlUndoRun[],
  change: { tableSize: number; deleted: number; updated: number },
  note?: string,
): Figure {
  return pairedFigure({
    id: '8.dmlUndo',
    label: `undo DELETE of ${n(change.deleted)} + UPDATE of ${n(change.updated)} rows in ${n(change.tableSize)}: request to available (AWS SDK)`,
    unit: 's',
    values: runs.map((run) => run.undoMillis / 1000),
    baselineLabel: 'mariadb-binlog --flashback | mariadb',
    baselines: runs.map((run) => run.flashbackMillis / 1000),
    target: { of: 'ratio', op: '<=', limit: TARGETS.dmlUndoRatio },
    ...(note === undefined ? {} : { note }),
  })
}

export function rewindFigures(
  bigMillis: readonly number[],
  smallMillis: readonly number[],
  sizes: Pick<BenchSizes, 'tableSize' | 'smallTableSize' | 'changedRows'>,
): Figure[] {
  const big = median(bigMillis)
  return [
    {
      id: '4.rewind',
      label: `rewind ${n(sizes.changedRows)} changed rows in a ${n(sizes.tableSize)}-row table (applying, median)`,
      value: big,
      unit: 'ms',
      target: { of: 'value', op: '<=', limit: TARGETS.rewind1kMillis },
      ...(bigMillis.length > 1 ? { spread: spreadOf(bigMillis) } : {}),
      note: `runs: ${list(bigMillis)} ms`,
    },
    pairedFigure({
      id: '4.sizeRatio',
      label: `same rewind, ${n(sizes.tableSize)} rows vs ${n(sizes.smallTableSize)} rows`,
      unit: 'ms',
      values: bigMillis,
      baselineLabel: `${n(sizes.smallTableSize)}-row table`,
      baselines: smallMillis,
      target: { of: 'ratio', op: '<=', limit: TARGETS.rewindSizeRatio },
      note: `small-table runs: ${list(smallMillis)} ms`,
    }),
  ]
}

export function rssFigure(id: string, phase: string, bytes: number): Figure {
  return {
    id,
    label: `peak RSS of the simulator during ${phase}`,
    value: bytes / MiB,
    unit: 'MiB',
    target: { of: 'value', op: '<=', limit: TARGETS.peakRssMiB },
  }
}
