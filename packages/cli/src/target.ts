// Where the time-travel commands (lab, to, list, run, find, diff, show) point: the running local cluster (through its
// RDS endpoint, the same code path as live), a temporary one, or real Aurora with --live.
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Option, type Command } from 'commander'
import { createRdsEngine, connectMysql, type SqlConnection } from '@backtrack/aws-adapter'
import { mountConsole } from '@backtrack/console'
import {
  BacktrackError,
  type BacktrackEngine,
  type ScenarioSql,
  type SqlEndpoint,
  type SqlOutcome,
} from '@backtrack/core'
import {
  LOCAL_POLL,
  startLocalCluster,
  type ClusterHistory,
  type LocalRdsTarget,
  type StartedLocalCluster,
} from '@backtrack/simulator'
import { CliFailure, localClient } from './commands/local-cluster-cli.js'

/** Options every cluster-facing command takes. */
export interface TargetOptions {
  dataDir?: string
  clusterId?: string
  live?: boolean
  region?: string
  profile?: string
  yesReallyBacktrackLive?: boolean
  json?: boolean
}

export function addTargetOptions(command: Command): Command {
  return command
    .option(
      '--data-dir <dir>',
      'the local cluster data dir (default $BACKTRACK_HOME/<cluster-id> or ~/.backtrack/<cluster-id>)',
    )
    .option('--cluster-id <id>', 'the cluster (default labstack-cluster; with --live, your Aurora cluster)')
    .option('--live', 'drive a real Aurora cluster through the AWS SDK (also BACKTRACK_TARGET=aws)')
    .option('--region <region>', 'AWS region (with --live)')
    .option('--profile <profile>', 'AWS shared-config profile (with --live)')
    .addOption(
      new Option('--yes-really-backtrack-live', 'backtrack a live cluster that is not tagged backtrack-testbed=true'),
    )
    .option('--json', 'print JSON for scripts')
}

/** An expected user mistake: exit code 2. */
export function usage(message: string): CliFailure {
  return new CliFailure(message, 2)
}

function usageOf(error: unknown): unknown {
  return BacktrackError.is(error, 'InvalidParameterValue') ? usage(error.message) : error
}

/** Turns a BacktrackError about the user's input into a usage error (exit 2), also when `fn` returns a promise. */
export function asUsage<T>(fn: () => T): T {
  try {
    const result = fn()
    if (result instanceof Promise) {
      return result.catch((error: unknown) => {
        throw usageOf(error)
      }) as T
    }
    return result
  } catch (error) {
    throw usageOf(error)
  }
}

export function isLive(options: TargetOptions): boolean {
  return options.live === true || process.env['BACKTRACK_TARGET']?.toLowerCase() === 'aws'
}

/** Commands that read the page log work on the simulator only. */
function assertSimulator(options: TargetOptions, command: string): void {
  if (isLive(options)) {
    const error = new BacktrackError(
      'UnsupportedOperation',
      `\`backtrack ${command}\` reads the simulator's page log, which Aurora does not expose: it is simulator-only. ` +
        'Drop --live (and BACKTRACK_TARGET=aws) to use it against a local cluster.',
    )
    throw usage(`${error.code}: ${error.message}`)
  }
}

/** A cluster to work with, however it is reached. */
export interface Target {
  kind: 'local' | 'temporary' | 'live'
  engine: BacktrackEngine
  /** The RDS endpoint URL of a local cluster (`--endpoint-url`). */
  endpointUrl?: string
  dataDir?: string
  sqlEndpoint(): Promise<SqlEndpoint>
  /** An exact mark; named ones are remembered by the local cluster. */
  mark(name?: string): Promise<Date>
  close(): Promise<void>
}

function liveTarget(options: TargetOptions): Target {
  if (options.clusterId === undefined) {
    throw usage('--live needs --cluster-id <your Aurora cluster identifier>')
  }
  const engine = createRdsEngine({
    clusterIdentifier: options.clusterId,
    ...(options.region === undefined ? {} : { region: options.region }),
    ...(options.profile === undefined ? {} : { profile: options.profile }),
    ...(options.yesReallyBacktrackLive ? { confirmLive: true } : {}),
  })
  return {
    kind: 'live',
    engine,
    sqlEndpoint: () => engine.sqlEndpoint(),
    mark: () => engine.mark(),
    close: () => engine.close(),
  }
}

// The SDK's advice to upgrade Node is noise in front of a local cluster.
function quietSdk(): void {
  process.env['AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED'] ??= 'true'
}

/** An RdsEngine for a local cluster: the same code path as live, through its RDS endpoint, at a local cadence. */
function engineFor(target: LocalRdsTarget) {
  quietSdk()
  return createRdsEngine(target)
}

/** The running local cluster of `--data-dir`, or Aurora with --live. */
export function openTarget(options: TargetOptions): Target {
  if (isLive(options)) return liveTarget(options)
  const client = localClient(options)
  const rds = client.rdsTarget()
  const sql = client.sqlEndpoint()
  const engine = engineFor(rds)
  return {
    kind: 'local',
    engine,
    endpointUrl: rds.endpointUrl,
    dataDir: client.dataDir,
    sqlEndpoint: async () => sql,
    mark: (name) => client.mark(name === undefined ? {} : { name }),
    close: () => engine.close(),
  }
}

/** A local cluster's history for find/diff/show (no running cluster needed). */
export function localHistory(options: TargetOptions, command: string): ClusterHistory {
  assertSimulator(options, command)
  const client = localClient(options)
  if (!client.hasHistory()) {
    throw new CliFailure(
      `no page log in ${client.dataDir}: start a cluster with \`backtrack up --data-dir ${client.dataDir}\`, or pass the --data-dir of yours`,
    )
  }
  return client.history()
}

/** A fresh local cluster in a temporary data dir (lab, run); `close()` stops it and removes its data unless kept. */
export async function startTemporaryCluster(
  options: { keep?: boolean; clusterId?: string; log?: (message: string) => void } = {},
): Promise<Target & { cluster: StartedLocalCluster }> {
  const dataDir = await mkdtemp(join(tmpdir(), 'backtrack-lab-'))
  let cluster: StartedLocalCluster
  try {
    cluster = await startLocalCluster({
      dataDir,
      ...(options.clusterId === undefined ? {} : { clusterIdentifier: options.clusterId }),
      ...(options.log === undefined ? {} : { logger: { info: options.log, warn: options.log } }),
      mount: mountConsole,
    })
  } catch (error) {
    await rm(dataDir, { recursive: true, force: true })
    throw error
  }
  const sql = cluster.sql
  const engine = engineFor({
    clusterIdentifier: cluster.clusterIdentifier,
    endpointUrl: cluster.rdsEndpoint,
    region: cluster.region,
    sql: { user: sql.user, password: sql.password },
    poll: LOCAL_POLL,
  })
  let closed = false
  return {
    kind: 'temporary',
    cluster,
    engine,
    endpointUrl: cluster.rdsEndpoint,
    dataDir,
    sqlEndpoint: async () => sql,
    mark: (name) => cluster.mark(name),
    close: async () => {
      if (closed) return
      closed = true
      await engine.close()
      await cluster.stop()
      if (!options.keep) await rm(dataDir, { recursive: true, force: true })
    },
  }
}

const LOST =
  /closed state|ECONNRESET|Connection lost|EPIPE|killed|server has gone away|PROTOCOL_CONNECTION_LOST|ECONNREFUSED/i

/**
 * A SQL session that reconnects once when a backtrack closed it (Aurora closes every connection, and so does the
 * simulator), as a person at the `mysql` prompt would. Statements run one at a time.
 */
export class ReconnectingSql implements ScenarioSql {
  readonly #endpoint: () => Promise<SqlEndpoint>
  readonly #database: string | undefined
  #connection: Promise<SqlConnection> | undefined

  constructor(endpoint: () => Promise<SqlEndpoint>, database?: string) {
    this.#endpoint = endpoint
    this.#database = database
  }

  async query(statement: string): Promise<SqlOutcome> {
    for (let attempt = 0; ; attempt++) {
      try {
        this.#connection ??= this.#endpoint().then((endpoint) =>
          connectMysql({ ...endpoint, ...(this.#database === undefined ? {} : { database: this.#database }) }),
        )
        const result: unknown = await (await this.#connection).query(statement)
        if (Array.isArray(result)) return result as Record<string, unknown>[]
        return { affectedRows: Number((result as { affectedRows?: number }).affectedRows ?? 0) }
      } catch (error) {
        const lost = LOST.test(String(error)) || (error as { fatal?: boolean }).fatal === true
        await this.close()
        // A write may have happened before the connection dropped; retry reads and connects only.
        if (!lost || attempt > 0 || !/^\s*(select|show|checksum|describe|explain)\b/i.test(statement)) {
          if (lost && attempt === 0 && this.#connectFailed(error)) continue
          throw error
        }
      }
    }
  }

  #connectFailed(error: unknown): boolean {
    return /ECONNREFUSED|closed state/i.test(String(error))
  }

  async close(): Promise<void> {
    const connection = this.#connection
    this.#connection = undefined
    if (connection !== undefined) await connection.then((c) => c.close()).catch(() => undefined)
  }
}
