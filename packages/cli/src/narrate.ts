// Tells a person what each scenario step does, the command they would type for it, and what came back.
import {
  formatRdsTime,
  sqlValueText,
  type ScenarioEvent,
  type ScenarioResult,
  type ScenarioStep,
  type SqlEndpoint,
} from '@backtrack/core'

export interface NarrationContext {
  clusterIdentifier: string
  sql: SqlEndpoint
  database: string
  /** `--endpoint-url` of a local cluster; absent live. */
  endpointUrl?: string
  dataDir?: string
  live: boolean
  total: number
  write: (text: string) => void
  /** Rewrite progress lines in place (a terminal). */
  tty: boolean
}

function mysqlCommand(context: Pick<NarrationContext, 'sql' | 'database'>): string {
  const port = context.sql.port === 3306 ? '' : ` -P${context.sql.port}`
  return `mysql -h${context.sql.host}${port} -u$DBUSER -p"$DBPASS" ${context.database}`
}

function sysbenchCommand(context: Pick<NarrationContext, 'sql' | 'database'>, rows: number): string {
  return [
    'sysbench oltp_write_only',
    '--threads=1',
    `--mysql-host=${context.sql.host}`,
    '--mysql-user=$DBUSER',
    '--mysql-password="$DBPASS"',
    `--mysql-port=${context.sql.port}`,
    '--tables=1',
    `--mysql-db=${context.database}`,
    `--table-size=${rows} prepare`,
  ].join(' \\\n      ')
}

function awsSuffix(context: NarrationContext): string {
  return context.endpointUrl === undefined ? '' : ` \\\n      --endpoint-url ${context.endpointUrl}`
}

export function backtrackCommand(context: NarrationContext, to: Date): string {
  return (
    `aws rds backtrack-db-cluster --db-cluster-identifier ${context.clusterIdentifier} \\\n` +
    `      --backtrack-to "${formatRdsTime(to)}"${awsSuffix(context)}`
  )
}

function statusCommand(context: NarrationContext): string {
  return (
    `aws rds describe-db-clusters --db-cluster-identifier ${context.clusterIdentifier}${awsSuffix(context)} \\\n` +
    `      | jq -r '.DBClusters[0].Status'`
  )
}

function describe(step: ScenarioStep): string {
  if (step.title !== undefined) return step.title
  switch (step.kind) {
    case 'sql':
      return step.statements.length === 1 ? 'Run SQL' : `Run ${step.statements.length} SQL statements`
    case 'mark':
      return `Remember this moment as "${step.name}"`
    case 'sleep':
      return `Wait ${step.ms} ms`
    case 'sysbench':
      return `Load ${step.rows} rows into ${step.table} with sysbench prepare`
    case 'checksum':
      return `Checksum ${step.tables.join(', ')}`
    case 'backtrack':
      return `Backtrack the cluster to ${step.toText}`
    case 'expect':
      return 'Check the result'
  }
}

function sqlLines(step: ScenarioStep): string[] {
  switch (step.kind) {
    case 'sql':
      return step.statements.map((statement) => `mysql> ${statement.replace(/\s*\n\s*/g, ' ')};`)
    case 'checksum':
      return step.tables.map((table) => `mysql> CHECKSUM TABLE ${table};`)
    case 'expect':
      return step.checks.flatMap((check) => {
        switch (check.kind) {
          case 'tables':
            return ['mysql> SHOW TABLES;']
          case 'rows':
            return [`mysql> SELECT COUNT(*) FROM ${check.table};`]
          case 'checksum':
            return [`mysql> CHECKSUM TABLE ${check.table};`]
          case 'query':
            return [`mysql> ${check.sql};`]
        }
      })
    default:
      return []
  }
}

function formatRows(rows: Record<string, unknown>[]): string[] {
  if (rows.length === 0) return ['Empty set']
  const columns = Object.keys(rows[0]!)
  const shown = rows
    .slice(0, 10)
    .map((row) => columns.map((column) => (row[column] == null ? 'NULL' : sqlValueText(row[column]))))
  const widths = columns.map((column, i) => Math.max(column.length, ...shown.map((cells) => cells[i]!.length)))
  const line = (cells: string[]) => `| ${cells.map((cell, i) => cell.padEnd(widths[i]!)).join(' | ')} |`
  const rule = `+${widths.map((width) => '-'.repeat(width + 2)).join('+')}+`
  const more = rows.length > shown.length ? [`... ${rows.length - shown.length} more rows`] : []
  return [
    rule,
    line(columns),
    rule,
    ...shown.map(line),
    rule,
    ...more,
    `${rows.length} row${rows.length === 1 ? '' : 's'} in set`,
  ]
}

/** Turns runner events into narration. */
export function narrator(context: NarrationContext): (event: ScenarioEvent) => void {
  const out = (line = '') => context.write(`${line}\n`)
  let lastProgress = -1
  let progressShown = false
  const endProgress = () => {
    if (progressShown && context.tty) context.write('\n')
    progressShown = false
  }
  return (event) => {
    switch (event.type) {
      case 'step-start': {
        const { step } = event
        out()
        out(`[${event.index + 1}/${context.total}] ${describe(step)}`)
        if (step.kind === 'sysbench') out(`  $ ${sysbenchCommand(context, step.rows)}`)
        const lines = sqlLines(step)
        if (lines.length > 0) {
          out(`  $ ${mysqlCommand(context)}`)
          for (const line of lines) out(`  ${line}`)
        }
        if (step.kind === 'mark' && !context.live) {
          out(`  $ backtrack mark ${step.name}${context.dataDir === undefined ? '' : ` --data-dir ${context.dataDir}`}`)
        }
        lastProgress = -1
        return
      }
      case 'sql':
        for (const line of Array.isArray(event.outcome)
          ? formatRows(event.outcome)
          : [`Query OK, ${event.outcome.affectedRows} rows affected (${(event.ms / 1000).toFixed(2)} sec)`]) {
          out(`  ${line}`)
        }
        return
      case 'mark': {
        out(`  ${event.name} = ${formatRdsTime(event.at)}`)
        for (const [table, checksum] of Object.entries(event.checksums)) {
          out(`  CHECKSUM TABLE ${table} = ${checksum ?? '(no such table)'}`)
        }
        return
      }
      case 'sleep':
        out(`  waiting ${event.ms} ms ${event.reason}`)
        return
      case 'sysbench-progress': {
        const percent = Math.floor((event.rows / event.total) * 100)
        const text = `  loaded ${event.rows.toLocaleString('en-US')} / ${event.total.toLocaleString('en-US')} rows (${percent}%)`
        if (context.tty) {
          context.write(`\r${text}`)
          progressShown = true
          if (event.rows >= event.total) endProgress()
        } else if (Math.floor(percent / 10) !== lastProgress || event.rows >= event.total) {
          lastProgress = Math.floor(percent / 10)
          out(text)
        }
        return
      }
      case 'checksum':
        out(`  ${event.table}: checksum ${event.checksum ?? '(no such table)'}`)
        return
      case 'backtrack-requested': {
        const record = event.record
        out(`  $ ${backtrackCommand(context, record.BacktrackTo)}`)
        out(
          `  ${JSON.stringify({
            DBClusterIdentifier: record.DBClusterIdentifier,
            BacktrackIdentifier: record.BacktrackIdentifier,
            BacktrackTo: formatRdsTime(record.BacktrackTo),
            BacktrackRequestCreationTime: formatRdsTime(record.BacktrackRequestCreationTime),
            Status: record.Status,
          })}`,
        )
        out(`  $ ${statusCommand(context)}   # repeat until available`)
        return
      }
      case 'backtrack-status':
        out(
          event.clusterStatus === undefined
            ? `  backtrack ${event.backtrackStatus}`
            : `  backtrack ${event.backtrackStatus.padEnd(9)} cluster ${event.clusterStatus}`,
        )
        return
      case 'check':
        out(`  ${event.ok ? '✓' : '✗'} ${event.ok ? event.expected : `expected ${event.expected}`}`)
        if (!event.ok) out(`      actual ${event.actual}`)
        return
      case 'step-end':
        endProgress()
        if (event.error !== undefined) out(`  ✗ ${event.error}`)
        else if (event.ms >= 1000) out(`  (${(event.ms / 1000).toFixed(1)} s)`)
        return
    }
  }
}

/** The pass/fail summary at the end of lab and run. */
export function summary(name: string, result: ScenarioResult, totalSteps: number, ms: number): string {
  const ran = result.steps.length
  const lines = [
    '',
    `${result.passed ? 'PASS' : 'FAIL'}  ${name}: ${ran}/${totalSteps} steps in ${(ms / 1000).toFixed(1)} s`,
  ]
  for (const failure of result.failures) {
    lines.push(`  ✗ line ${failure.line}: ${failure.message}`)
    if (failure.expected !== undefined) lines.push(`      expected ${failure.expected}`)
    if (failure.actual !== undefined) lines.push(`      actual   ${failure.actual}`)
  }
  return lines.join('\n') + '\n'
}

/** The run as JSON for scripts. */
export function resultJson(name: string, result: ScenarioResult, ms: number): object {
  return {
    scenario: name,
    passed: result.passed,
    ms: Math.round(ms),
    steps: result.steps.map((step) => ({ ...step, ms: Math.round(step.ms) })),
    failures: result.failures,
    marks: Object.fromEntries(Object.entries(result.marks).map(([name, at]) => [name, formatRdsTime(at)])),
    backtracks: result.backtracks.map((record) => ({
      ...record,
      BacktrackTo: formatRdsTime(record.BacktrackTo),
      BacktrackRequestCreationTime: formatRdsTime(record.BacktrackRequestCreationTime),
      ...(record.BacktrackedFrom === undefined ? {} : { BacktrackedFrom: formatRdsTime(record.BacktrackedFrom) }),
    })),
  }
}
