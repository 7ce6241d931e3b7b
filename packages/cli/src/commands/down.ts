import type { Command } from 'commander'
import { CliFailure, localClient } from './local-cluster-cli.js'

interface DownOptions {
  dataDir?: string
  clusterId?: string
  purge?: boolean
  json?: boolean
}

const STOP_TIMEOUT_MS = 120_000

const EXAMPLES = `
Examples:
  $ backtrack down                      # stop labstack-cluster, keep its data for the next \`up\`
  $ backtrack down --purge              # stop it and delete its data dir
  $ backtrack down --data-dir /tmp/lab --json
`

/** `backtrack down`: stops a local cluster (and with --purge deletes its data). */
export function registerDown(program: Command): void {
  program
    .command('down')
    .description('Stop a local cluster started with `up`; --purge also deletes its data.')
    .option(
      '--data-dir <dir>',
      'the cluster data dir (default $BACKTRACK_HOME/<cluster-id> or ~/.backtrack/<cluster-id>)',
    )
    .option('--cluster-id <id>', 'picks the default data dir (default labstack-cluster)')
    .option('--purge', 'delete the data dir (history, server data) after stopping')
    .option('--json', 'print one JSON object {clusterIdentifier, status, purged, dataDir}')
    .addHelpText('after', EXAMPLES)
    .action(async (options: DownOptions) => {
      const client = localClient(options)
      const dataDir = client.dataDir
      const state = client.state()
      if (state === undefined) {
        throw new CliFailure(
          `no cluster in ${dataDir} (it has no cluster.json): pass the --data-dir \`up\` printed` +
            (options.purge ? '; nothing was deleted' : ''),
        )
      }
      const { clusterPid, orphanServerPids: orphans } = await client.stop(STOP_TIMEOUT_MS)
      let what = clusterPid === undefined ? 'was not running' : `stopped (pid ${clusterPid})`
      if (orphans.length > 0) what += `; stopped servers left running (pid ${orphans.join(', ')})`
      if (options.purge) client.purge()
      if (options.json) {
        process.stdout.write(
          JSON.stringify({
            clusterIdentifier: state.clusterIdentifier,
            status: 'stopped',
            purged: options.purge === true,
            dataDir,
          }) + '\n',
        )
      } else {
        process.stdout.write(
          `${state.clusterIdentifier} ${what}` +
            (options.purge ? `; deleted ${dataDir}\n` : `; data kept in ${dataDir}\n`),
        )
      }
    })
}
