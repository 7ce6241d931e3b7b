import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { delimiter, join } from 'node:path'
import type { Command } from 'commander'
import { consoleUrl, localClient } from './local-cluster-cli.js'

interface ConsoleOptions {
  dataDir?: string
  clusterId?: string
  print?: boolean
}

const EXAMPLES = `
Examples:
  $ backtrack console                  # opens http://127.0.0.1:<api port>/console/ in your browser
  $ backtrack console --print          # only prints the URL (e.g. on a machine without a desktop)
The console shows the cluster, its timeline (change-record rate, DDL, marks, every backtrack as an arc), and for any
moment what a backtrack to it would undo, the commands to run it, and a "Backtrack to here" button.
`

/** The command that opens a URL in the desktop's browser, when there is one on the PATH. */
function findOpener(): string | undefined {
  const name = process.platform === 'darwin' ? 'open' : process.platform === 'win32' ? undefined : 'xdg-open'
  if (name === undefined) return undefined
  return (process.env['PATH'] ?? '')
    .split(delimiter)
    .map((dir) => join(dir, name))
    .find((path) => existsSync(path))
}

export function registerConsole(program: Command): void {
  program
    .command('console')
    .description("Open the running local cluster's web console in a browser (or print its URL).")
    .option(
      '--data-dir <dir>',
      'the local cluster data dir (default $BACKTRACK_HOME/<cluster-id> or ~/.backtrack/<cluster-id>)',
    )
    .option('--cluster-id <id>', 'picks the default data dir (default labstack-cluster)')
    .option('--print', 'print the URL without opening a browser')
    .addHelpText('after', EXAMPLES)
    .action((options: ConsoleOptions) => {
      const state = localClient(options).info()
      const url = consoleUrl(state.rdsEndpoint)
      const opener = options.print ? undefined : findOpener()
      if (opener !== undefined) {
        const child = spawn(opener, [url], { detached: true, stdio: 'ignore' })
        child.on('error', () => undefined)
        child.unref()
        process.stderr.write(`opening the console of ${state.clusterIdentifier} with ${opener}\n`)
      } else if (!options.print) {
        process.stderr.write('no browser opener (xdg-open / open) on the PATH; open this URL yourself:\n')
      }
      process.stdout.write(`${url}\n`)
    })
}
