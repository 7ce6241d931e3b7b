// What up/down/status/mark share: where a cluster's data dir is, how to reach its control routes, how to print it.
import { homedir } from 'node:os'
import { join, resolve } from 'node:path'
import { InvalidArgumentError } from 'commander'
import { CONSOLE_PATH } from '@backtrack/console'
import { BacktrackError, isErrorCode } from '@backtrack/core'
import {
  CONTROL_ROUTES,
  readClusterState,
  runningClusterState,
  type LocalClusterInfo,
  type LocalClusterState,
  type LocalClusterStatus,
} from '@backtrack/simulator'

export const DEFAULT_CLUSTER_ID = 'labstack-cluster'

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

/** The running cluster on `dataDir`, or a failure that says how to start one. */
export function requireRunning(dataDir: string): LocalClusterState & { apiPort: number } {
  const state = runningClusterState(dataDir)
  if (state === undefined || state.apiPort === undefined) {
    const known = readClusterState(dataDir)
    throw new CliFailure(
      known === undefined
        ? `no cluster in ${dataDir}: start one with \`pnpm backtrack up --data-dir ${dataDir}\` (or pass the --data-dir of yours)`
        : `cluster ${known.clusterIdentifier} in ${dataDir} is not running: start it with \`pnpm backtrack up --data-dir ${dataDir}\``,
    )
  }
  return state as LocalClusterState & { apiPort: number }
}

function controlUrl(state: LocalClusterState & { apiPort: number }, path: string): string {
  const host = state.host === '0.0.0.0' || state.host === '::' ? '127.0.0.1' : state.host
  return `http://${host.includes(':') ? `[${host}]` : host}:${state.apiPort}${path}`
}

/** Calls a control route of the running cluster and returns its JSON answer. */
export async function callControl<T>(
  state: LocalClusterState & { apiPort: number },
  route: keyof typeof CONTROL_ROUTES,
  options: { method?: 'GET' | 'POST'; query?: Record<string, string>; timeoutMs?: number } = {},
): Promise<T> {
  const url = new URL(controlUrl(state, CONTROL_ROUTES[route]))
  for (const [key, value] of Object.entries(options.query ?? {})) url.searchParams.set(key, value)
  let response: Response
  try {
    response = await fetch(url, {
      method: options.method ?? 'GET',
      signal: AbortSignal.timeout(options.timeoutMs ?? 30_000),
    })
  } catch (error) {
    throw new CliFailure(
      `cluster ${state.clusterIdentifier} (pid ${state.pid}) does not answer on ${url.origin} (${(error as Error).message}); ` +
        `see ${join(state.dataDir, 'cluster.log')} or restart it with \`pnpm backtrack down --data-dir ${state.dataDir}\` and \`up\``,
    )
  }
  const body = (await response.json().catch(() => ({}))) as T & { error?: { code: string; message: string } }
  if (!response.ok) {
    const error = body.error
    throw new BacktrackError(
      error !== undefined && isErrorCode(error.code) ? error.code : 'InternalFailure',
      error?.message ?? `HTTP ${response.status} from ${url.href}`,
    )
  }
  return body
}

/** `'...'` for a POSIX shell. */
export function shellQuote(value: string): string {
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

/** The `up --json` object of a running cluster, from its state file. */
export function infoFromState(state: LocalClusterState): UpInfo {
  if (state.sql === undefined || state.rdsEndpoint === undefined) {
    throw new CliFailure(`the state file of ${state.dataDir} is incomplete: stop the cluster and start it again`)
  }
  return {
    clusterIdentifier: state.clusterIdentifier,
    status: 'available',
    sql: state.sql,
    rdsEndpoint: state.rdsEndpoint,
    region: state.region,
    dataDir: state.dataDir,
    console: consoleUrl(state.rdsEndpoint),
  }
}

export type { LocalClusterStatus }
