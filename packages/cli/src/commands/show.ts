import type { Command } from 'commander'
import { qualified, timeOfMicros } from '@backtrack/simulator'
import { asUsage, localHistory, usage, type TargetOptions } from '../target.js'

interface ShowOptions extends TargetOptions {
  asOf: string
  limit: number
}

const EXAMPLES = `
Examples:
  $ backtrack show mylab.sbtest1 --as-of before-drop --limit 5
  $ backtrack show orders --as-of -2m
  $ backtrack show mylab.users --as-of 2026-11-24T00:10:00Z --json | jq '.rows | length'
Nothing is rewound: the rows are read from the page log as they were at that time.
`

export function registerShow(program: Command): void {
  program
    .command('show')
    .description("A table's rows as they were at a time, without rewinding anything.")
    .argument('<table>', 'db.table (or a table name, in any database)')
    .requiredOption('--as-of <time>', 'ISO-8601, a marker name, or relative (-90s)')
    .option('--limit <n>', 'rows to show', (v) => Number(v), 20)
    .option(
      '--data-dir <dir>',
      'the local cluster data dir (default $BACKTRACK_HOME/<cluster-id> or ~/.backtrack/<cluster-id>)',
    )
    .option('--cluster-id <id>', 'picks the default data dir (default labstack-cluster)')
    .option('--live', 'not supported: show is simulator-only')
    .option('--json', 'print JSON for scripts')
    .addHelpText('after', EXAMPLES)
    .action(async (name: string, options: ShowOptions) => {
      if (!Number.isInteger(options.limit) || options.limit < 0) throw usage('--limit expects a whole number >= 0')
      const history = localHistory(options, 'show')
      try {
        const at = await asUsage(() => history.resolve(options.asOf))
        const table = history.tableAt(name, at)
        if (table === undefined) {
          const alive = history.tablesAt(at)
          throw usage(
            `no table ${name} at ${timeOfMicros(at)}; tables then: ${alive.length === 0 ? '(none)' : alive.join(', ')}`,
          )
        }
        const columns = table.schema.columns.map((column) => column.name)
        const rows = []
        let total = 0
        for (const row of history.rowsAt(table, at)) {
          if (rows.length < options.limit) rows.push(row)
          total++
        }
        if (options.json) {
          process.stdout.write(
            JSON.stringify({ table: qualified(table), asOf: timeOfMicros(at), columns, total, rows }) + '\n',
          )
          return
        }
        process.stdout.write(
          `${qualified(table)} as of ${timeOfMicros(at)}: ${total} rows${total > rows.length ? ` (first ${rows.length})` : ''}\n`,
        )
        const cells = rows.map((row) => columns.map((column) => row[column] ?? 'NULL'))
        const widths = columns.map((column, i) =>
          Math.min(60, Math.max(column.length, ...cells.map((c) => c[i]!.length))),
        )
        const line = (values: string[]) =>
          values
            .map((value, i) =>
              value.length > widths[i]! ? `${value.slice(0, widths[i]! - 3)}...` : value.padEnd(widths[i]!),
            )
            .join('  ')
            .trimEnd()
        process.stdout.write(`${line(columns)}\n${line(widths.map((w) => '-'.repeat(w)))}\n`)
        for (const values of cells) process.stdout.write(`${line(values)}\n`)
      } finally {
        history.close()
      }
    })
}
