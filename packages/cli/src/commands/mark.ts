import type { Command } from 'commander'
import { localClient } from './local-cluster-cli.js'

interface MarkOptions {
  dataDir?: string
  clusterId?: string
  json?: boolean
}

const EXAMPLES = `
Examples:
  $ backtrack mark                                   # 2026-11-24T00:10:00.124Z
  $ T=$(pnpm -s backtrack mark); ...; aws rds backtrack-db-cluster --db-cluster-identifier labstack-cluster \\
      --backtrack-to "$T" --endpoint-url $ENDPOINT_URL   # restores exactly the state at the mark
  $ backtrack mark before-drop --json               # {"mark":"…","name":"before-drop"}
`

/** `backtrack mark`: a time that separates everything committed so far from what follows. */
export function registerMark(program: Command): void {
  program
    .command('mark')
    .description(
      'Print a time (ISO-8601, ms) at which everything committed so far is captured: backtracking to it restores exactly the current state.',
    )
    .argument('[name]', 'also remember the mark under this name')
    .option(
      '--data-dir <dir>',
      'the cluster data dir (default $BACKTRACK_HOME/<cluster-id> or ~/.backtrack/<cluster-id>)',
    )
    .option('--cluster-id <id>', 'picks the default data dir (default labstack-cluster)')
    .option('--json', 'print one JSON object {mark, name?}')
    .addHelpText('after', EXAMPLES)
    .action(async (name: string | undefined, options: MarkOptions) => {
      const mark = (await localClient(options).mark(name === undefined ? {} : { name })).toISOString()
      process.stdout.write(
        options.json ? JSON.stringify({ mark, ...(name === undefined ? {} : { name }) }) + '\n' : `${mark}\n`,
      )
    })
}
