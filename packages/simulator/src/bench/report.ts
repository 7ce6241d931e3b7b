/**
 * The benchmark's figures, their targets, and the two ways they are printed (a table for people, one JSON object
 * for machines). Every figure that has a baseline is a ratio against a baseline measured in the same run.
 */

type Comparison = '<=' | '>='

/** What a figure is held to: its value or its ratio, at most or at least a limit. */
export interface Target {
  /** Which number the target applies to. */
  of: 'value' | 'ratio'
  op: Comparison
  limit: number
}

export interface Figure {
  /** Stable key for the JSON (e.g. `capture.lagMillis`). */
  id: string
  /** What it is, for people. */
  label: string
  value: number
  unit: string
  /** The baseline from the same run, when the figure is a ratio against one. */
  baseline?: { label: string; value: number; unit: string }
  /** value ÷ baseline (or another dimensionless comparison the label explains). */
  ratio?: number
  target?: Target
  /**
   * How the number the figure is judged by (its ratio when it has one, else its value) varied over the repeats of
   * this run: the figure itself is their median. Absent when it was measured once.
   */
  spread?: { min: number; max: number; runs: number }
  note?: string
}

type Verdict = 'PASS' | 'MISS' | 'INFO'

export interface Evaluation {
  verdict: Verdict
  /** How far past the limit a MISS is, relative to the limit (0.25 = 25 % worse than the target); 0 otherwise. */
  missBy: number
  /** e.g. `MISS by 25% (1.63 > 1.3)`. */
  text: string
}

export interface Check {
  id: string
  label: string
  ok: boolean
  detail: string
}

/** The 1-minute load average during the run (sampled every few seconds). */
export interface LoadAverage {
  start: number
  end: number
  median: number
  max: number
}

export interface BenchReport {
  date: string
  mode: 'full' | 'quick'
  machine: { cpus: number; node: string; server: string; loadAverage: LoadAverage }
  sizes: Record<string, number>
  figures: Figure[]
  checks: Check[]
  totalSeconds: number
}

/** Compares a number with its target; a missing number (NaN) never passes. */
export function evaluate(figure: Figure): Evaluation {
  const target = figure.target
  if (target === undefined) return { verdict: 'INFO', missBy: 0, text: 'INFO' }
  const actual = target.of === 'ratio' ? figure.ratio : figure.value
  if (actual === undefined || !Number.isFinite(actual)) {
    return { verdict: 'MISS', missBy: Number.POSITIVE_INFINITY, text: 'MISS (not measured)' }
  }
  const ok = target.op === '<=' ? actual <= target.limit : actual >= target.limit
  if (ok) return { verdict: 'PASS', missBy: 0, text: 'PASS' }
  const missBy =
    target.limit === 0
      ? Number.POSITIVE_INFINITY
      : target.op === '<='
        ? actual / target.limit - 1
        : 1 - actual / target.limit
  const sign = target.op === '<=' ? '>' : '<'
  const by = Number.isFinite(missBy) ? `${Math.round(missBy * 100)}%` : 'an unbounded margin'
  return {
    verdict: 'MISS',
    missBy,
    text: `MISS by ${by} (${formatNumber(actual)} ${sign} ${formatNumber(target.limit)})`,
  }
}

/** Up to 3 significant digits for small numbers, thousands separators for large ones. */
export function formatNumber(n: number): string {
  if (!Number.isFinite(n)) return String(n)
  const abs = Math.abs(n)
  if (abs >= 1000) return Math.round(n).toLocaleString('en-US')
  if (abs >= 100) return n.toFixed(0)
  if (abs >= 10) return n.toFixed(1).replace(/\.0$/, '')
  if (abs >= 1) return n.toFixed(2).replace(/\.?0+$/, '')
  if (abs === 0) return '0'
  return String(Number(n.toPrecision(2)))
}

function withUnit(value: number, unit: string): string {
  const n = formatNumber(value)
  if (unit === '') return n
  if (unit === '%') return `${n}%`
  return `${n} ${unit}`
}

export function formatTarget(target: Target | undefined, unit: string): string {
  if (target === undefined) return '—'
  const limit = target.of === 'ratio' ? `${formatNumber(target.limit)}` : withUnit(target.limit, unit)
  return `${target.of === 'ratio' ? 'ratio ' : ''}${target.op === '<=' ? '≤' : '≥'} ${limit}`
}

/** A plain-text table padded to column widths; `markdown` adds pipes and a header rule. */
export function renderTable(header: string[], rows: string[][], markdown = false): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => (row[i] ?? '').length)))
  const line = (cells: string[]) =>
    markdown
      ? `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`
      : cells
          .map((c, i) => c.padEnd(widths[i]!))
          .join('  ')
          .trimEnd()
  const rule = markdown
    ? `| ${widths.map((w) => '-'.repeat(w)).join(' | ')} |`
    : widths.map((w) => '-'.repeat(w)).join('  ')
  return [line(header), rule, ...rows.map(line)].join('\n')
}

const TABLE_HEADER = ['#', 'figure', 'value', 'baseline (same run)', 'ratio', 'spread (runs)', 'target', 'result']

/** `1.45–1.60 (3)`: the range of the judged number over the run's repeats. */
export function formatSpread(figure: Figure): string {
  const spread = figure.spread
  if (spread === undefined || spread.runs < 2) return '—'
  const unit = figure.ratio === undefined ? figure.unit : ''
  return `${formatNumber(spread.min)}–${withUnit(spread.max, unit)} (${spread.runs})`
}

function figureRows(figures: readonly Figure[]): string[][] {
  return figures.map((figure) => [
    figure.id.split('.')[0]!,
    figure.label,
    withUnit(figure.value, figure.unit),
    figure.baseline === undefined
      ? '—'
      : `${figure.baseline.label}: ${withUnit(figure.baseline.value, figure.baseline.unit)}`,
    figure.ratio === undefined ? '—' : formatNumber(figure.ratio),
    formatSpread(figure),
    formatTarget(figure.target, figure.unit),
    evaluate(figure).text,
  ])
}

/** The human-readable report: the figures table, the correctness checks, and the misses spelled out. */
export function formatReport(report: BenchReport, markdown = false): string {
  const out: string[] = []
  out.push(
    `backtrack bench (${report.mode}) — ${report.date} — ${report.machine.cpus} CPUs, Node ${report.machine.node}, ${report.machine.server}`,
  )
  const load = report.machine.loadAverage
  out.push(
    `1-min load average during the run: median ${load.median.toFixed(2)}, max ${load.max.toFixed(2)} ` +
      `(${load.start.toFixed(2)} at the start, ${load.end.toFixed(2)} at the end)`,
  )
  out.push(
    `sizes: ${Object.entries(report.sizes)
      .map(([k, v]) => `${k}=${v}`)
      .join(', ')}`,
  )
  out.push('')
  out.push(renderTable(TABLE_HEADER, figureRows(report.figures), markdown))
  out.push('')
  for (const check of report.checks) out.push(`${check.ok ? 'ok  ' : 'FAIL'} ${check.label}: ${check.detail}`)
  const misses = report.figures.filter((figure) => evaluate(figure).verdict === 'MISS')
  out.push('')
  if (misses.length === 0) out.push('All targets met.')
  else {
    out.push(`${misses.length} target(s) missed:`)
    for (const figure of misses) out.push(`  - ${figure.label}: ${evaluate(figure).text}`)
  }
  const notes = report.figures.filter((figure) => figure.note)
  if (notes.length > 0) {
    out.push('')
    out.push('Notes:')
    for (const figure of notes) out.push(`  - ${figure.label}: ${figure.note}`)
  }
  out.push('')
  out.push(`total ${report.totalSeconds.toFixed(0)} s`)
  return out.join('\n')
}

/** The JSON form: the report plus each figure's verdict, and an overall `ok` (every correctness check passed). */
export function reportJson(report: BenchReport): object {
  return {
    ...report,
    ok: report.checks.every((check) => check.ok),
    figures: report.figures.map((figure) => {
      const evaluation = evaluate(figure)
      return {
        ...figure,
        verdict: evaluation.verdict,
        missBy: Number.isFinite(evaluation.missBy) ? evaluation.missBy : null,
      }
    }),
    misses: report.figures.filter((figure) => evaluate(figure).verdict === 'MISS').map((figure) => figure.id),
  }
}

/** The process exit code: 1 when a correctness check failed; missed targets alone do not fail the run. */
export function exitCode(report: BenchReport): number {
  return report.checks.every((check) => check.ok) ? 0 : 1
}
