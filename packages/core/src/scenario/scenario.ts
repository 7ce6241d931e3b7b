import type { TimeExpression } from './time-expression.js'

/** Where a piece of a scenario file is, 1-based, for messages. */
export interface SourcePosition {
  line: number
  column: number
}

/** One check of an `expect` step. */
export type Expectation =
  | { kind: 'tables'; include: string[]; exclude: string[]; exact?: string[]; at: SourcePosition }
  | { kind: 'rows'; table: string; count: number; at: SourcePosition }
  | { kind: 'checksum'; table: string; marker: string; at: SourcePosition }
  | { kind: 'query'; sql: string; equals: string | number | null; at: SourcePosition }

interface StepBase {
  /** Where the step starts in the file. */
  at: SourcePosition
  /** What the step is for, in words (`title:`); narrated before it runs. */
  title?: string
}

export type ScenarioStep = StepBase &
  (
    | { kind: 'sql'; statements: string[] }
    | {
        kind: 'mark'
        name: string
        /** Tables whose checksum a later expect compares with this mark. */ checksums: string[]
      }
    | { kind: 'sleep'; ms: number }
    | { kind: 'sysbench'; table: string; rows: number }
    | { kind: 'checksum'; tables: string[] }
    | { kind: 'backtrack'; to: TimeExpression; toText: string; useEarliest: boolean }
    | { kind: 'expect'; checks: Expectation[] }
  )

/** A parsed scenario file: the same steps run offline against the simulator and live against Aurora. */
export interface Scenario {
  name: string
  description?: string
  /** Database the steps' SQL runs in (default: the cluster's). */
  database?: string
  /** Variables after overrides, as substituted into `${name}` placeholders. */
  vars: Record<string, string>
  steps: ScenarioStep[]
  /** File name used in messages. */
  source: string
}
