// What up/down/status/mark share: where a cluster's data dir is, its client, how to print it.
import { homedir } from 'node:os'
import { join, resolve } from 'node:path'
import { InvalidArgumentError } from 'commander'
import { CONSOLE_PATH } from '@backtrack/console'
import { LocalClusterClient, type LocalClusterInfo, type LocalClusterStatus } from '@backtrack/simulator'

const DEFAULT_CLUSTER_ID = 'labstack-cluster'

/** An expected failure: printed as `backtrack: <message>` without a stack trace, exit code 1. */
export class CliFailure extends Error {
  override readonly name = 'CliFailure'
  readonly exitCode: number

  constructor(message: string, exitCode = 1) {
    super(message)
    this.exitCode = exitCode
  }
}

/** `--data-dir`, else `$BACKTRACK_HOME/<cluster-id>`, else `~/.backtrack/<cluster-id>`. */
export function resolveDataDir(dataDir: string | undefined, clusterId: string | undefined): string {
  if (dataDir !== undefined) return resolve(dataDir)
  const home = process.env.BACKTRACK_HOME ?? join(homedir(), '.backtrack')
  return resolve(home, (clusterId ?? DEFAULT_CLUSTER_ID).toLowerCase())
}

export function parsePort(value: string): number {
  const port = Number(value)
  if (!/^\d+$/.test(value) || port < 1 || port > 65535) {
    throw new InvalidArgumentError('expected a TCP port, 1..65535.')
  }
  return port
}

export function parseSeconds(value: string): number {
  const seconds = Number(value)
  if (!/^\d+$/.test(value) || seconds > 259_200) {
    throw new InvalidArgumentError('expected whole seconds, 0..259200 (72 hours; 0 disables backtracking).')
  }
  return seconds
}

/** The client of the local cluster in `--data-dir` (or the default data dir of `--cluster-id`). */
export function localClient(options: { dataDir?: string; clusterId?: string }): LocalClusterClient {
  return new LocalClusterClient(resolveDataDir(options.dataDir, options.clusterId))
}

/** `'...'` for a POSIX shell. */
function shellQuote(value: string): string {
  return /^[\w@%+=:,./-]+$/.test(value) ? value : `'${value.replaceAll("'", `'\\''`)}'`
}

/** What `up --json` prints: how to reach the cluster, and its console. */
export type UpInfo = LocalClusterInfo & { console: string }

/** The console's URL on a cluster's RDS endpoint (the CLI mounts it on every cluster it starts). */
export function consoleUrl(rdsEndpoint: string): string {
  return `${rdsEndpoint}${CONSOLE_PATH}`
}

export function withConsole(info: LocalClusterInfo): UpInfo {
  return { ...info, console: consoleUrl(info.rdsEndpoint) }
}

/** The cluster as shell exports a person can paste, like the lab's environment. */
export function formatExports(info: UpInfo): string {
  const { sql } = info
  return [
    `# ${info.clusterIdentifier} is ${info.status} (data in ${info.dataDir})`,
    `export DBUSER=${shellQuote(sql.user)}`,
    `export DBPASS=${shellQuote(sql.password)}`,
    `export CLUSTER_ENDPOINT=${shellQuote(sql.host)}`,
    `export CLUSTER_PORT=${sql.port}`,
    `# the mysql client reads its default port from MYSQL_TCP_PORT, so the lab's commands run as written:`,
    `export MYSQL_TCP_PORT=${sql.port}`,
    `export ENDPOINT_URL=${shellQuote(info.rdsEndpoint)}`,
    `export AWS_DEFAULT_REGION="\${AWS_DEFAULT_REGION:-${info.region}}"`,
    `# any AWS credentials are accepted; with none configured: export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test`,
    `#   mysql -h$CLUSTER_ENDPOINT -u$DBUSER -p"$DBPASS" ${sql.database ?? 'mylab'}`,
    `#   sysbench oltp_write_only ... --mysql-host=$CLUSTER_ENDPOINT --mysql-port=$CLUSTER_PORT ...`,
    `#   aws rds describe-db-clusters --db-cluster-identifier ${info.clusterIdentifier} --endpoint-url $ENDPOINT_URL`,
    `# the console (timeline, previews, backtrack button): ${info.console}   (or: backtrack console)`,
    '',
  ].join('\n')
}

export type { LocalClusterStatus }
