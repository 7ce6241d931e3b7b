import { existsSync, rmSync } from 'node:fs'
import { resolve } from 'node:path'
import { BacktrackError, isErrorCode, type PollCadence, type SqlEndpoint } from '@backtrack/core'
import { isProcessAlive, stopOrphanServer, waitForProcessExit } from '@backtrack/mysql-server'
import { signRequest } from '@backtrack/rds-endpoint'
import { openClusterHistory, type ClusterHistory } from '../history/cluster-history.js'
import { readClusterState, runningClusterState, writeClusterState, type LocalClusterState } from './cluster-state.js'
import { DATA_DIR } from './data-dir.js'
import {
  CONTROL_ROUTES,
  CONTROL_SIGNING_NAME,
  type LocalClusterInfo,
  type LocalClusterStatus,
} from './local-cluster.js'
import type { VerifyReport } from '../verify/verify-state.js'

/** A local cluster's state while its process serves: the RDS endpoint (and control routes) and the SQL endpoint. */
export type RunningLocalCluster = LocalClusterState & { apiPort: number; sql: SqlEndpoint; rdsEndpoint: string }

/**
 * Everything an RDS client needs to drive a local cluster through its RDS endpoint, as `RdsEngine` does live:
 * `createRdsEngine({ ...client.rdsTarget() })`.
 */
export interface LocalRdsTarget {
  clusterIdentifier: string
  endpointUrl: string
  region: string
  /** The application account (`$DBUSER` / `$DBPASS`) for the SQL side. */
  sql: { user: string; password: string }
  /** A local cluster's backtracks take milliseconds to seconds: poll it far faster than Aurora. */
  poll: Required<PollCadence>
}

/** How `waitForBacktrack` polls a local cluster through its RDS endpoint. */
export const LOCAL_POLL: Required<PollCadence> = { pollMs: 50, maxPollMs: 250 }

/**
 * How another process reaches a local cluster by its data dir: the one client of the cluster's control routes
 * (status, exact and named marks) and of its history, and the one place besides the cluster itself that knows
 * the data dir's layout. What the RDS API offers (describe, backtrack, wait) goes through `rdsTarget()` and an RDS
 * client instead, the same code path as live Aurora.
 *
 * @example
 * const client = new LocalClusterClient('~/.backtrack/labstack-cluster')
 * const before = await client.mark('before-drop')
 * const engine = createRdsEngine(client.rdsTarget())
 */
export class LocalClusterClient {
  readonly dataDir: string

  constructor(dataDir: string) {
    this.dataDir = resolve(dataDir)
  }

  /** Where a detached `backtrack up` logs. */
  get logFile(): string {
    return DATA_DIR.logFile(this.dataDir)
  }

  /** The cluster's state file, running or not; undefined when the data dir holds no cluster. */
  state(): LocalClusterState | undefined {
    return readClusterState(this.dataDir)
  }

  /** The cluster's state while its process is alive (`starting` or `available`); undefined otherwise. */
  running(): LocalClusterState | undefined {
    return runningClusterState(this.dataDir)
  }

  /** How to reach the running cluster, as `backtrack up --json` prints it. */
  info(): LocalClusterInfo {
    const state = this.#requireRunning()
    return {
      clusterIdentifier: state.clusterIdentifier,
      status: 'available',
      sql: state.sql,
      rdsEndpoint: state.rdsEndpoint,
      region: state.region,
      dataDir: state.dataDir,
    }
  }

  /** What an RDS client needs to drive the running cluster; see `LocalRdsTarget`. */
  rdsTarget(): LocalRdsTarget {
    const state = this.#requireRunning()
    return {
      clusterIdentifier: state.clusterIdentifier,
      endpointUrl: state.rdsEndpoint,
      region: state.region,
      sql: { user: state.sql.user, password: state.sql.password },
      poll: LOCAL_POLL,
    }
  }

  /** Where and as whom the running cluster's SQL side is reached. */
  sqlEndpoint(): SqlEndpoint {
    return this.#requireRunning().sql
  }

  /** What the running cluster reports about itself (`backtrack status`). */
  /**
   * What the running cluster reports about itself. The route never sends the SQL password; the client adds it from
   * the state file (readable by its owner only), so `status --json` still says how to log in.
   */
  async status(): Promise<LocalClusterStatus & { sql: { password?: string } }> {
    const status = await this.#call<LocalClusterStatus>('status', 'GET')
    const password = this.state()?.sql?.password
    return password === undefined ? status : { ...status, sql: { ...status.sql, password } }
  }

  /**
   * An exact mark of the running cluster: a time at which everything committed so far is captured, so a backtrack
   * to it restores exactly the current state. With `name`, also remembered as a marker (`backtrack to <name>`).
   * `clusterIdentifier` picks a cluster made with CreateDBCluster; default the primary.
   */
  async mark(options: { name?: string; clusterIdentifier?: string } = {}): Promise<Date> {
    const query: Record<string, string> = {}
    if (options.name !== undefined) query['name'] = options.name
    if (options.clusterIdentifier !== undefined) query['cluster'] = options.clusterIdentifier
    const { mark } = await this.#call<{ mark: string }>('mark', 'POST', query)
    return new Date(mark)
  }

  /**
   * Compares the running cluster's page log as of now with its server's tables (see `SimulatorEngine.verify`):
   * every table, and the first differing key of any that drifted.
   */
  verify(options: { clusterIdentifier?: string } = {}): Promise<VerifyReport> {
    const query: Record<string, string> = {}
    if (options.clusterIdentifier !== undefined) query['cluster'] = options.clusterIdentifier
    // Reading every table takes a while on a big database.
    return this.#call<VerifyReport>('verify', 'POST', query, 30 * 60_000)
  }

  /** True when the data dir holds a cluster's history (the cluster need not run). */
  hasHistory(): boolean {
    return existsSync(DATA_DIR.pageLogFile(this.dataDir))
  }

  /** The cluster's history, read-only (the cluster may be running or stopped); close it when done. */
  history(): ClusterHistory {
    return openClusterHistory(this.dataDir)
  }

  /**
   * Stops the cluster's process (SIGTERM: it stops its servers in order) and any server a killed process left
   * running, and marks the state stopped. Resolves with what was stopped; the data stays unless `purge()`d.
   */
  async stop(timeoutMs = 120_000): Promise<{ clusterPid?: number; orphanServerPids: number[] }> {
    const state = this.state()
    if (state === undefined) {
      throw new BacktrackError(
        'DBClusterNotFoundFault',
        `no cluster in ${this.dataDir} (it has no cluster.json): pass the --data-dir \`up\` printed`,
      )
    }
    let clusterPid: number | undefined
    if (state.status !== 'stopped' && isProcessAlive(state.pid)) {
      process.kill(state.pid, 'SIGTERM')
      if (!(await waitForProcessExit(state.pid, timeoutMs))) {
        throw new BacktrackError(
          'InvalidDBClusterStateFault',
          `cluster process ${state.pid} did not stop within ${timeoutMs / 1000} s; see ${this.logFile}, ` +
            `or kill it (kill -9 ${state.pid}) and run \`down\` again`,
        )
      }
      clusterPid = state.pid
    }
    // A cluster process killed with -9 leaves its servers running: stop them too.
    const orphanServerPids: number[] = []
    for (const dir of DATA_DIR.serverDirs(this.dataDir)) {
      const pid = await stopOrphanServer(dir)
      if (pid !== undefined) orphanServerPids.push(pid)
    }
    if (this.state()?.status !== 'stopped') writeClusterState(this.dataDir, { ...state, status: 'stopped' })
    return { ...(clusterPid === undefined ? {} : { clusterPid }), orphanServerPids }
  }

  /** Deletes the data dir: the history, the server's data, everything. Stop the cluster first. */
  purge(): void {
    rmSync(this.dataDir, { recursive: true, force: true })
  }

  #requireRunning(): RunningLocalCluster {
    const running = this.running()
    if (running?.apiPort !== undefined && running.sql !== undefined && running.rdsEndpoint !== undefined) {
      return running as RunningLocalCluster
    }
    const known = this.state()
    throw new BacktrackError(
      'DBClusterNotFoundFault',
      known === undefined
        ? `no cluster in ${this.dataDir}: start one with \`backtrack up --data-dir ${this.dataDir}\` (or pass the --data-dir of yours)`
        : `cluster ${known.clusterIdentifier} in ${this.dataDir} is not running: start it with \`backtrack up --data-dir ${this.dataDir}\``,
    )
  }

  async #call<T>(
    route: keyof typeof CONTROL_ROUTES,
    method: 'GET' | 'POST',
    query: Record<string, string> = {},
    timeoutMs = 60_000,
  ) {
    const state = this.#requireRunning()
    const host = state.host === '0.0.0.0' || state.host === '::' ? '127.0.0.1' : state.host
    const url = new URL(`http://${host.includes(':') ? `[${host}]` : host}:${state.apiPort}${CONTROL_ROUTES[route]}`)
    for (const [key, value] of Object.entries(query)) url.searchParams.set(key, value)
    let response: Response
    try {
      // A mark waits for the capture to catch up, which can take a while behind a heavy load.
      response = await fetch(url, {
        method,
        headers: signedHeaders(state, method, url),
        signal: AbortSignal.timeout(timeoutMs),
      })
    } catch (error) {
      throw new BacktrackError(
        'ServiceUnavailable',
        `cluster ${state.clusterIdentifier} (pid ${state.pid}) does not answer on ${url.origin} (${(error as Error).message}); ` +
          `see ${this.logFile} or restart it with \`backtrack down --data-dir ${this.dataDir}\` and \`up\``,
        { cause: error },
      )
    }
    const body = (await response.json().catch(() => ({}))) as T & { error?: { code?: unknown; message?: unknown } }
    if (!response.ok) {
      const code = typeof body.error?.code === 'string' && isErrorCode(body.error.code) ? body.error.code : undefined
      throw new BacktrackError(
        code ?? 'InternalFailure',
        typeof body.error?.message === 'string' ? body.error.message : `HTTP ${response.status} from ${url.href}`,
      )
    }
    return body
  }
}

/**
 * A cluster started with --verify-signatures takes signed control calls too: they are signed with the keys in this
 * process's environment (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY), as the AWS CLI's calls to its API are.
 */
function signedHeaders(state: LocalClusterState, method: string, url: URL): Record<string, string> {
  if (state.signedRequests !== true) return {}
  const accessKeyId = process.env['AWS_ACCESS_KEY_ID']
  const secretAccessKey = process.env['AWS_SECRET_ACCESS_KEY']
  if (accessKeyId === undefined || secretAccessKey === undefined) {
    throw new BacktrackError(
      'MissingAuthenticationToken',
      `cluster ${state.clusterIdentifier} takes signed requests only: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY to the keys it was started with`,
    )
  }
  const headers = { host: url.host }
  return {
    ...headers,
    ...signRequest(
      { method, url: `${url.pathname}${url.search}`, headers, body: Buffer.alloc(0) },
      { accessKeyId, secretAccessKey },
      state.region,
      CONTROL_SIGNING_NAME,
    ),
  }
}
