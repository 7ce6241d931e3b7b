export type { Expectation, Scenario, ScenarioStep, SourcePosition } from './scenario.js'
export { parseScenario, ScenarioSyntaxError, type ParseScenarioOptions, type ScenarioIssue } from './parse-scenario.js'
export {
  runScenario,
  type RunScenarioOptions,
  type ScenarioEvent,
  type ScenarioFailure,
  type ScenarioResult,
  type ScenarioSql,
  type ScenarioTarget,
  type SqlOutcome,
} from './run-scenario.js'
export { prepareSysbenchTable, sysbenchCreateTableSql, type SysbenchPrepareOptions } from './sysbench-table.js'
export {
  parseSysbenchRun,
  runSysbench,
  sysbenchArgs,
  sysbenchInstalled,
  type SysbenchOptions,
  type SysbenchRunResult,
} from './sysbench.js'
export { splitStatements } from './split-statements.js'
export {
  formatDuration,
  formatTimeExpression,
  parseDuration,
  parseTimeExpression,
  resolveTimeExpression,
  type TimeContext,
  type TimeExpression,
} from './time-expression.js'
