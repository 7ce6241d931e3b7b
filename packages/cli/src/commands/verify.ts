import type { Command } from 'commander'
import type { VerifyReport } from '@backtrack/simulator'
import { CliFailure, localClient } from './local-cluster-cli.js'

interface VerifyOptions {
  dataDir?: string
  clusterId?: string
  json?: boolean
}

const EXAMPLES = `
Examples:
  $ backtrack verify
  $ backtrack verify --json | jq '.tables[] | select(.status != "same")'
Exit code 0 when every table matches, 1 when one drifted (or the cluster is not running).
`

function format(report: VerifyReport): string {
  const lines = report.tables.map((table) => {
    const name = `${table.database}.${table.table}`
    switch (table.status) {
      case 'same':
        return `  same     ${name} (${table.rows} rows)`
      case 'missing':
        return `  MISSING  ${name}: the page log has it (${table.rows} rows), the server does not`
      case 'extra':
        return `  EXTRA    ${name}: on the server, not in the page log`
      case 'differs': {
        const first = table.firstDifference
        const key = first === undefined ? '' : ` first at key (${first.key.join(', ')}): ${first.kind} on the server`
        return `  DIFFERS  ${name}:${key}`
      }
    }
  })
  const verdict = report.ok
    ? `every table matches the page log (LSN ${report.lsn})`
    : `the server has drifted from the page log (LSN ${report.lsn}): a rewind cannot be exact for the tables above`
  return [...lines, verdict, ''].join('\n')
}

/** `backtrack verify`: the page log's state as of now against the live tables. */
export function registerVerify(program: Command): void {
  program
    .command('verify')
    .description(
      "Compare a local cluster's page log as of now with the server's tables, table by table; report drift with the table and its first differing key.",
    )
    .option(
      '--data-dir <dir>',
      'the cluster data dir (default $BACKTRACK_HOME/<cluster-id> or ~/.backtrack/<cluster-id>)',
    )
    .option('--cluster-id <id>', 'picks the default data dir (default labstack-cluster)')
    .option('--json', 'print one JSON object {ok, lsn, tables: [...]}')
    .addHelpText('after', EXAMPLES)
    .action(async (options: VerifyOptions) => {
      const report = await localClient(options).verify()
      process.stdout.write(options.json ? JSON.stringify(report) + '\n' : format(report))
      if (!report.ok) throw new CliFailure('', 1)
    })
}
