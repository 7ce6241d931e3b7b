import type { Command } from 'commander'
import type { HistoryMatch } from '@backtrack/simulator'
import { localHistory, usage, type TargetOptions } from '../target.js'
import { resolveDataDir } from './local-cluster-cli.js'

interface FindOptions extends TargetOptions {
  ddl?: string
  table?: string
  sql?: string
  limit: number
}

const EXAMPLES = `
Examples:
  $ backtrack find --ddl 'DROP TABLE sbtest1'
  $ backtrack find --table sbtest1             # DDL on it and transactions that wrote to it
  $ backtrack find --sql 'DELETE FROM orders'  # the first statement of each transaction (MariaDB annotate) or the DDL
  $ backtrack find --ddl 'drop table' --json | jq -r '.[-1].command'
Each match shows its commit time, the last safe moment before it and the exact \`backtrack to\` command that rewinds
to that moment. Reads the local cluster's page log (simulator-only; read while the cluster runs).
`

interface FindMatch extends HistoryMatch {
  command: string | null
}

export function registerFind(program: Command): void {
  program
    .command('find')
    .description('Search the page log for the moment to rewind to: DDL, a table, or SQL text.')
    .option('--ddl <text>', 'DDL statements containing this text (case and backticks ignored)')
    .option('--table <name>', 'transactions that changed this table (table or db.table), DDL included')
    .option('--sql <text>', 'transactions whose SQL contains this text')
    .option('--limit <n>', 'show at most this many matches (newest)', (v) => Number(v), 20)
    .option(
      '--data-dir <dir>',
      'the local cluster data dir (default $BACKTRACK_HOME/<cluster-id> or ~/.backtrack/<cluster-id>)',
    )
    .option('--cluster-id <id>', 'picks the default data dir (default labstack-cluster)')
    .option('--live', 'not supported: find is simulator-only')
    .option('--json', 'print JSON for scripts')
    .addHelpText('after', EXAMPLES)
    .action(async (options: FindOptions) => {
      if (options.ddl === undefined && options.table === undefined && options.sql === undefined) {
        throw usage('find needs --ddl <text>, --table <name> or --sql <text> (see backtrack find --help)')
      }
      const history = localHistory(options, 'find')
      const dataDir = resolveDataDir(options.dataDir, options.clusterId)
      try {
        const matches: FindMatch[] = history
          .find({
            ...(options.ddl === undefined ? {} : { ddl: options.ddl }),
            ...(options.table === undefined ? {} : { table: options.table }),
            ...(options.sql === undefined ? {} : { sql: options.sql }),
          })
          .map((match) => ({
            ...match,
            command: match.safeTo === null ? null : `backtrack to ${match.safeTo} --data-dir ${dataDir} --wait`,
          }))
        const shown = matches.slice(-options.limit)
        if (options.json) {
          process.stdout.write(JSON.stringify(shown) + '\n')
          return
        }
        if (shown.length === 0) {
          process.stdout.write('No matching transactions in the page log (the window may have pruned older ones).\n')
          return
        }
        for (const match of shown) {
          const tables = Object.entries(match.tables)
            .map(([name, n]) => `${name} (${n} rows)`)
            .join(', ')
          process.stdout.write(
            `LSN ${match.lsn}  ${match.time}  ${match.kind.toUpperCase()}  ${(match.sql ?? '(no statement text)').replace(/\s+/g, ' ').slice(0, 160)}\n` +
              (tables === '' ? '' : `  wrote: ${tables}\n`) +
              (match.undone ? '  (undone by a later backtrack)\n' : '') +
              (match.safeTo === null
                ? `  no millisecond separates it from LSN ${match.previous?.lsn}; rewind to ${match.previous?.time} to undo both\n`
                : `  last safe moment: ${match.safeTo}` +
                  (match.previous === null
                    ? '\n'
                    : ` (previous: LSN ${match.previous.lsn} at ${match.previous.time})\n`) +
                  `  $ ${match.command}\n`),
          )
        }
        if (matches.length > shown.length)
          process.stdout.write(`(${matches.length - shown.length} older matches not shown; --limit)\n`)
      } finally {
        history.close()
      }
    })
}
