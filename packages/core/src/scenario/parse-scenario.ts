import { isMap, isScalar, isSeq, LineCounter, parseDocument, type Node, type Pair, type YAMLMap } from 'yaml'
import { BacktrackError } from '../errors.js'
import type { Expectation, Scenario, ScenarioStep, SourcePosition } from './scenario.js'
import { splitStatements } from './split-statements.js'
import { parseDuration, parseTimeExpression } from './time-expression.js'
import { sqlValueText } from './sql-value-text.js'

/** One problem in a scenario file, with where it is. */
export interface ScenarioIssue extends SourcePosition {
  message: string
}

/** A scenario file that cannot run; `issues` lists every problem found, each with its line. */
export class ScenarioSyntaxError extends BacktrackError {
  readonly issues: ScenarioIssue[]
  readonly source: string

  constructor(source: string, issues: ScenarioIssue[]) {
    super(
      'InvalidParameterValue',
      `${source} is not a valid scenario:\n` +
        issues.map((issue) => `  ${source}:${issue.line}:${issue.column}: ${issue.message}`).join('\n'),
    )
    this.source = source
    this.issues = issues
  }
}

export interface ParseScenarioOptions {
  /** File name for messages (default `scenario.yaml`). */
  source?: string
  /** Overrides of the file's `vars` (`--var table_size=1000`). */
  vars?: Record<string, string>
}

const STEP_KINDS = ['sql', 'mark', 'sleep', 'sysbench', 'checksum', 'backtrack', 'expect'] as const
const TOP_KEYS = ['name', 'description', 'database', 'vars', 'steps']
const IDENTIFIER = /^[A-Za-z_$][\w$]*(\.[A-Za-z_$][\w$]*)?$/

class Reader {
  readonly issues: ScenarioIssue[] = []
  readonly #lines: LineCounter
  readonly #vars: Record<string, string>

  constructor(lines: LineCounter, vars: Record<string, string>) {
    this.#lines = lines
    this.#vars = vars
  }

  at(node: Node | Pair | null | undefined): SourcePosition {
    const range = node !== null && node !== undefined && 'range' in node ? node.range : undefined
    const key = node !== null && node !== undefined && 'key' in node ? (node.key as Node | null) : undefined
    const offset = range?.[0] ?? key?.range?.[0] ?? 0
    const { line, col } = this.#lines.linePos(offset)
    return { line, column: col }
  }

  fail(node: Node | Pair | null | undefined, message: string): undefined {
    this.issues.push({ ...this.at(node), message })
    return undefined
  }

  /** A scalar as text with `${var}` substituted; undefined (and an issue) otherwise. */
  text(node: unknown, what: string): string | undefined {
    if (!isScalar(node) || node.value === null || typeof node.value === 'object') {
      return this.fail(node as Node, `${what} must be a ${what.includes('number') ? 'number' : 'text'} value`)
    }
    return sqlValueText(node.value).replace(/\$\{(\w+)\}/g, (whole, name: string) => {
      const value = this.#vars[name]
      if (value === undefined) {
        this.fail(node, `unknown variable \${${name}}: define it under vars: or pass --var ${name}=...`)
        return whole
      }
      return value
    })
  }

  integer(node: unknown, what: string): number | undefined {
    const text = this.text(node, `${what} (a number)`)
    if (text === undefined) return undefined
    const value = Number(text.replaceAll('_', ''))
    if (!Number.isInteger(value) || value < 0)
      return this.fail(node as Node, `${what} must be a whole number >= 0, not "${text}"`)
    return value
  }

  names(node: unknown, what: string): string[] | undefined {
    const items = isSeq(node) ? node.items : [node]
    const names: string[] = []
    for (const item of items) {
      const name = this.text(item, what)
      if (name === undefined) return undefined
      if (!IDENTIFIER.test(name))
        return this.fail(item as Node, `${what} "${name}" is not a table name (db.table or table)`)
      names.push(name)
    }
    return names
  }

  map(node: unknown, what: string, keys: readonly string[]): YAMLMap | undefined {
    if (!isMap(node)) return this.fail(node as Node, `${what} must be a mapping (key: value lines)`)
    for (const pair of node.items) {
      const key = isScalar(pair.key) ? String(pair.key.value) : ''
      if (!keys.includes(key)) {
        this.fail(pair, `unknown key "${key}" in ${what}; expected one of: ${keys.join(', ')}`)
      }
    }
    return node
  }
}

function pairOf(map: YAMLMap, key: string): Pair | undefined {
  return map.items.find((pair) => isScalar(pair.key) && pair.key.value === key)
}

function parseExpect(reader: Reader, node: unknown): Expectation[] | undefined {
  const map = reader.map(node, 'expect', ['tables', 'missing', 'rows', 'checksum', 'query', 'equals'])
  if (map === undefined) return undefined
  const issuesBefore = reader.issues.length
  const checks: Expectation[] = []
  const tables = pairOf(map, 'tables')
  const missing = pairOf(map, 'missing')
  if (tables !== undefined || missing !== undefined) {
    const at = reader.at(tables ?? missing)
    if (isMap(tables?.value)) {
      const spec = reader.map(tables.value, 'expect.tables', ['include', 'exclude', 'exact'])
      const include = pairOf(spec!, 'include')
      const exclude = pairOf(spec!, 'exclude')
      const exact = pairOf(spec!, 'exact')
      checks.push({
        kind: 'tables',
        include: include === undefined ? [] : (reader.names(include.value, 'table') ?? []),
        exclude: exclude === undefined ? [] : (reader.names(exclude.value, 'table') ?? []),
        ...(exact === undefined ? {} : { exact: reader.names(exact.value, 'table') ?? [] }),
        at,
      })
    } else {
      checks.push({
        kind: 'tables',
        include: tables === undefined ? [] : (reader.names(tables.value, 'table') ?? []),
        exclude: missing === undefined ? [] : (reader.names(missing.value, 'table') ?? []),
        at,
      })
    }
  }
  const rows = pairOf(map, 'rows')
  if (rows !== undefined) {
    const spec = isMap(rows.value) ? rows.value : undefined
    if (spec === undefined) reader.fail(rows, 'expect.rows must map tables to row counts, e.g. sbtest1: 20000')
    for (const pair of spec?.items ?? []) {
      const table = reader.names(pair.key, 'table')?.[0]
      const count = reader.integer(pair.value, `row count of ${table ?? 'table'}`)
      if (table !== undefined && count !== undefined) checks.push({ kind: 'rows', table, count, at: reader.at(pair) })
    }
  }
  const checksum = pairOf(map, 'checksum')
  if (checksum !== undefined) {
    const spec = isMap(checksum.value) ? checksum.value : undefined
    if (spec === undefined)
      reader.fail(checksum, 'expect.checksum must map tables to markers, e.g. sbtest1: before-drop')
    for (const pair of spec?.items ?? []) {
      const table = reader.names(pair.key, 'table')?.[0]
      const marker = reader.text(pair.value, 'marker name')
      if (table !== undefined && marker !== undefined) {
        checks.push({ kind: 'checksum', table, marker, at: reader.at(pair) })
      }
    }
  }
  const query = pairOf(map, 'query')
  const equals = pairOf(map, 'equals')
  if (query !== undefined) {
    const sql = reader.text(query.value, 'expect.query')
    if (equals === undefined)
      reader.fail(query, 'expect.query needs an equals: value (the first column of the first row)')
    const value = isScalar(equals?.value) ? equals.value.value : undefined
    if (equals !== undefined && !(value === null || typeof value === 'string' || typeof value === 'number')) {
      reader.fail(equals, 'expect.equals must be a number, text or null')
    } else if (sql !== undefined && equals !== undefined) {
      const expected = typeof value === 'string' ? reader.text(equals.value, 'expect.equals') : (value as number | null)
      if (expected !== undefined) checks.push({ kind: 'query', sql, equals: expected, at: reader.at(query) })
    }
  } else if (equals !== undefined) {
    reader.fail(equals, 'equals: belongs to a query: check')
  }
  if (checks.length === 0 && reader.issues.length === issuesBefore) {
    reader.fail(node as Node, 'expect needs at least one check: tables, missing, rows, checksum or query')
  }
  return checks
}

function parseStep(reader: Reader, node: unknown): ScenarioStep | undefined {
  const at = reader.at(node as Node)
  if (isScalar(node) && typeof node.value === 'string') {
    return reader.fail(node, `a step must be a mapping such as "- sql: ...", not "${node.value}"`)
  }
  const map = reader.map(node, 'a step', [...STEP_KINDS, 'title'])
  if (map === undefined) return undefined
  const kinds = map.items.filter((pair) => isScalar(pair.key) && STEP_KINDS.includes(pair.key.value as never))
  if (kinds.length !== 1) {
    return reader.fail(
      map,
      kinds.length === 0
        ? `a step needs one of: ${STEP_KINDS.join(', ')}`
        : `a step has one action, this one has ${kinds.map((pair) => (pair.key as { value: string }).value).join(' and ')}`,
    )
  }
  const titlePair = pairOf(map, 'title')
  const title = titlePair === undefined ? undefined : reader.text(titlePair.value, 'title')
  const base = { at, ...(title === undefined ? {} : { title }) }
  const pair = kinds[0]!
  const kind = (pair.key as { value: (typeof STEP_KINDS)[number] }).value
  const value = pair.value
  switch (kind) {
    case 'sql': {
      const text = reader.text(value, 'sql')
      if (text === undefined) return undefined
      const statements = splitStatements(text)
      if (statements.length === 0) return reader.fail(pair, 'sql: is empty')
      return { ...base, kind, statements }
    }
    case 'mark': {
      const name = reader.text(value, 'mark name')
      if (name === undefined) return undefined
      if (!/^[A-Za-z_][\w.-]*$/.test(name)) {
        return reader.fail(
          value as Node,
          `marker name "${name}" must start with a letter and hold only letters, digits, _ . -`,
        )
      }
      return { ...base, kind, name, checksums: [] }
    }
    case 'sleep': {
      const text = reader.text(value, 'sleep')
      if (text === undefined) return undefined
      try {
        return { ...base, kind, ms: parseDuration(text) }
      } catch (error) {
        return reader.fail(value as Node, (error as Error).message)
      }
    }
    case 'sysbench': {
      const spec = reader.map(value, 'sysbench', ['table', 'rows'])
      if (spec === undefined) return undefined
      const tablePair = pairOf(spec, 'table')
      const rowsPair = pairOf(spec, 'rows')
      if (rowsPair === undefined) return reader.fail(spec, 'sysbench needs rows: (the --table-size)')
      const table = tablePair === undefined ? 'sbtest1' : reader.names(tablePair.value, 'table')?.[0]
      const rows = reader.integer(rowsPair.value, 'sysbench rows')
      if (table === undefined || rows === undefined) return undefined
      return { ...base, kind, table, rows }
    }
    case 'checksum': {
      const tables = reader.names(value, 'checksum table')
      return tables === undefined ? undefined : { ...base, kind, tables }
    }
    case 'backtrack': {
      let toNode: unknown = value
      let useEarliest = false
      if (isMap(value)) {
        const spec = reader.map(value, 'backtrack', ['to', 'use-earliest'])!
        toNode = pairOf(spec, 'to')?.value
        if (toNode === undefined) return reader.fail(spec, 'backtrack needs to: <marker or time>')
        const earliest = pairOf(spec, 'use-earliest')
        if (earliest !== undefined) {
          if (!isScalar(earliest.value) || typeof earliest.value.value !== 'boolean') {
            return reader.fail(earliest, 'use-earliest must be true or false')
          }
          useEarliest = earliest.value.value
        }
      }
      const raw = reader.text(toNode, 'backtrack time')
      if (raw === undefined) return undefined
      const toText = raw.replace(/^to\s+/, '')
      try {
        return { ...base, kind, to: parseTimeExpression(toText), toText, useEarliest }
      } catch (error) {
        return reader.fail(toNode as Node, (error as Error).message)
      }
    }
    case 'expect': {
      const checks = parseExpect(reader, value)
      return checks === undefined ? undefined : { ...base, kind, checks }
    }
  }
}

/**
 * Parses a scenario file. Every problem is collected with its line and column, and thrown together as a
 * `ScenarioSyntaxError`; a file that parses only refers to markers it sets earlier.
 *
 * @example
 * const scenario = parseScenario(readFileSync('scenarios/bad-migration.yaml', 'utf8'), { source: 'bad-migration.yaml' })
 */
export function parseScenario(text: string, options: ParseScenarioOptions = {}): Scenario {
  const source = options.source ?? 'scenario.yaml'
  const lines = new LineCounter()
  const document = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true })
  // Only the first YAML error is worth reading: the rest are the parser losing its footing after it.
  const syntax = document.errors[0]
  if (syntax !== undefined) {
    const pos = syntax.linePos?.[0] ?? lines.linePos(syntax.pos[0])
    const lineText = text.split('\n')[pos.line - 1] ?? ''
    const hint = /\{[^}]*\$\{/.test(lineText) ? ' (quote a ${var} inside { }: rows: "${table_size}")' : ''
    const message = syntax.message.split('\n')[0]!.replace(/ at line \d+, column \d+.*$/, '')
    throw new ScenarioSyntaxError(source, [{ line: pos.line, column: pos.col, message: `${message}${hint}` }])
  }
  const probe = new Reader(lines, {})
  const root = probe.map(document.contents, 'the scenario file', TOP_KEYS)
  if (root === undefined) throw new ScenarioSyntaxError(source, probe.issues)

  const vars: Record<string, string> = {}
  const varsPair = pairOf(root, 'vars')
  if (varsPair !== undefined) {
    if (!isMap(varsPair.value)) probe.fail(varsPair, 'vars must map names to values, e.g. table_size: 20000')
    for (const pair of isMap(varsPair.value) ? varsPair.value.items : []) {
      const name = isScalar(pair.key) ? String(pair.key.value) : ''
      if (!isScalar(pair.value) || typeof pair.value.value === 'object')
        probe.fail(pair, `vars.${name} must be a plain value`)
      else vars[name] = sqlValueText(pair.value.value)
    }
  }
  for (const [name, value] of Object.entries(options.vars ?? {})) vars[name] = value
  const reader = new Reader(lines, vars)
  reader.issues.push(...probe.issues)

  const namePair = pairOf(root, 'name')
  const name =
    namePair === undefined ? reader.fail(root, 'the scenario needs a name:') : reader.text(namePair.value, 'name')
  const descriptionPair = pairOf(root, 'description')
  const description = descriptionPair === undefined ? undefined : reader.text(descriptionPair.value, 'description')
  const databasePair = pairOf(root, 'database')
  const database = databasePair === undefined ? undefined : reader.names(databasePair.value, 'database')?.[0]
  const stepsPair = pairOf(root, 'steps')
  const steps: ScenarioStep[] = []
  if (stepsPair === undefined)
    reader.fail(root, 'the scenario needs steps: (a list of sql, mark, backtrack, expect ...)')
  else if (!isSeq(stepsPair.value) || stepsPair.value.items.length === 0) {
    reader.fail(stepsPair, 'steps: must be a non-empty list ("- sql: ..." lines)')
  } else {
    for (const item of stepsPair.value.items) {
      const step = parseStep(reader, item)
      if (step !== undefined) steps.push(step)
    }
  }
  checkMarkers(reader, steps)
  if (reader.issues.length > 0) {
    throw new ScenarioSyntaxError(
      source,
      reader.issues.sort((a, b) => a.line - b.line || a.column - b.column),
    )
  }
  return {
    name: name!,
    ...(description === undefined ? {} : { description }),
    ...(database === undefined ? {} : { database }),
    vars,
    steps,
    source,
  }
}

/** Markers must be set before they are used; a checksum compared with a marker is taken when the marker is set. */
function checkMarkers(reader: Reader, steps: ScenarioStep[]): void {
  const marks = new Map<string, Extract<ScenarioStep, { kind: 'mark' }>>()
  for (const step of steps) {
    if (step.kind === 'mark') {
      if (marks.has(step.name)) reader.issues.push({ ...step.at, message: `marker "${step.name}" is set twice` })
      marks.set(step.name, step)
    } else if (step.kind === 'backtrack' && step.to.kind === 'marker' && !marks.has(step.to.name)) {
      reader.issues.push({
        ...step.at,
        message: `backtrack to unknown marker "${step.to.name}": add "- mark: ${step.to.name}" before this step`,
      })
    } else if (step.kind === 'expect') {
      for (const check of step.checks) {
        if (check.kind !== 'checksum') continue
        const mark = marks.get(check.marker)
        if (mark === undefined) {
          reader.issues.push({
            ...check.at,
            message: `checksum compared with unknown marker "${check.marker}": add "- mark: ${check.marker}" before this step`,
          })
        } else if (!mark.checksums.includes(check.table)) {
          mark.checksums.push(check.table)
        }
      }
    }
  }
}
