import {
  BacktrackDBClusterCommand,
  DescribeDBClusterBacktracksCommand,
  DescribeDBClustersCommand,
  ListTagsForResourceCommand,
  ModifyDBClusterCommand,
  RDSClient,
  type DBCluster as RdsDBCluster,
  type Filter,
  type RDSClientConfig,
} from '@aws-sdk/client-rds'
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager'
import {
  backtrackNotFound,
  BacktrackError,
  clusterNotFound,
  normalizeClusterIdentifier,
  pollBacktrack,
  systemPollClock,
  validateBacktrackIdentifier,
  validateBacktrackWindow,
  validateMaxRecords,
  type BacktrackEngine,
  type BacktrackFilter,
  type BacktrackInput,
  type BacktrackPage,
  type DBCluster,
  type DBClusterBacktrack,
  type DescribeBacktracksInput,
  type PollCadence,
  type PollClock,
  type SqlEndpoint,
  type WaitOptions,
} from '@backtrack/core'
import { backtrackFromRds, clusterFromRds } from './from-rds.js'
import { hasTestbedTag, isLoopbackEndpoint, isSimulatedCluster, liveBacktrackNotConfirmed } from './live-guard.js'
import { mapSdkError } from './map-sdk-error.js'
import { connectMysql, ServerClock, type ConnectSql } from './server-clock.js'
import { resolveSqlCredentials, type SqlCredentials } from './sql-credentials.js'

export interface RdsEngineConfig {
  /** The cluster to drive; lower-cased as RDS stores it. */
  clusterIdentifier: string
  /** AWS region; else AWS_REGION / the profile's region (us-east-1 for a loopback endpoint). */
  region?: string
  /** Shared-config profile for credentials and region (AWS_PROFILE otherwise). */
  profile?: string
  /** RDS endpoint, e.g. the local simulator's; the SDK itself honours AWS_ENDPOINT_URL_RDS / AWS_ENDPOINT_URL. */
  endpointUrl?: string
  /** Explicit credentials; else the SDK default chain (env, profile, SSO, instance role). */
  credentials?: RDSClientConfig['credentials']
  /** Backtrack a live cluster even without the `backtrack-testbed=true` tag (`--yes-really-backtrack-live`). */
  confirmLive?: boolean
  /** SQL credentials; else DBUSER/DBPASS, else the cluster's RDS-managed master user secret. */
  sql?: SqlCredentials
  /** SDK attempts per call including retries (default 3, `standard` mode, which retries Throttling). */
  maxAttempts?: number
  retryMode?: 'standard' | 'adaptive'
  /** An RDS client to use instead of building one; the engine does not destroy it. */
  client?: RDSClient
  /** A Secrets Manager client to use instead of building one; the engine does not destroy it. */
  secretsClient?: SecretsManagerClient
  /** Opens SQL connections (default: mysql2). */
  connectSql?: ConnectSql
  /** Time and sleep for `waitForBacktrack` polling and for waiting on the server clock. */
  clock?: PollClock
  /**
   * How `waitForBacktrack` polls unless its options say otherwise: from `pollMs` (default 2 s) doubling up to
   * `maxPollMs` (default 30 s), as Aurora's phases last seconds to minutes. A local cluster answers in milliseconds
   * and is given a faster cadence by whoever builds the engine for it.
   */
  poll?: PollCadence
  /** Sees every raw SDK output, by operation name (parity recording, debugging). */
  onResponse?: (operation: string, output: object) => void
}

const LOCAL_CREDENTIALS = { accessKeyId: 'backtrack-local', secretAccessKey: 'backtrack-local' }

/** The endpoint the SDK will use: the explicit one, else the variables the SDK itself reads, in its order. */
function effectiveEndpointUrl(explicit: string | undefined): string | undefined {
  return explicit ?? process.env['AWS_ENDPOINT_URL_RDS'] ?? process.env['AWS_ENDPOINT_URL']
}

function buildClientConfig(config: RdsEngineConfig): RDSClientConfig {
  const local = isLoopbackEndpoint(effectiveEndpointUrl(config.endpointUrl))
  const region =
    config.region ?? process.env['AWS_REGION'] ?? process.env['AWS_DEFAULT_REGION'] ?? (local ? 'us-east-1' : undefined)
  // The local endpoint ignores signatures unless told otherwise; don't make a laptop without AWS setup fail.
  const hasAwsSetup =
    config.profile !== undefined ||
    process.env['AWS_PROFILE'] !== undefined ||
    process.env['AWS_ACCESS_KEY_ID'] !== undefined
  const credentials = config.credentials ?? (local && !hasAwsSetup ? LOCAL_CREDENTIALS : undefined)
  return {
    ...(region === undefined ? {} : { region }),
    ...(config.profile === undefined ? {} : { profile: config.profile }),
    ...(config.endpointUrl === undefined ? {} : { endpoint: config.endpointUrl }),
    ...(credentials === undefined ? {} : { credentials }),
    ...(config.maxAttempts === undefined ? {} : { maxAttempts: config.maxAttempts }),
    ...(config.retryMode === undefined ? {} : { retryMode: config.retryMode }),
  }
}

function toRdsFilters(filters: readonly BacktrackFilter[] | undefined): Filter[] | undefined {
  if (filters === undefined) return undefined
  return filters.map((filter) => {
    // Aurora documents lower-case statuses but reports upper-case ones; filter values are OR-ed, so send both.
    const values =
      filter.name === 'db-cluster-backtrack-status'
        ? filter.values.flatMap((value) => [value.toLowerCase(), value.toUpperCase()])
        : filter.values.map((value) => value.toLowerCase())
    return { Name: filter.name, Values: [...new Set(values)] }
  })
}

/**
 * `BacktrackEngine` over `@aws-sdk/client-rds`: a real Aurora MySQL cluster, or the simulator's RDS-compatible
 * endpoint. Time comes from the cluster's own clock over SQL, so marks line up with commit times.
 */
export class RdsEngine implements BacktrackEngine, AsyncDisposable {
  readonly kind = 'aws' as const
  readonly clusterIdentifier: string
  readonly #client: RDSClient
  readonly #ownsClient: boolean
  readonly #clientConfig: RDSClientConfig
  readonly #confirmLive: boolean
  readonly #sql: SqlCredentials | undefined
  readonly #clock: PollClock
  readonly #poll: PollCadence
  readonly #onResponse: RdsEngineConfig['onResponse']
  readonly #serverClock: ServerClock
  #secretsClient: SecretsManagerClient | undefined
  readonly #ownsSecretsClient: boolean
  #sqlEndpoint: Promise<SqlEndpoint> | undefined

  constructor(config: RdsEngineConfig) {
    this.clusterIdentifier = normalizeClusterIdentifier(config.clusterIdentifier)
    this.#clientConfig = buildClientConfig(config)
    this.#client = config.client ?? new RDSClient(this.#clientConfig)
    this.#ownsClient = config.client === undefined
    this.#secretsClient = config.secretsClient
    this.#ownsSecretsClient = config.secretsClient === undefined
    this.#confirmLive = config.confirmLive ?? false
    this.#sql = config.sql
    this.#clock = config.clock ?? systemPollClock
    this.#poll = config.poll ?? {}
    this.#onResponse = config.onResponse
    this.#serverClock = new ServerClock(() => this.sqlEndpoint(), config.connectSql ?? connectMysql, this.#clock)
  }

  /** The RDS client in use (for raw calls such as parity recording). */
  getClient(): RDSClient {
    return this.#client
  }

  async describeCluster(): Promise<DBCluster> {
    return clusterFromRds(await this.#describeRaw())
  }

  async backtrack(input: BacktrackInput): Promise<DBClusterBacktrack> {
    if (!(input.backtrackTo instanceof Date) || Number.isNaN(input.backtrackTo.getTime())) {
      throw new BacktrackError('InvalidParameterValue', `Invalid value ${String(input.backtrackTo)} for BacktrackTo.`)
    }
    await this.#assertLiveConfirmed()
    const output = await this.#send('BacktrackDBCluster', (client) =>
      client.send(
        new BacktrackDBClusterCommand({
          DBClusterIdentifier: this.clusterIdentifier,
          BacktrackTo: input.backtrackTo,
          ...(input.force === undefined ? {} : { Force: input.force }),
          ...(input.useEarliestTimeOnPointInTimeUnavailable === undefined
            ? {}
            : { UseEarliestTimeOnPointInTimeUnavailable: input.useEarliestTimeOnPointInTimeUnavailable }),
        }),
      ),
    )
    return backtrackFromRds(output, 'BacktrackDBCluster')
  }

  async describeBacktracks(input: DescribeBacktracksInput = {}): Promise<BacktrackPage> {
    return this.#describeBacktracks(input)
  }

  async #describeBacktracks(input: DescribeBacktracksInput, signal?: AbortSignal): Promise<BacktrackPage> {
    const backtrackIdentifier =
      input.backtrackIdentifier === undefined ? undefined : validateBacktrackIdentifier(input.backtrackIdentifier)
    const maxRecords = input.maxRecords === undefined ? undefined : validateMaxRecords(input.maxRecords)
    const command = new DescribeDBClusterBacktracksCommand({
      DBClusterIdentifier: this.clusterIdentifier,
      BacktrackIdentifier: backtrackIdentifier,
      Filters: toRdsFilters(input.filters),
      MaxRecords: maxRecords,
      Marker: input.marker,
    })
    const output = await this.#send('DescribeDBClusterBacktracks', (client) =>
      signal === undefined ? client.send(command) : client.send(command, { abortSignal: signal }),
    )
    const backtracks = (output.DBClusterBacktracks ?? []).map((b) => backtrackFromRds(b, 'DescribeDBClusterBacktracks'))
    return output.Marker === undefined || output.Marker === '' ? { backtracks } : { backtracks, marker: output.Marker }
  }

  async waitForBacktrack(backtrackIdentifier: string, options?: WaitOptions): Promise<DBClusterBacktrack> {
    const id = validateBacktrackIdentifier(backtrackIdentifier)
    return pollBacktrack(
      {
        read: async (signal) => {
          const [backtrack] = (await this.#describeBacktracks({ backtrackIdentifier: id }, signal)).backtracks
          if (backtrack === undefined) throw backtrackNotFound(id)
          return backtrack
        },
        // Aurora reports `completed` before the cluster is `available` again.
        clusterBusy: async (signal) => clusterFromRds(await this.#describeRaw(signal)).Status === 'backtracking',
        clock: this.#clock,
        cadence: this.#poll,
      },
      options,
    )
  }

  async modifyBacktrackWindow(seconds: number): Promise<DBCluster> {
    validateBacktrackWindow(seconds)
    // A window of 0 turns backtracking off for good, so it is as irreversible as a backtrack.
    if (seconds === 0) await this.#assertLiveConfirmed()
    const output = await this.#send('ModifyDBCluster', (client) =>
      client.send(
        new ModifyDBClusterCommand({
          DBClusterIdentifier: this.clusterIdentifier,
          BacktrackWindow: seconds,
          ApplyImmediately: true,
        }),
      ),
    )
    if (output.DBCluster === undefined) {
      throw new BacktrackError('InternalFailure', 'ModifyDBCluster returned no DBCluster.')
    }
    return clusterFromRds(output.DBCluster)
  }

  async now(): Promise<Date> {
    return this.#serverClock.now()
  }

  /** The server clock's mark (see `ServerClock.mark`: on MariaDB the next whole second, once it has passed). */
  async mark(): Promise<Date> {
    return this.#serverClock.mark()
  }

  async sqlEndpoint(): Promise<SqlEndpoint> {
    // Endpoints and credentials don't change while the engine lives; a failed lookup is retried next time.
    this.#sqlEndpoint ??= this.#resolveSqlEndpoint().catch((error: unknown) => {
      this.#sqlEndpoint = undefined
      throw error
    })
    return this.#sqlEndpoint
  }

  async close(): Promise<void> {
    await this.#serverClock.close()
    if (this.#ownsClient) this.#client.destroy()
    if (this.#ownsSecretsClient) this.#secretsClient?.destroy()
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close()
  }

  async #resolveSqlEndpoint(): Promise<SqlEndpoint> {
    const cluster = await this.#describeRaw()
    if (cluster.Endpoint === undefined || cluster.Endpoint === '') {
      throw new BacktrackError(
        'ServiceUnavailable',
        `Cluster ${this.clusterIdentifier} has no endpoint yet (status ${cluster.Status ?? 'unknown'}).`,
      )
    }
    const { user, password } = await resolveSqlCredentials(cluster, this.#sql, () => this.#secrets())
    return {
      host: cluster.Endpoint,
      port: cluster.Port ?? 3306,
      user,
      password,
      ...(cluster.DatabaseName === undefined ? {} : { database: cluster.DatabaseName }),
    }
  }

  #secrets(): SecretsManagerClient {
    const { region, profile, credentials, maxAttempts, retryMode } = this.#clientConfig
    this.#secretsClient ??= new SecretsManagerClient({ region, profile, credentials, maxAttempts, retryMode })
    return this.#secretsClient
  }

  async #describeRaw(signal?: AbortSignal): Promise<RdsDBCluster> {
    const command = new DescribeDBClustersCommand({ DBClusterIdentifier: this.clusterIdentifier })
    const output = await this.#send('DescribeDBClusters', (client) =>
      signal === undefined ? client.send(command) : client.send(command, { abortSignal: signal }),
    )
    const cluster = output.DBClusters?.[0]
    if (cluster === undefined) throw clusterNotFound(this.clusterIdentifier)
    return cluster
  }

  /**
   * Refuses to rewind a live cluster that is not tagged as a testbed. Whether the endpoint is a simulator is asked of
   * the RDS API itself (its clusters carry the `aws:`-reserved simulator tag), never guessed from the address: a
   * loopback URL may be a proxy or tunnel to real RDS.
   */
  async #assertLiveConfirmed(): Promise<void> {
    if (this.#confirmLive) return
    const cluster = await this.#describeRaw()
    let tags = cluster.TagList
    const arn = cluster.DBClusterArn
    if (tags === undefined && arn !== undefined) {
      tags = (
        await this.#send('ListTagsForResource', (client) =>
          client.send(new ListTagsForResourceCommand({ ResourceName: arn })),
        )
      ).TagList
    }
    if (isSimulatedCluster(tags)) return
    if (!hasTestbedTag(tags)) throw liveBacktrackNotConfirmed(this.clusterIdentifier, cluster.DBClusterArn ?? '')
  }

  // The one place where SDK exceptions become BacktrackErrors.
  async #send<Output extends object>(operation: string, call: (client: RDSClient) => Promise<Output>): Promise<Output> {
    let output: Output
    try {
      output = await call(this.#client)
    } catch (error) {
      throw mapSdkError(error)
    }
    this.#onResponse?.(operation, output)
    return output
  }
}

/** Builds an `RdsEngine`; see `RdsEngineConfig`. */
export function createRdsEngine(config: RdsEngineConfig): RdsEngine {
  return new RdsEngine(config)
}
