import { mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import {
  BacktrackError,
  clusterNotFound,
  formatRdsTime,
  normalizeClusterIdentifier,
  type DBClusterBacktrack,
  type SqlEndpoint,
} from '@backtrack/core'
import type { FastifyInstance, FastifyReply } from 'fastify'
import { buildRdsEndpoint, verifySignature, type AccessKey } from '@backtrack/rds-endpoint'
import { findServerBinaries, isDockerReachable, SILENT_LOGGER, type ServerLogger } from '@backtrack/mysql-server'
import type { SimulatorEngine } from '../simulator-engine.js'
import { ClusterNode, connectHost, type LocalServerSource } from './cluster-node.js'
import { readClusterState, runningClusterState, writeClusterState, type LocalClusterState } from './cluster-state.js'
import { LocalClusterRegistry } from './local-cluster-registry.js'

export interface LocalClusterOptions {
  /**
   * Holds everything: `cluster.json`, the server (`mysql/`), the page log (`cluster/`), created clusters. Default: a
   * new temporary directory, removed by `stop()`.
   */
  dataDir?: string
  /** Default `labstack-cluster` for a new cluster; a data dir that holds one keeps its identifier. */
  clusterIdentifier?: string
  /** Database created for users in a new cluster. Default `mylab`. */
  database?: string
  /** Address every endpoint binds. Default `127.0.0.1`. */
  host?: string
  /** Port of the SQL endpoint. Default: the one of the previous run when free, else any free port. */
  sqlPort?: number
  /** Port of the RDS endpoint. Default: the one of the previous run when free, else any free port. */
  apiPort?: number
  /** Backtrack window in seconds of a new cluster. Default 86400. */
  backtrackWindow?: number
  /** Where the server comes from. Default `auto`: `url` with a `mysqlUrl`, the previous run's, else a private
   * server when local binaries exist, else a container. */
  source?: 'auto' | LocalServerSource
  mysqlUrl?: string
  /** `$DBUSER` / `$DBPASS`; default `admin` and a generated password, kept in the data dir. */
  appUser?: string
  appPassword?: string
  region?: string
  /**
   * Check SigV4 signatures against these keys, on the RDS and CloudWatch API and on every other route (the control
   * routes, the console). By default any credentials are accepted, which is allowed on a loopback `host` only.
   */
  verifySignatures?: { credentials: AccessKey[] }
  logger?: ServerLogger
  /** How long a backtrack stays `pending` before it applies (default 0). */
  pendingMillis?: number
  /**
   * Adds routes to the RDS endpoint's server before it listens (the console mounts itself this way), e.g.
   * `mount: (app, cluster) => mountConsole(app, cluster)`.
   */
  mount?: (app: FastifyInstance, cluster: StartedLocalCluster) => void | Promise<void>
  /** How often each cluster samples its backtrack metrics (CloudWatch); default one minute. */
  metricsIntervalMs?: number
}

/** What `up --json` prints: how to reach a running local cluster. */
export interface LocalClusterInfo {
  clusterIdentifier: string
  status: string
  sql: { host: string; port: number; user: string; password: string; database?: string }
  rdsEndpoint: string
  region: string
  dataDir: string
}

/** What `status` shows, answered by `GET /_backtrack/status`. */
export interface LocalClusterStatus extends Omit<LocalClusterInfo, 'sql'> {
  /** The SQL endpoint and user; the password is never sent over the control routes. */
  sql: Omit<LocalClusterInfo['sql'], 'password'>
  backtrackWindow: number
  earliestBacktrackTime?: string
  changeRecords: number
  captureLagMillis: number
  /** Why the capture stopped (the cluster is `failed` meanwhile); absent while it runs. */
  captureFault?: { code: string; message: string }
  pid: number
  serverPid?: number
  source: LocalServerSource
  serverVersion: string
  /** Client sessions on the server (the simulator's own not counted). */
  connections: { open: number }
  clusters: { clusterIdentifier: string; status: string; sqlPort: number }[]
}

/** Control routes on the RDS endpoint's port for the `backtrack` CLI; not part of the RDS API. */
export const CONTROL_ROUTES = {
  status: '/_backtrack/status',
  mark: '/_backtrack/mark',
  verify: '/_backtrack/verify',
} as const

async function resolveSource(options: LocalClusterOptions, previous: LocalClusterState | undefined) {
  const asked = options.source ?? 'auto'
  if (asked !== 'auto') return asked
  if (options.mysqlUrl !== undefined) return 'url'
  if (previous !== undefined) return previous.source
  // A private server keeps its data in the cluster's data dir, so `up` can resume it; a container's storage goes
  // with the container. So it comes first here, unlike `startMysqlServer`'s order.
  if (!('rejected' in (await findServerBinaries()))) return 'private'
  if ((await isDockerReachable()).reachable) return 'container'
  return 'private' // fails with the install hint
}

/** The SigV4 service name of the routes that are not AWS's (control routes, console). */
export const CONTROL_SIGNING_NAME = 'backtrack'

/** Whether `host` is reachable from this machine only. */
export function isLoopbackHost(host: string): boolean {
  const bare = host.startsWith('[') ? host.slice(1, -1) : host
  return bare === 'localhost' || /^127(\.\d{1,3}){3}$/.test(bare) || bare === '::1'
}

function isAddressInUse(error: unknown): boolean {
  return (error as NodeJS.ErrnoException).code === 'EADDRINUSE'
}

/**
 * A local cluster: what `backtrack up` runs, and what a test suite starts. A simulated cluster (server, page log,
 * SQL endpoint) and the RDS-compatible endpoint serving it and the clusters made with `CreateDBCluster`. A data dir
 * that holds a cluster is resumed with its history, and a server a killed process left running is adopted. With no
 * `dataDir`, the cluster lives in a new temporary directory on free ports, and `stop()` removes it.
 *
 * @example
 * await using cluster = await startLocalCluster()
 * const { sql, rdsEndpoint } = cluster.info() // mysql2.createPool(sql); aws rds ... --endpoint-url rdsEndpoint
 * const seeded = await cluster.mark()
 * // ... a test writes, drops, alters ...
 * await cluster.rewind(seeded)
 */
export async function startLocalCluster(options: LocalClusterOptions = {}): Promise<StartedLocalCluster> {
  const temporary = options.dataDir === undefined
  const dataDir = temporary ? mkdtempSync(join(tmpdir(), 'backtrack-')) : resolve(options.dataDir!)
  try {
    return await startIn(dataDir, temporary, options)
  } catch (error) {
    if (temporary) rmSync(dataDir, { recursive: true, force: true })
    throw error
  }
}

async function startIn(
  dataDir: string,
  temporary: boolean,
  options: LocalClusterOptions,
): Promise<StartedLocalCluster> {
  const logger = options.logger ?? SILENT_LOGGER
  mkdirSync(dataDir, { recursive: true })
  const running = runningClusterState(dataDir)
  if (running !== undefined) {
    throw new BacktrackError(
      'InvalidDBClusterStateFault',
      `DBCluster ${running.clusterIdentifier} is already running on ${dataDir} (pid ${running.pid}); ` +
        `use it, or stop it with \`backtrack down --data-dir ${dataDir}\``,
    )
  }
  const previous = readClusterState(dataDir)
  if (previous !== undefined && previous.status !== 'stopped') {
    logger.warn(`the previous cluster process (pid ${previous.pid}) did not stop cleanly; recovering`)
  }
  const host = options.host ?? previous?.host ?? '127.0.0.1'
  const region = options.region ?? previous?.region ?? 'us-east-1'
  // Beyond loopback the endpoints answer the network: rewinding or deleting a cluster must take a signed request.
  if (!isLoopbackHost(host) && (options.verifySignatures?.credentials.length ?? 0) === 0) {
    throw new BacktrackError(
      'InvalidParameterCombination',
      `--host ${host} is beyond loopback: the RDS endpoint (which can rewind and delete clusters) and the control routes ` +
        'would answer anyone on the network. Require signed requests: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY ' +
        'and pass --verify-signatures (verifySignatures in the library), or bind a loopback address such as 127.0.0.1.',
    )
  }
  const source = await resolveSource(options, previous)
  const identifier = normalizeClusterIdentifier(
    options.clusterIdentifier ?? previous?.clusterIdentifier ?? 'labstack-cluster',
  )
  const database = options.database ?? previous?.database ?? 'mylab'
  const backtrackWindow = options.backtrackWindow ?? previous?.backtrackWindow ?? 86_400
  const baseState: LocalClusterState = {
    clusterIdentifier: identifier,
    status: 'starting',
    pid: process.pid,
    host,
    region,
    database,
    backtrackWindow,
    source,
    dataDir,
    startedAt: new Date().toISOString(),
  }
  writeClusterState(dataDir, {
    ...baseState,
    ...(previous?.sqlPort === undefined ? {} : { sqlPort: previous.sqlPort }),
    ...(previous?.apiPort === undefined ? {} : { apiPort: previous.apiPort }),
  })

  const prefixed = (id: string): ServerLogger => ({
    info: (message) => logger.info(`[${id}] ${message}`),
    warn: (message) => logger.warn(`[${id}] ${message}`),
  })
  const registry = new LocalClusterRegistry({
    dataDir,
    host,
    region,
    logger: prefixed,
    ...(options.pendingMillis === undefined ? {} : { pendingMillis: options.pendingMillis }),
    ...(options.metricsIntervalMs === undefined ? {} : { metricsIntervalMs: options.metricsIntervalMs }),
    onEvent: (event) => logger.info(`[${event.SourceIdentifier}] event: ${event.Message}`),
  })
  let app: FastifyInstance | undefined
  try {
    const startNode = (sqlPort: number | undefined) =>
      ClusterNode.start({
        identifier,
        dataDir,
        host,
        ...(sqlPort === undefined ? {} : { sqlPort }),
        backtrackWindow,
        database,
        source,
        ...(options.mysqlUrl === undefined ? {} : { mysqlUrl: options.mysqlUrl }),
        ...(options.appUser === undefined ? {} : { appUser: options.appUser }),
        ...(options.appPassword === undefined ? {} : { appPassword: options.appPassword }),
        region,
        logger: prefixed(identifier),
        ...(options.pendingMillis === undefined ? {} : { pendingMillis: options.pendingMillis }),
        onEvent: (event) => registry.addEvent(event),
        ...registry.primaryNodeOptions(identifier),
      })
    let node: ClusterNode
    try {
      // Without --sql-port a private server keeps the port of its previous start when that is free.
      node = await startNode(options.sqlPort)
    } catch (error) {
      if (options.sqlPort !== undefined && BacktrackError.is(error) && /already in use/.test(error.message)) {
        throw new BacktrackError(
          'InvalidParameterValue',
          `SQL port ${options.sqlPort} on ${host} is already in use: choose another --sql-port or leave it unset`,
          { cause: error },
        )
      }
      throw error
    }
    await registry.addPrimary(node)
    await registry.resumeCreated()

    app = buildRdsEndpoint({
      registry,
      region,
      ...(options.verifySignatures === undefined ? {} : { verifySignatures: options.verifySignatures }),
    })
    const cluster = new StartedLocalCluster({
      dataDir,
      temporary,
      region,
      host,
      source,
      node,
      registry,
      app,
      baseState,
    })
    if (options.verifySignatures !== undefined) requireSignedControlRoutes(app, options.verifySignatures, region)
    cluster.addControlRoutes()
    await options.mount?.(app, cluster)
    let apiPort = options.apiPort ?? previous?.apiPort ?? 0
    try {
      await app.listen({ host, port: apiPort })
    } catch (error) {
      if (!isAddressInUse(error) || options.apiPort !== undefined || apiPort === 0) {
        if (isAddressInUse(error)) {
          throw new BacktrackError(
            'InvalidParameterValue',
            `API port ${apiPort} on ${host} is already in use: choose another --api-port or leave it unset`,
            { cause: error },
          )
        }
        throw error
      }
      logger.warn(`API port ${apiPort} of the previous run is taken; picking another`)
      apiPort = 0
      await app.listen({ host, port: 0 })
    }
    cluster.writeState('available', options.verifySignatures !== undefined)
    const info = cluster.info()
    logger.info(
      `[${identifier}] available: SQL endpoint ${info.sql.host}:${info.sql.port} (database ${database}), ` +
        `RDS endpoint ${info.rdsEndpoint}, data in ${dataDir}`,
    )
    for (const line of exposure(host, info, options.verifySignatures)) logger.info(`[${identifier}] ${line}`)
    return cluster
  } catch (error) {
    await app?.close().catch(() => undefined)
    await registry.close().catch(() => undefined)
    writeClusterState(dataDir, { ...baseState, status: 'stopped' })
    throw error
  }
}

/** What the cluster answers to, and who may talk to it: said at startup. */
function exposure(host: string, info: LocalClusterInfo, verify: LocalClusterOptions['verifySignatures']): string[] {
  const reach = isLoopbackHost(host) ? 'this machine only (loopback)' : `the network (${host})`
  const keys = verify?.credentials.map((key) => key.accessKeyId).join(', ')
  return [
    `reachable from ${reach}`,
    verify === undefined
      ? `RDS/CloudWatch API ${info.rdsEndpoint} and control routes /_backtrack/*: any credentials accepted (loopback only); requests browsers send for other web pages refused`
      : `RDS/CloudWatch API ${info.rdsEndpoint} and every other route (control, console): SigV4 required, keys ${keys}; unsigned or wrongly signed requests get 403`,
    `SQL endpoint ${info.sql.host}:${info.sql.port}: MySQL accounts and passwords; control routes never send passwords`,
  ]
}

/** Every route that is not AWS's API (control routes, the console's) takes a SigV4 request signed for `backtrack`. */
function requireSignedControlRoutes(
  app: FastifyInstance,
  verify: NonNullable<LocalClusterOptions['verifySignatures']>,
  region: string,
): void {
  app.addHook('preHandler', async (request, reply) => {
    const path = request.url.split('?')[0]!
    // The API verifies its own requests (service rds or monitoring); its errors are in its own protocol.
    if (path === '/' || path.startsWith('/service/')) return
    try {
      const body = Buffer.isBuffer(request.body)
        ? request.body
        : Buffer.from(typeof request.body === 'string' ? request.body : '')
      verifySignature(
        { method: request.method, url: request.url, headers: request.headers, body },
        verify.credentials,
        region,
        {
          service: CONTROL_SIGNING_NAME,
        },
      )
    } catch (error) {
      const code = BacktrackError.is(error) ? error.code : 'AccessDenied'
      return reply
        .code(403)
        .header('content-type', 'application/json')
        .send(JSON.stringify({ error: { code, message: (error as Error).message } }))
    }
  })
}

interface StartedLocalClusterParts {
  dataDir: string
  /** Made by `startLocalCluster()` for this run: removed on stop. */
  temporary: boolean
  region: string
  host: string
  source: LocalServerSource
  node: ClusterNode
  registry: LocalClusterRegistry
  app: FastifyInstance
  baseState: LocalClusterState
}

/** A running local cluster; `stop()` (or `await using`) shuts down the endpoints, the capture and the server. */
export class StartedLocalCluster implements AsyncDisposable {
  readonly dataDir: string
  readonly region: string
  readonly registry: LocalClusterRegistry
  readonly #parts: StartedLocalClusterParts
  #stopping: Promise<void> | undefined

  constructor(parts: StartedLocalClusterParts) {
    this.#parts = parts
    this.dataDir = parts.dataDir
    this.region = parts.region
    this.registry = parts.registry
  }

  get clusterIdentifier(): string {
    return this.#parts.node.clusterIdentifier
  }

  /** The startup cluster's engine. */
  get engine(): SimulatorEngine {
    return this.#parts.node.engine
  }

  get node(): ClusterNode {
    return this.#parts.node
  }

  get rdsEndpoint(): string {
    const address = this.#parts.app.server.address()
    const port = typeof address === 'object' && address !== null ? address.port : 0
    return `http://${connectHost(this.#parts.host)}:${port}`
  }

  get sql(): SqlEndpoint & { database: string } {
    const { server } = this.#parts.node
    return {
      host: server.host,
      port: server.port,
      user: server.app.user,
      password: server.app.password,
      database: this.#parts.baseState.database ?? 'mylab',
    }
  }

  info(status = 'available'): LocalClusterInfo {
    return {
      clusterIdentifier: this.clusterIdentifier,
      status,
      sql: this.sql,
      rdsEndpoint: this.rdsEndpoint,
      region: this.region,
      dataDir: this.dataDir,
    }
  }

  async status(): Promise<LocalClusterStatus> {
    const { node, registry, source } = this.#parts
    const cluster = await node.describeCluster()
    const fault = node.engine.capture.error
    // Answered over HTTP: the password stays in the state file (mode 600) and `up`'s own output.
    const { password: _password, ...sql } = this.sql
    return {
      ...this.info(cluster.Status),
      sql,
      backtrackWindow: cluster.BacktrackWindow,
      ...(cluster.EarliestBacktrackTime === undefined
        ? {}
        : { earliestBacktrackTime: formatRdsTime(cluster.EarliestBacktrackTime) }),
      changeRecords: cluster.BacktrackConsumedChangeRecords,
      captureLagMillis: node.engine.capture.lagMillis(),
      ...(fault === undefined ? {} : { captureFault: { code: fault.code, message: fault.message } }),
      pid: process.pid,
      ...(node.server.pid === undefined ? {} : { serverPid: node.server.pid }),
      source,
      serverVersion: node.server.version,
      connections: { open: await node.engine.clientConnections() },
      clusters: await Promise.all(
        registry.list().map(async (member) => {
          const described = await member.describeCluster()
          return { clusterIdentifier: member.clusterIdentifier, status: described.Status, sqlPort: described.Port }
        }),
      ),
    }
  }

  /** A time at which everything committed so far is captured: a backtrack to it restores exactly the current state. */
  mark(name?: string): Promise<Date> {
    return name === undefined ? this.#parts.node.mark() : this.#parts.node.namedMark(name)
  }

  /**
   * Rewinds the cluster to `to` (a {@link mark}, or any time in the backtrack window) for a test reset, and resolves
   * when it is `available` with the data as at `to`, with the `completed` backtrack record. Idle connections of an
   * application's pool stay open and keep working; a connection inside an open transaction (or running a
   * statement) is closed, so its next query fails. `BacktrackDBCluster` through the RDS endpoint keeps Aurora's
   * behaviour instead: every connection is closed and logins are refused until the cluster is available.
   */
  rewind(to: Date): Promise<DBClusterBacktrack> {
    return this.#parts.node.rewind(to)
  }

  /** @internal */
  addControlRoutes(): void {
    const { app } = this.#parts
    const answer = async (reply: FastifyReply, work: () => Promise<unknown>) => {
      try {
        const body = await work()
        return reply.code(200).header('content-type', 'application/json').send(JSON.stringify(body))
      } catch (error) {
        const code = BacktrackError.is(error) ? error.code : 'InternalFailure'
        const status = BacktrackError.is(error) ? error.httpStatus : 500
        return reply
          .code(status)
          .header('content-type', 'application/json')
          .send(JSON.stringify({ error: { code, message: (error as Error).message } }))
      }
    }
    app.get(CONTROL_ROUTES.status, (_request, reply) => answer(reply, () => this.status()))
    app.post(CONTROL_ROUTES.mark, (request, reply) =>
      answer(reply, async () => {
        const { name, cluster } = request.query as Record<string, string | undefined>
        // `?cluster=<id>` marks that cluster of the endpoint (RdsEngine asks for the one it drives); default the primary.
        const node =
          cluster === undefined || cluster === '' ? this.#parts.node : this.registry.node(cluster.toLowerCase())
        if (node === undefined) throw clusterNotFound(cluster!)
        const at = name === undefined || name === '' ? await node.mark() : await node.namedMark(name)
        return { mark: at.toISOString() }
      }),
    )
    app.post(CONTROL_ROUTES.verify, (request, reply) =>
      answer(reply, async () => {
        const { cluster } = request.query as Record<string, string | undefined>
        const node =
          cluster === undefined || cluster === '' ? this.#parts.node : this.registry.node(cluster.toLowerCase())
        if (node === undefined) throw clusterNotFound(cluster!)
        return node.verify()
      }),
    )
  }

  /** @internal */
  writeState(status: LocalClusterState['status'], signedRequests = false): void {
    const { node, baseState, dataDir } = this.#parts
    const info = this.info()
    writeClusterState(dataDir, {
      ...baseState,
      status,
      ...(signedRequests ? { signedRequests } : {}),
      pid: process.pid,
      ...(node.server.pid === undefined ? {} : { serverPid: node.server.pid }),
      sqlPort: info.sql.port,
      apiPort: Number(new URL(info.rdsEndpoint).port),
      sql: info.sql,
      rdsEndpoint: info.rdsEndpoint,
    })
  }

  /** Stops the RDS endpoint, every cluster (after a running backtrack) and their servers. */
  stop(): Promise<void> {
    this.#stopping ??= (async () => {
      const { app, registry } = this.#parts
      const ports = this.info()
      await app.close()
      try {
        await registry.close()
      } finally {
        writeClusterState(this.dataDir, {
          ...this.#parts.baseState,
          status: 'stopped',
          sqlPort: ports.sql.port,
          apiPort: Number(new URL(ports.rdsEndpoint).port),
        })
      }
      if (this.#parts.temporary) rmSync(this.dataDir, { recursive: true, force: true })
    })()
    return this.#stopping
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop()
  }
}
