import { setTimeout as sleep } from 'node:timers/promises'
import type { BacktrackEngine } from '../backtrack-engine.js'
import { BacktrackError } from '../errors.js'
import type { ClusterStatus, DBClusterBacktrack } from '../types.js'
import type { Expectation, Scenario, ScenarioStep } from './scenario.js'
import { prepareSysbenchTable } from './sysbench-table.js'
import { resolveTimeExpression } from './time-expression.js'
import { sqlValueText } from './sql-value-text.js'

/** What one statement returned: rows for queries, a count for writes. */
export type SqlOutcome = Record<string, unknown>[] | { affectedRows: number }

/**
 * The slice of a MySQL client the scenario runner uses (kysely-style: mysql2 stays outside core). The connection
 * is expected to reconnect by itself after a backtrack closed it, as a person at the `mysql` prompt would.
 */
export interface ScenarioSql {
  query(statement: string): Promise<SqlOutcome>
}

/** The cluster a scenario runs against: the engine (offline or live) and a SQL session in the scenario's database. */
export interface ScenarioTarget {
  engine: BacktrackEngine
  sql: ScenarioSql
  /** Sets a named marker (default `engine.mark()`); the simulator also records it in its page log. */
  mark?(name: string): Promise<Date>
  /** Runs a real `sysbench ... prepare` (default: the built-in loader over `sql`). */
  sysbenchPrepare?(table: string, rows: number, onProgress: (rows: number) => void): Promise<void>
}

export type ScenarioEvent =
  | { type: 'step-start'; index: number; step: ScenarioStep }
  | { type: 'sql'; index: number; statement: string; outcome: SqlOutcome; ms: number }
  | { type: 'mark'; index: number; name: string; at: Date; checksums: Record<string, string | null> }
  | { type: 'sleep'; index: number; ms: number; reason: string }
  | { type: 'sysbench-progress'; index: number; table: string; rows: number; total: number }
  | { type: 'checksum'; index: number; table: string; checksum: string | null }
  | { type: 'backtrack-requested'; index: number; record: DBClusterBacktrack }
  | {
      type: 'backtrack-status'
      index: number
      backtrackStatus: DBClusterBacktrack['Status']
      clusterStatus?: ClusterStatus
    }
  | { type: 'check'; index: number; check: Expectation; ok: boolean; expected: string; actual: string }
  | { type: 'step-end'; index: number; step: ScenarioStep; ok: boolean; ms: number; error?: string }

export interface ScenarioFailure {
  /** 0-based step index and its line in the file. */
  index: number
  line: number
  message: string
  expected?: string
  actual?: string
}

export interface ScenarioResult {
  passed: boolean
  steps: { index: number; line: number; kind: ScenarioStep['kind']; ok: boolean; ms: number }[]
  failures: ScenarioFailure[]
  marks: Record<string, Date>
  backtracks: DBClusterBacktrack[]
}

export interface RunScenarioOptions {
  onEvent?: (event: ScenarioEvent) => void
  /** Backtrack status polling interval (default: the engine's own cadence). */
  pollMs?: number
  /** Longest wait for one backtrack (default 15 minutes). */
  backtrackTimeoutMs?: number
  /** Longest wait for a backtrack time that is still in the future (default 60 s). */
  maxFutureWaitMs?: number
}

function firstCell(outcome: SqlOutcome): unknown {
  if (!Array.isArray(outcome)) return outcome.affectedRows
  const row = outcome[0]
  return row === undefined ? undefined : Object.values(row)[0]
}

const show = (value: unknown) => (value === null || value === undefined ? 'null' : sqlValueText(value))

class Run {
  readonly marks = new Map<string, Date>()
  readonly markChecksums = new Map<string, Record<string, string | null>>()
  readonly failures: ScenarioFailure[] = []
  readonly backtracks: DBClusterBacktrack[] = []
  readonly #target: ScenarioTarget
  readonly #options: RunScenarioOptions

  constructor(target: ScenarioTarget, options: RunScenarioOptions) {
    this.#target = target
    this.#options = options
  }

  emit(event: ScenarioEvent): void {
    this.#options.onEvent?.(event)
  }

  async query(statement: string): Promise<SqlOutcome> {
    return this.#target.sql.query(statement)
  }

  async checksum(table: string): Promise<string | null> {
    try {
      const outcome = await this.query(`CHECKSUM TABLE ${table}`)
      return show(firstCell(Array.isArray(outcome) ? outcome.map((row) => ({ c: row['Checksum'] })) : outcome))
    } catch (error) {
      if (/doesn't exist|ER_NO_SUCH_TABLE/i.test(String((error as Error).message))) return null
      throw error
    }
  }

  async tables(): Promise<string[]> {
    const outcome = await this.query(
      'SELECT TABLE_NAME AS t FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() ORDER BY TABLE_NAME',
    )
    return Array.isArray(outcome) ? outcome.map((row) => sqlValueText(row['t'])) : []
  }

  async step(index: number, step: ScenarioStep): Promise<void> {
    const engine = this.#target.engine
    switch (step.kind) {
      case 'sql':
        for (const statement of step.statements) {
          const started = performance.now()
          const outcome = await this.query(statement)
          this.emit({ type: 'sql', index, statement, outcome, ms: performance.now() - started })
        }
        return
      case 'mark': {
        const at = this.#target.mark === undefined ? await engine.mark() : await this.#target.mark(step.name)
        const checksums: Record<string, string | null> = {}
        for (const table of step.checksums) checksums[table] = await this.checksum(table)
        this.marks.set(step.name, at)
        this.markChecksums.set(step.name, checksums)
        this.emit({ type: 'mark', index, name: step.name, at, checksums })
        return
      }
      case 'sleep':
        this.emit({ type: 'sleep', index, ms: step.ms, reason: 'as the scenario says' })
        await sleep(step.ms)
        return
      case 'sysbench': {
        const progress = (rows: number) =>
          this.emit({ type: 'sysbench-progress', index, table: step.table, rows, total: step.rows })
        if (this.#target.sysbenchPrepare !== undefined) {
          await this.#target.sysbenchPrepare(step.table, step.rows, progress)
        } else {
          await prepareSysbenchTable(this.#target.sql, { table: step.table, rows: step.rows, onProgress: progress })
        }
        return
      }
      case 'checksum':
        for (const table of step.tables)
          this.emit({ type: 'checksum', index, table, checksum: await this.checksum(table) })
        return
      case 'backtrack':
        await this.backtrack(index, step)
        return
      case 'expect':
        for (const check of step.checks) await this.check(index, step, check)
        return
    }
  }

  async backtrack(index: number, step: Extract<ScenarioStep, { kind: 'backtrack' }>): Promise<void> {
    const engine = this.#target.engine
    const to = await resolveTimeExpression(step.to, {
      now: () => engine.now(),
      marker: (name) => this.marks.get(name),
      markerNames: () => [...this.marks.keys()],
    })
    // "Slightly after the marker" may still be ahead of the cluster's clock; wait for it rather than fail.
    const ahead = to.getTime() - (await engine.now()).getTime()
    if (ahead > 0) {
      const limit = this.#options.maxFutureWaitMs ?? 60_000
      if (ahead > limit) {
        throw new BacktrackError('InvalidParameterValue', `backtrack to ${step.toText} is ${ahead} ms in the future.`)
      }
      this.emit({ type: 'sleep', index, ms: ahead + 5, reason: `until ${step.toText} is in the past` })
      await sleep(ahead + 5)
    }
    const record = await engine.backtrack({
      backtrackTo: to,
      useEarliestTimeOnPointInTimeUnavailable: step.useEarliest,
    })
    this.emit({ type: 'backtrack-requested', index, record })
    // The engine's own cadence (Aurora's seconds, a local cluster's milliseconds); it resolves once the backtrack
    // is completed and the cluster available again, which the next step needs.
    const done = await engine.waitForBacktrack(record.BacktrackIdentifier, {
      timeoutMs: this.#options.backtrackTimeoutMs ?? 15 * 60_000,
      ...(this.#options.pollMs === undefined ? {} : { pollMs: this.#options.pollMs }),
      onProgress: (backtrack) => {
        if (backtrack.Status !== 'completed') {
          this.emit({ type: 'backtrack-status', index, backtrackStatus: backtrack.Status })
        }
      },
    })
    const clusterStatus = (await engine.describeCluster()).Status
    this.emit({ type: 'backtrack-status', index, backtrackStatus: done.Status, clusterStatus })
    this.backtracks.push(done)
  }

  async check(index: number, step: ScenarioStep, check: Expectation): Promise<void> {
    let expected: string
    let actual: string
    let ok: boolean
    switch (check.kind) {
      case 'tables': {
        const tables = await this.tables()
        const missing = check.include.filter((table) => !tables.includes(table))
        const present = check.exclude.filter((table) => tables.includes(table))
        const exactOk = check.exact === undefined || check.exact.slice().sort().join(',') === tables.join(',')
        ok = missing.length === 0 && present.length === 0 && exactOk
        expected = [
          ...(check.exact === undefined ? [] : [`exactly [${check.exact.join(', ')}]`]),
          ...(check.include.length === 0 ? [] : [`tables [${check.include.join(', ')}] present`]),
          ...(check.exclude.length === 0 ? [] : [`[${check.exclude.join(', ')}] missing`]),
        ].join(', ')
        actual = `tables [${tables.join(', ')}]`
        break
      }
      case 'rows': {
        const count = await this.query(`SELECT COUNT(*) AS n FROM ${check.table}`).then(
          (outcome) => show(firstCell(outcome)),
          (error: Error) => `error: ${error.message}`,
        )
        expected = `${check.count} rows in ${check.table}`
        actual = /^\d+$/.test(count) ? `${count} rows` : count
        ok = count === String(check.count)
        break
      }
      case 'checksum': {
        const want = this.markChecksums.get(check.marker)?.[check.table] ?? null
        const got = await this.checksum(check.table)
        expected = `CHECKSUM TABLE ${check.table} = ${show(want)} (as at marker ${check.marker})`
        actual = got === null ? `${check.table} does not exist` : `${got}`
        ok = want !== null && got === want
        if (want === null) expected = `${check.table} existing at marker ${check.marker} (it did not)`
        break
      }
      case 'query': {
        const got = await this.query(check.sql).then(
          (outcome) => show(firstCell(outcome)),
          (error: Error) => `error: ${error.message}`,
        )
        expected = `${check.sql} = ${show(check.equals)}`
        actual = got
        ok = got === show(check.equals)
        break
      }
    }
    this.emit({ type: 'check', index, check, ok, expected, actual })
    if (!ok) {
      this.failures.push({
        index,
        line: check.at.line,
        message: `expect ${check.kind} failed (line ${check.at.line})`,
        expected,
        actual,
      })
    }
    void step
  }
}

/**
 * Runs a scenario's steps in order against a cluster. A failed `expect` is recorded and the run goes on; an error
 * (SQL, a backtrack that failed) stops it. The same scenario runs offline and live: only `target` differs.
 *
 * @example
 * const result = await runScenario(parseScenario(text), { engine, sql }, { onEvent: print })
 * if (!result.passed) process.exitCode = 1
 */
export async function runScenario(
  scenario: Scenario,
  target: ScenarioTarget,
  options: RunScenarioOptions = {},
): Promise<ScenarioResult> {
  const run = new Run(target, options)
  const steps: ScenarioResult['steps'] = []
  for (const [index, step] of scenario.steps.entries()) {
    run.emit({ type: 'step-start', index, step })
    const started = performance.now()
    const failuresBefore = run.failures.length
    let error: string | undefined
    try {
      await run.step(index, step)
    } catch (caught) {
      error = caught instanceof Error ? caught.message : String(caught)
      run.failures.push({
        index,
        line: step.at.line,
        message: `${step.kind} step (line ${step.at.line}) failed: ${error}`,
      })
    }
    const ms = performance.now() - started
    const ok = run.failures.length === failuresBefore
    steps.push({ index, line: step.at.line, kind: step.kind, ok, ms })
    run.emit({ type: 'step-end', index, step, ok, ms, ...(error === undefined ? {} : { error }) })
    if (error !== undefined) break
  }
  return {
    passed: run.failures.length === 0,
    steps,
    failures: run.failures,
    marks: Object.fromEntries(run.marks),
    backtracks: run.backtracks,
  }
}
