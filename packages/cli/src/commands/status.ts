import type { Command } from 'commander'
import { CliFailure, localClient, type LocalClusterStatus } from './local-cluster-cli.js'

interface StatusOptions {
  dataDir?: string
  clusterId?: string
  json?: boolean
}

const EXAMPLES = `
Examples:
  $ backtrack status
  $ backtrack status --json | jq .captureLagMillis
Exit code 1 when the cluster is not running (with --json: {"status":"stopped",...}).
`

function humanWindow(seconds: number): string {
  if (seconds === 0) return '0 (backtracking disabled)'
  return seconds % 3600 === 0 ? `${seconds} s (${seconds / 3600} h)` : `${seconds} s`
}

function format(status: LocalClusterStatus): string {
  const rows: [string, string][] = [
    ['status', status.status],
    ['backtrack window', humanWindow(status.backtrackWindow)],
    ['earliest backtrack time', status.earliestBacktrackTime ?? '-'],
    ['change records', String(status.changeRecords)],
    ['capture lag', `${Math.round(status.captureLagMillis)} ms`],
    ...(status.captureFault === undefined
      ? []
      : [['capture stopped', `${status.captureFault.code}: ${status.captureFault.message}`] as [string, string]]),
    [
      'SQL endpoint',
      `${status.sql.host}:${status.sql.port} (user ${status.sql.user}, database ${status.sql.database ?? '-'})`,
    ],
    ['RDS endpoint', status.rdsEndpoint],
    ['connections', `${status.connections.open} open`],
    ['process ids', `cluster ${status.pid}, server ${status.serverPid ?? '- (not a private server)'}`],
    ['server', `${status.source}, ${status.serverVersion}`],
    ['data dir', status.dataDir],
  ]
  const others = status.clusters.filter((cluster) => cluster.clusterIdentifier !== status.clusterIdentifier)
  if (others.length > 0) {
    rows.push([
      'other clusters',
      others.map((cluster) => `${cluster.clusterIdentifier} (${cluster.status}, port ${cluster.sqlPort})`).join(', '),
    ])
  }
  const width = Math.max(...rows.map(([label]) => label.length))
  return [status.clusterIdentifier, ...rows.map(([label, value]) => `  ${label.padEnd(width)}  ${value}`), ''].join(
    '\n',
  )
}

/** `backtrack status`: what the running local cluster reports about itself. */
export function registerStatus(program: Command): void {
  program
    .command('status')
    .description(
      'Show a local cluster: status, backtrack window, earliest backtrack time, change records, capture lag, process ids.',
    )
    .option(
      '--data-dir <dir>',
      'the cluster data dir (default $BACKTRACK_HOME/<cluster-id> or ~/.backtrack/<cluster-id>)',
    )
    .option('--cluster-id <id>', 'picks the default data dir (default labstack-cluster)')
    .option('--json', 'print one JSON object')
    .addHelpText('after', EXAMPLES)
    .action(async (options: StatusOptions) => {
      const client = localClient(options)
      const known = client.state()
      if (options.json && known !== undefined && client.running() === undefined) {
        process.stdout.write(
          JSON.stringify({ clusterIdentifier: known.clusterIdentifier, status: 'stopped', dataDir: client.dataDir }) +
            '\n',
        )
        throw new CliFailure('', 1)
      }
      const status = await client.status()
      process.stdout.write(options.json ? JSON.stringify(status) + '\n' : format(status))
    })
}
