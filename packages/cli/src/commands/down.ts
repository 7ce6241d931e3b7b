import { existsSync, readdirSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import type { Command } from 'commander'
import {
  isProcessAlive,
  readClusterState,
  stopOrphanServer,
  waitForProcessExit,
  writeClusterState,
} from '@backtrack/simulator'
import { CliFailure, resolveDataDir } from './local-cluster-cli.js'

interface DownOptions {
  dataDir?: string
  clusterId?: string
  purge?: boolean
  json?: boolean
}

const STOP_TIMEOUT_MS = 120_000

const EXAMPLES = `
Examples:
  $ pnpm backtrack down                      # stop labstack-cluster, keep its data for the next \`up\`
  $ pnpm backtrack down --purge              # stop it and delete its data dir
  $ pnpm backtrack down --data-dir /tmp/lab --json
`

/** Every private server data dir of a local cluster: its own and those of clusters made with CreateDBCluster. */
function serverDirs(dataDir: string): string[] {
  const clusters = join(dataDir, 'clusters')
  const created = existsSync(clusters) ? readdirSync(clusters).map((name) => join(clusters, name, 'mysql')) : []
  return [join(dataDir, 'mysql'), ...created]
}

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
      const dataDir = resolveDataDir(options.dataDir, options.clusterId)
      const state = readClusterState(dataDir)
      if (state === undefined) {
        throw new CliFailure(
          `no cluster in ${dataDir} (it has no cluster.json): pass the --data-dir \`up\` printed` +
            (options.purge ? '; nothing was deleted' : ''),
        )
      }
      let what = 'was not running'
      if (state.status !== 'stopped' && isProcessAlive(state.pid)) {
        process.kill(state.pid, 'SIGTERM')
        if (!(await waitForProcessExit(state.pid, STOP_TIMEOUT_MS))) {
          throw new CliFailure(
            `cluster process ${state.pid} did not stop within ${STOP_TIMEOUT_MS / 1000} s; see ${join(dataDir, 'cluster.log')}, ` +
              `or kill it (kill -9 ${state.pid}) and run \`down\` again`,
          )
        }
        what = `stopped (pid ${state.pid})`
      }
      // A cluster process killed with -9 leaves its servers running: stop them too.
      const orphans: number[] = []
      for (const dir of serverDirs(dataDir)) {
        const pid = await stopOrphanServer(dir)
        if (pid !== undefined) orphans.push(pid)
      }
      if (orphans.length > 0) what += `; stopped servers left running (pid ${orphans.join(', ')})`
      if (readClusterState(dataDir)?.status !== 'stopped') writeClusterState(dataDir, { ...state, status: 'stopped' })
      if (options.purge) rmSync(dataDir, { recursive: true, force: true })
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
