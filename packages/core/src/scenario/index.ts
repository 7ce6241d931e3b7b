export type { Expectation, Scenario, ScenarioStep, SourcePosition } from './scenario.js'
export { parseScenario, ScenarioSyntaxError, type ParseScenarioOptions, type ScenarioIssue } from './parse-scenario.js'
export { sqlValueText } from './sql-value-text.js'
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
export type { SysbenchPrepareOptions } from './sysbench-table.js'
export {
  parseSysbenchRun,
  runSysbench,
  sysbenchArgs,
  sysbenchInstalled,
  type SysbenchOptions,
  type SysbenchRunResult,
} from './sysbench.js'
export { parseTimeExpression, resolveTimeExpression, type TimeContext, type TimeExpression } from './time-expression.js'
