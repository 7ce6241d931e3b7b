import { describe, expect, it } from 'vitest'
import { parseScenario, ScenarioSyntaxError } from './parse-scenario.js'

function issues(text: string): string[] {
  try {
    parseScenario(text, { source: 's.yaml' })
  } catch (error) {
    if (error instanceof ScenarioSyntaxError) return error.issues.map((issue) => `${issue.line}: ${issue.message}`)
    throw error
  }
  return []
}

const GOOD = `name: lab
database: mylab
vars:
  table_size: 200
steps:
  - sysbench: { table: sbtest1, rows: '\${table_size}' }
  - mark: before-drop
  - title: Drop the table
    sql: DROP TABLE sbtest1; SELECT 1
  - mark: after-drop
  - sleep: 500ms
  - backtrack: to after-drop + 1s
  - expect:
      missing: [sbtest1]
  - backtrack: { to: before-drop, use-earliest: true }
  - expect:
      tables: [sbtest1]
      rows:
        sbtest1: \${table_size}
      checksum: { sbtest1: before-drop }
      query: SELECT 1
      equals: 1
`

describe('parseScenario', () => {
  it('parses every step kind, substitutes vars and records which checksums a mark takes', () => {
    const scenario = parseScenario(GOOD, { vars: { table_size: '300' } })
    expect(scenario.database).toBe('mylab')
    expect(scenario.steps.map((step) => step.kind)).toEqual([
      'sysbench',
      'mark',
      'sql',
      'mark',
      'sleep',
      'backtrack',
      'expect',
      'backtrack',
      'expect',
    ])
    expect(scenario.steps[0]).toMatchObject({ kind: 'sysbench', rows: 300, at: { line: 6 } })
    expect(scenario.steps[1]).toMatchObject({ kind: 'mark', name: 'before-drop', checksums: ['sbtest1'] })
    expect(scenario.steps[2]).toMatchObject({ title: 'Drop the table', statements: ['DROP TABLE sbtest1', 'SELECT 1'] })
    expect(scenario.steps[4]).toMatchObject({ kind: 'sleep', ms: 500 })
    expect(scenario.steps[5]).toMatchObject({ to: { kind: 'marker', name: 'after-drop', offsetMs: 1000 } })
    expect(scenario.steps[7]).toMatchObject({ useEarliest: true, to: { name: 'before-drop', offsetMs: 0 } })
    expect(scenario.steps[8]).toMatchObject({
      checks: [
        { kind: 'tables', include: ['sbtest1'] },
        { kind: 'rows', table: 'sbtest1', count: 300 },
        { kind: 'checksum', table: 'sbtest1', marker: 'before-drop', at: { line: 20 } },
        { kind: 'query', sql: 'SELECT 1', equals: 1 },
      ],
    })
  })

  it('reports YAML syntax errors with their line', () => {
    expect(issues('name: x\nsteps:\n  - sql: [unclosed\n')).toEqual([expect.stringMatching(/^4: /)])
    expect(issues('name: x\nsteps:\n  - sysbench: { rows: ${n} }\n')).toEqual([
      expect.stringMatching(/^3: .*quote a \$\{var\} inside \{ \}/),
    ])
    expect(issues('name: x\nname: y\nsteps: []\n')[0]).toMatch(/^2: .*unique/i)
  })

  it('names every problem with its line: unknown keys, bad values, undefined markers and variables', () => {
    const text = `name: bad
steps:
  - sql: SELECT 1
  - mark: one
  - slep: 1s
  - sleep: soon
  - backtrack: to nowhere + 1s
  - expect:
      checksum: { t1: missing-mark }
  - sysbench:
      rows: \${size}
  - expect: { rows: { t1: many } }
  - expect: {}
  - "just text"
`
    expect(issues(text)).toEqual([
      '5: unknown key "slep" in a step; expected one of: sql, mark, sleep, sysbench, checksum, backtrack, expect, title',
      '5: a step needs one of: sql, mark, sleep, sysbench, checksum, backtrack, expect',
      '6: Invalid duration "soon": expected a number with a unit, such as 500ms, 90s, 5m, 1h.',
      '7: backtrack to unknown marker "nowhere": add "- mark: nowhere" before this step',
      '9: checksum compared with unknown marker "missing-mark": add "- mark: missing-mark" before this step',
      '11: unknown variable ${size}: define it under vars: or pass --var size=...',
      '11: sysbench rows must be a whole number >= 0, not "${size}"',
      '12: row count of t1 must be a whole number >= 0, not "many"',
      '13: expect needs at least one check: tables, missing, rows, checksum or query',
      '14: a step must be a mapping such as "- sql: ...", not "just text"',
    ])
  })

  it('needs a name and steps', () => {
    expect(issues('description: nothing\n')).toEqual([
      '1: the scenario needs a name:',
      '1: the scenario needs steps: (a list of sql, mark, backtrack, expect ...)',
    ])
    expect(issues('- a\n- b\n')).toEqual(['1: the scenario file must be a mapping (key: value lines)'])
  })

  it('puts file:line:column in the message', () => {
    expect(() => parseScenario('name: x\nsteps:\n  - mark: 1bad\n', { source: 'm.yaml' })).toThrow(
      /m\.yaml:3:11: marker name "1bad"/,
    )
  })
})
