import type { Command } from 'commander'
import { timeOfMicros, type DecodedRow, type TableDiff } from '@backtrack/simulator'
import { asUsage, localHistory, usage, type TargetOptions } from '../target.js'

interface DiffOptions extends TargetOptions {
  from: string
  to?: string
  table?: string
  limit: number
}

const EXAMPLES = `
Examples:
  $ backtrack diff --from before-drop --to after-drop
  $ backtrack diff --from -5m --to now --table mylab.orders --limit 10
  $ backtrack diff --from 2026-11-24T00:10:00Z --to 2026-11-24T00:12:00Z --json
Times are ISO-8601, marker names (with offsets: 'before-drop + 1s'), relative (-90s) or now.
`

const compact = (row: DecodedRow | undefined) =>
  row === undefined
    ? ''
    : Object.entries(row)
        .map(
          ([column, value]) =>
            `${column}=${value === null ? 'NULL' : value.length > 40 ? `${value.slice(0, 37)}...` : value}`,
        )
        .join(' ')

export function registerDiff(program: Command): void {
  program
    .command('diff')
    .description('What changed between two times: DDL, rows inserted/updated/deleted per table, sample rows.')
    .requiredOption('--from <time>', 'the earlier time')
    .option('--to <time>', 'the later time (default now)')
    .option('--table <name>', 'only this table (table or db.table)')
    .option('--limit <n>', 'sample rows per table', (v) => Number(v), 5)
    .option(
      '--data-dir <dir>',
      'the local cluster data dir (default $BACKTRACK_HOME/<cluster-id> or ~/.backtrack/<cluster-id>)',
    )
    .option('--cluster-id <id>', 'picks the default data dir (default labstack-cluster)')
    .option('--live', 'not supported: diff is simulator-only')
    .option('--json', 'print JSON for scripts')
    .addHelpText('after', EXAMPLES)
    .action(async (options: DiffOptions) => {
      if (!Number.isInteger(options.limit) || options.limit < 0) throw usage('--limit expects a whole number >= 0')
      const history = localHistory(options, 'diff')
      try {
        const from = await asUsage(() => history.resolve(options.from))
        const to =
          options.to === undefined || options.to === 'now'
            ? Date.now() * 1000
            : await asUsage(() => history.resolve(options.to!))
        if (to < from) throw usage(`--to (${timeOfMicros(to)}) is before --from (${timeOfMicros(from)}); swap them`)
        const diff = history.diff(from, to, {
          ...(options.table === undefined ? {} : { table: options.table }),
          limit: options.limit,
        })
        if (options.json) {
          process.stdout.write(JSON.stringify(diff) + '\n')
          return
        }
        process.stdout.write(`Changes from ${diff.from} to ${diff.to}\n`)
        if (diff.ddl.length > 0) {
          process.stdout.write('DDL and backtracks:\n')
          for (const event of diff.ddl) process.stdout.write(`  ${event.time}  LSN ${event.lsn}  ${event.sql ?? ''}\n`)
        }
        if (diff.tables.length === 0) process.stdout.write('No row changes.\n')
        process.stdout.write(formatTableDiffs(diff.tables))
      } finally {
        history.close()
      }
    })
}

/** Tables and sample rows of a diff, as `diff` and `to --dry-run` print them. */
export function formatTableDiffs(tables: TableDiff[]): string {
  let out = ''
  for (const table of tables) {
    const counts = `+${table.inserted} inserted  ~${table.updated} updated  -${table.deleted} deleted`
    const change =
      table.change === 'rows'
        ? counts
        : table.change === 'created'
          ? `created, ${table.inserted} rows`
          : table.change === 'dropped'
            ? `dropped, had ${table.deleted} rows`
            : `dropped (${table.deleted} rows) and re-created (${table.inserted} rows)`
    out += `${table.table}: ${change}\n`
    for (const sample of table.samples) {
      const sign = sample.op === 'insert' ? '+' : sample.op === 'delete' ? '-' : '~'
      if (sample.op === 'update') out += `  ~ ${compact(sample.before)}\n    → ${compact(sample.after)}\n`
      else out += `  ${sign} ${compact(sample.after ?? sample.before)}\n`
    }
  }
  return out
}
