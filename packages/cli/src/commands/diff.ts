import type { Command } from 'commander'
import { PageLogReader, timeOfMicros, type DecodedRow } from '../page-log-reader.js'
import { localPageLog, usage, type TargetOptions } from '../target.js'

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
      const reader = new PageLogReader(localPageLog(options, 'diff'))
      try {
        const from = await reader.resolve(options.from)
        const to =
          options.to === undefined || options.to === 'now' ? Date.now() * 1000 : await reader.resolve(options.to)
        if (to < from) throw usage(`--to (${timeOfMicros(to)}) is before --from (${timeOfMicros(from)}); swap them`)
        const ddl = reader
          .transactions(from, to)
          .filter((txn) => txn.kind === 'ddl' || txn.kind === 'backtrack')
          .map((txn) => ({ lsn: txn.lsn, time: timeOfMicros(txn.commitMicros), kind: txn.kind, sql: txn.sql }))
        const tables = reader.diff(from, to, {
          ...(options.table === undefined ? {} : { table: options.table }),
          limit: options.limit,
        })
        if (options.json) {
          process.stdout.write(JSON.stringify({ from: timeOfMicros(from), to: timeOfMicros(to), ddl, tables }) + '\n')
          return
        }
        process.stdout.write(`Changes from ${timeOfMicros(from)} to ${timeOfMicros(to)}\n`)
        if (ddl.length > 0) {
          process.stdout.write('DDL and backtracks:\n')
          for (const event of ddl) process.stdout.write(`  ${event.time}  LSN ${event.lsn}  ${event.sql ?? ''}\n`)
        }
        if (tables.length === 0) process.stdout.write('No row changes.\n')
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
          process.stdout.write(`${table.table}: ${change}\n`)
          for (const sample of table.samples) {
            const sign = sample.op === 'insert' ? '+' : sample.op === 'delete' ? '-' : '~'
            if (sample.op === 'update') {
              process.stdout.write(`  ~ ${compact(sample.before)}\n    → ${compact(sample.after)}\n`)
            } else process.stdout.write(`  ${sign} ${compact(sample.after ?? sample.before)}\n`)
          }
        }
      } finally {
        reader.close()
      }
    })
}
