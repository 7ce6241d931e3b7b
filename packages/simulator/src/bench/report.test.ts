import { describe, expect, it } from 'vitest'
import { median, pairRatios, randomIds, spreadOf } from './measure.js'
import { FULL_SIZES, QUICK_SIZES, parseBenchArgs } from './options.js'
import {
  evaluate,
  exitCode,
  formatNumber,
  formatReport,
  formatSpread,
  formatTarget,
  renderTable,
  reportJson,
  type BenchReport,
  type Figure,
} from './report.js'
import {
  captureFigures,
  dmlUndoFigure,
  dropUndoFigures,
  logBytesFigure,
  pairedFigure,
  rewindFigures,
  rssFigure,
  throughputFigures,
} from './figures.js'
import { dmlChange } from './dml-undo-phase.js'

const lag = (value: number): Figure => ({
  id: '1.lag',
  label: 'lag',
  value,
  unit: 's',
  target: { of: 'value', op: '<=', limit: 2 },
})

function report(figures: Figure[], checksOk = true): BenchReport {
  return {
    date: '2026-11-24T00:00:00.000Z',
    mode: 'quick',
    machine: {
      cpus: 2,
      node: 'v20.20.2',
      server: 'mariadb 10.11.19',
      loadAverage: { start: 1, end: 2, median: 1.5, max: 3 },
    },
    sizes: { tableSize: 1000 },
    figures,
    checks: [{ id: 'checksum.dropUndo', label: 'checksum', ok: checksOk, detail: '1 (original 1)' }],
    totalSeconds: 12.3,
  }
}

describe('evaluate', () => {
  it('passes at and under an upper limit, and says by how much it misses above it', () => {
    expect(evaluate(lag(2)).verdict).toBe('PASS')
    expect(evaluate(lag(0.5))).toEqual({ verdict: 'PASS', missBy: 0, text: 'PASS' })
    const miss = evaluate(lag(3))
    expect(miss.verdict).toBe('MISS')
    expect(miss.missBy).toBeCloseTo(0.5)
    expect(miss.text).toBe('MISS by 50% (3 > 2)')
  })

  it('holds ratio targets to the ratio, lower limits from below', () => {
    const tps = throughputFigures({ endpoint: [850], plain: [1000] }, 4)
    expect(tps.ratio).toBeCloseTo(0.85)
    const miss = evaluate(tps)
    expect(miss.verdict).toBe('MISS')
    expect(miss.missBy).toBeCloseTo(1 - 0.85 / 0.9)
    expect(miss.text).toBe('MISS by 6% (0.85 < 0.9)')
    expect(evaluate({ ...tps, ratio: 0.95 }).verdict).toBe('PASS')
  })

  it('is INFO without a target and MISS when the number is missing', () => {
    expect(evaluate({ id: 'x', label: 'x', value: 1, unit: '' }).verdict).toBe('INFO')
    expect(evaluate(lag(Number.NaN))).toMatchObject({ verdict: 'MISS', text: 'MISS (not measured)' })
    expect(evaluate({ ...lag(1), target: { of: 'ratio', op: '<=', limit: 1 } }).text).toBe('MISS (not measured)')
  })
})

describe('figures from measurements', () => {
  it('capture: lag, last-row lag and rows/s as a ratio to prepare', () => {
    const [catchUp, lastRow, rate] = captureFigures({
      rows: 1_000_000,
      prepareMillis: 10_000,
      lastRowLagMillis: 500,
      catchUpLagMillis: 2_500,
    })
    expect(catchUp!.value).toBe(2.5)
    expect(evaluate(catchUp!).verdict).toBe('MISS')
    expect(evaluate(lastRow!).verdict).toBe('PASS')
    expect(rate!.value).toBeCloseTo(80_000)
    expect(rate!.baseline!.value).toBeCloseTo(100_000)
    expect(rate!.ratio).toBeCloseTo(0.8)
  })

  it('pairs: medians of values and baselines, the median of the pair ratios, and their spread', () => {
    const figure = pairedFigure({
      id: '9.x',
      label: 'x',
      unit: 's',
      values: [2, 9, 3],
      baselineLabel: 'b',
      baselines: [1, 3, 2],
    })
    expect(figure).toMatchObject({ value: 3, baseline: { value: 2 }, ratio: 2, spread: { min: 1.5, max: 3, runs: 3 } })
    expect(pairedFigure({ ...figure, values: [2], baselineLabel: 'b', baselines: [1] }).spread).toBeUndefined()
    expect(() => pairRatios([1, 2], [1])).toThrow(RangeError)
  })

  it('throughput: the endpoint vs the plain server', () => {
    const figure = throughputFigures({ endpoint: [900, 1000], plain: [1000, 1000] }, 4)
    expect(figure.id).toBe('2.endpoint')
    expect(figure.ratio).toBeCloseTo(0.95)
    expect(figure.spread).toEqual({ min: 0.9, max: 1, runs: 2 })
    expect(evaluate(figure).verdict).toBe('PASS')
    expect(evaluate(throughputFigures({ endpoint: [500], plain: [1100] }, 4)).verdict).toBe('MISS')
  })

  it('DML undo against flashback, and the change it undoes', () => {
    const change = dmlChange(300_000)
    expect(change).toMatchObject({ deleted: 150_000, updated: 100_000 })
    expect(change.statements[1]).toContain('id <= 200000')
    const figure = dmlUndoFigure(
      [
        { undoMillis: 6_000, flashbackMillis: 5_000 },
        { undoMillis: 4_000, flashbackMillis: 5_000 },
      ],
      { tableSize: 300_000, ...change },
    )
    expect(figure.label).toContain('DELETE of 150,000 + UPDATE of 100,000 rows in 300,000')
    expect(figure.ratio).toBeCloseTo(1)
    expect(figure.spread).toEqual({ min: 0.8, max: 1.2, runs: 2 })
    expect(evaluate(figure).verdict).toBe('PASS')
  })

  it('drop undo end to end and its applying phase, rewinds (median), log bytes and RSS', () => {
    const [drop, apply] = dropUndoFigures([{ undoMillis: 7_000, applyMillis: 6_000, loadMillis: 5_000 }], 1_000_000)
    expect(drop!.ratio).toBeCloseTo(1.4)
    expect(evaluate(drop!).text).toBe('MISS by 8% (1.4 > 1.3)')
    expect(apply!.ratio).toBeCloseTo(1.2)
    expect(evaluate(apply!).verdict).toBe('INFO')
    const cpu = (undo: number, load: number) => ({
      undo: { node: 1, server: undo - 1 },
      load: { node: 0.5, server: load - 0.5 },
    })
    const withCpu = dropUndoFigures(
      [
        { undoMillis: 7_000, applyMillis: 6_000, loadMillis: 5_000, cpu: cpu(12, 10) },
        { undoMillis: 6_000, applyMillis: 5_000, loadMillis: 5_000, cpu: cpu(11, 10) },
      ],
      1_000_000,
    )
    expect(withCpu.map((figure) => figure.id)).toEqual(['3.dropUndo', '3.dropApply', '3.dropCpu'])
    expect(withCpu[2]).toMatchObject({ value: 11.5, baseline: { value: 10 }, spread: { min: 1.1, max: 1.2, runs: 2 } })
    expect(withCpu[2]!.note).toContain('simulator+server per undo: 1.0+11.0, 1.0+10.0 s')
    expect(evaluate(withCpu[2]!).verdict).toBe('INFO')
    const [abs, ratio] = rewindFigures([100, 300, 200], [100, 120, 140], {
      tableSize: 1_000_000,
      smallTableSize: 10_000,
      changedRows: 1_000,
    })
    expect(abs!.value).toBe(200)
    expect(evaluate(abs!).verdict).toBe('PASS')
    expect(ratio!.ratio).toBeCloseTo(200 / 140) // the median of the pairs 1, 2.5 and 1.43
    expect(abs!.spread).toEqual({ min: 100, max: 300, runs: 3 })
    expect(evaluate(ratio!).verdict).toBe('PASS')
    const bytes = logBytesFigure('5.oltp', { workload: 'w', pageLogBytes: 300, binlogBytes: 600, changeRecords: 3 })
    expect(bytes).toMatchObject({ value: 100, baseline: { value: 200 }, ratio: 0.5 })
    expect(evaluate(bytes).verdict).toBe('INFO')
    expect(rssFigure('6.x', 'p', 150 * 1024 * 1024).value).toBe(150)
  })
})

describe('report output', () => {
  const drop = (undoMillis: number) => dropUndoFigures([{ undoMillis, applyMillis: 1, loadMillis: 5_000 }], 100)[0]!
  const figures = [lag(3), drop(6_000), { id: '5.x', label: 'info', value: 1234.5, unit: 'B' }]

  it('prints a table with value, baseline, ratio, target and result, then the misses', () => {
    const text = formatReport(report(figures))
    expect(text).toMatch(/^#\s+figure\s+value\s+baseline \(same run\)\s+ratio\s+spread \(runs\)\s+target\s+result$/m)
    expect(text).toContain('MISS by 50% (3 > 2)')
    expect(text).toContain('LOAD DATA LOCAL of the same rows: 5 s')
    expect(text).toContain('ratio ≤ 1.3')
    expect(text).toContain('1,235 B')
    expect(text).toContain('1 target(s) missed:')
    expect(text).toContain('ok   checksum: 1 (original 1)')
    expect(formatReport(report([drop(1)]))).toContain('All targets met.')
  })

  it('shows the spread of the judged number', () => {
    expect(formatSpread(lag(1))).toBe('—')
    expect(formatSpread({ ...lag(1), spread: { min: 0.5, max: 1.25, runs: 3 } })).toBe('0.5–1.25 s (3)')
    const paired = throughputFigures({ endpoint: [900, 1000], plain: [1000, 1000] }, 4)
    expect(formatSpread(paired)).toBe('0.9–1 (2)')
    expect(formatReport(report([paired]))).toMatch(/spread \(runs\)[\s\S]*0\.9–1 \(2\)/)
  })

  it('renders a markdown table when asked', () => {
    const table = renderTable(['a', 'bb'], [['1', '22']], true)
    expect(table).toBe('| a | bb |\n| - | -- |\n| 1 | 22 |')
  })

  it('JSON carries every figure with its verdict and an overall ok', () => {
    const json = reportJson(report(figures)) as { ok: boolean; misses: string[]; figures: { verdict: string }[] }
    expect(json.ok).toBe(true)
    expect(json.misses).toEqual(['1.lag'])
    expect(json.figures.map((f) => f.verdict)).toEqual(['MISS', 'PASS', 'INFO'])
    expect(JSON.parse(JSON.stringify(json))).toEqual(json)
  })

  it('exits 1 only when a correctness check fails', () => {
    expect(exitCode(report(figures))).toBe(0)
    expect(exitCode(report([], false))).toBe(1)
    expect(formatReport(report([], false))).toContain('FAIL checksum')
  })

  it('formats numbers and targets', () => {
    expect(formatNumber(1_234_567)).toBe('1,234,567')
    expect(formatNumber(123.4)).toBe('123')
    expect(formatNumber(12.34)).toBe('12.3')
    expect(formatNumber(1.5)).toBe('1.5')
    expect(formatNumber(0.0123)).toBe('0.012')
    expect(formatTarget({ of: 'value', op: '<=', limit: 300 }, 'MiB')).toBe('≤ 300 MiB')
    expect(formatTarget({ of: 'ratio', op: '>=', limit: 0.9 }, 'tps')).toBe('ratio ≥ 0.9')
    expect(formatTarget(undefined, 's')).toBe('—')
  })
})

describe('helpers', () => {
  it('parses the command line', () => {
    expect(parseBenchArgs([]).sizes).toEqual(FULL_SIZES)
    expect(parseBenchArgs(['--quick', '--json'])).toMatchObject({ quick: true, json: true, sizes: QUICK_SIZES })
    expect(parseBenchArgs(['--table-size', '5000', '--time=3']).sizes).toMatchObject({
      tableSize: 5000,
      smallTableSize: 5000,
      runSeconds: 3,
    })
    expect(parseBenchArgs(['--only', 'dml, drop', '--repeats', '5']).only).toEqual(['dml', 'drop'])
    expect(parseBenchArgs(['--repeats', '5', '--dml-table-size', '600']).sizes).toMatchObject({
      undoRepeats: 5,
      dmlTableSize: 600,
    })
    expect(() => parseBenchArgs(['--only', 'nope'])).toThrow(/--only takes/)
    expect(() => parseBenchArgs(['--table-size', '0'])).toThrow(/positive integer/)
    expect(() => parseBenchArgs(['--nope'])).toThrow()
  })

  it('median, spread and random ids', () => {
    expect(spreadOf([3, 1, 2])).toEqual({ min: 1, max: 3, runs: 3 })
    expect(median([3, 1, 2])).toBe(2)
    expect(median([4, 1, 2, 3])).toBe(2.5)
    expect(median([])).toBeNaN()
    const ids = randomIds(50, 60)
    expect(new Set(ids).size).toBe(50)
    expect(Math.min(...ids)).toBeGreaterThanOrEqual(1)
    expect(Math.max(...ids)).toBeLessThanOrEqual(60)
    expect(() => randomIds(5, 4)).toThrow(RangeError)
  })
})
