import { describe, expect, it } from 'vitest'
import { median, randomIds } from './measure.js'
import { FULL_SIZES, QUICK_SIZES, parseBenchArgs } from './options.js'
import {
  evaluate,
  exitCode,
  formatNumber,
  formatReport,
  formatTarget,
  renderTable,
  reportJson,
  type BenchReport,
  type Figure,
} from './report.js'
import {
  captureFigures,
  dropUndoFigure,
  logBytesFigure,
  overheadFigure,
  rewindFigures,
  rssFigure,
} from './run-bench.js'
import { parseSysbenchRun, sysbenchArgs } from './sysbench.js'

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
    machine: { cpus: 2, node: 'v20.20.2', server: 'mariadb 10.11.19', loadAverage: { start: 1, end: 2 } },
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
    const tps = overheadFigure(
      { tps: 850, transactions: 1, p95Millis: 1, errors: 0 },
      { tps: 1000, transactions: 1, p95Millis: 1, errors: 0 },
      4,
    )
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

  it('drop undo, rewinds (median), log bytes and RSS', () => {
    const drop = dropUndoFigure(7_000, 5_000, 1_000_000)
    expect(drop.ratio).toBeCloseTo(1.4)
    expect(evaluate(drop).text).toBe('MISS by 8% (1.4 > 1.3)')
    const [abs, ratio] = rewindFigures([100, 300, 200], [100, 120, 140], {
      tableSize: 1_000_000,
      smallTableSize: 10_000,
      changedRows: 1_000,
    })
    expect(abs!.value).toBe(200)
    expect(evaluate(abs!).verdict).toBe('PASS')
    expect(ratio!.ratio).toBeCloseTo(200 / 120)
    expect(evaluate(ratio!).verdict).toBe('MISS')
    const bytes = logBytesFigure('5.oltp', { workload: 'w', pageLogBytes: 300, binlogBytes: 600, changeRecords: 3 })
    expect(bytes).toMatchObject({ value: 100, baseline: { value: 200 }, ratio: 0.5 })
    expect(evaluate(bytes).verdict).toBe('INFO')
    expect(rssFigure('6.x', 'p', 150 * 1024 * 1024).value).toBe(150)
  })
})

describe('report output', () => {
  const figures = [lag(3), dropUndoFigure(6_000, 5_000, 100), { id: '5.x', label: 'info', value: 1234.5, unit: 'B' }]

  it('prints a table with value, baseline, ratio, target and result, then the misses', () => {
    const text = formatReport(report(figures))
    expect(text).toMatch(/^#\s+figure\s+value\s+baseline \(same run\)\s+ratio\s+target\s+result$/m)
    expect(text).toContain('MISS by 50% (3 > 2)')
    expect(text).toContain('LOAD DATA LOCAL of the same rows: 5 s')
    expect(text).toContain('ratio ≤ 1.3')
    expect(text).toContain('1,235 B')
    expect(text).toContain('1 target(s) missed:')
    expect(text).toContain('ok   checksum: 1 (original 1)')
    expect(formatReport(report([dropUndoFigure(1, 1, 1)]))).toContain('All targets met.')
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
  it('parses sysbench run output', () => {
    const output = `
SQL statistics:
    transactions:                        44561  (2227.93 per sec.)
    ignored errors:                      3      (0.15 per sec.)
Latency (ms):
         95th percentile:                        3.05
`
    expect(parseSysbenchRun(output)).toEqual({ transactions: 44561, tps: 2227.93, p95Millis: 3.05, errors: 3 })
    expect(() => parseSysbenchRun('FATAL: nope')).toThrow(/no "transactions:" line/)
  })

  it('builds sysbench arguments', () => {
    const args = sysbenchArgs(
      {
        connection: { host: '127.0.0.1', port: 3307, user: 'admin', password: 'pw' },
        database: 'mylab',
        tables: 1,
        tableSize: 100,
        threads: 4,
        time: 5,
      },
      'run',
    )
    expect(args[0]).toBe('oltp_write_only')
    expect(args).toContain('--mysql-port=3307')
    expect(args).toContain('--time=5')
    expect(args.at(-1)).toBe('run')
  })

  it('parses the command line', () => {
    expect(parseBenchArgs([]).sizes).toEqual(FULL_SIZES)
    expect(parseBenchArgs(['--quick', '--json'])).toMatchObject({ quick: true, json: true, sizes: QUICK_SIZES })
    expect(parseBenchArgs(['--table-size', '5000', '--time=3']).sizes).toMatchObject({
      tableSize: 5000,
      smallTableSize: 5000,
      runSeconds: 3,
    })
    expect(() => parseBenchArgs(['--table-size', '0'])).toThrow(/positive integer/)
    expect(() => parseBenchArgs(['--nope'])).toThrow()
  })

  it('median and random ids', () => {
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
