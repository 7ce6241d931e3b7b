import {
  BacktrackError,
  type BacktrackEngine,
  type BacktrackPage,
  type DBCluster,
  type DBClusterBacktrack,
  type SqlEndpoint,
} from '@backtrack/core'

export interface RestoringClusterOptions {
  identifier: string
  region: string
  host: string
  port: number
  backtrackWindow: number
  masterUsername: string
  engineVersion: string
  databaseName?: string
}

/**
 * A cluster `RestoreDBClusterToPointInTime` is still building: it describes itself as `creating` (or `failed`), and
 * refuses everything else with `InvalidDBClusterStateFault` until the registry replaces it with the running cluster.
 */
export class RestoringCluster implements BacktrackEngine {
  readonly kind = 'simulator' as const
  readonly clusterIdentifier: string
  readonly #options: RestoringClusterOptions
  readonly #createdAt = new Date()
  #failure: string | undefined

  constructor(options: RestoringClusterOptions) {
    this.#options = options
    this.clusterIdentifier = options.identifier
  }

  /** Whether the restore failed (the cluster can only be deleted). */
  get failed(): boolean {
    return this.#failure !== undefined
  }

  fail(reason: string): void {
    this.#failure = reason
  }

  #refuse(): never {
    throw new BacktrackError(
      'InvalidDBClusterStateFault',
      this.#failure === undefined
        ? `DBCluster ${this.clusterIdentifier} is being restored (creating); wait until it is available.`
        : `DBCluster ${this.clusterIdentifier} failed to restore (${this.#failure}); delete it.`,
    )
  }

  async describeCluster(): Promise<DBCluster> {
    const { region, identifier } = this.#options
    return {
      DBClusterIdentifier: identifier,
      DBClusterArn: `arn:aws:rds:${region}:000000000000:cluster:${identifier}`,
      Status: this.#failure === undefined ? 'creating' : 'failed',
      Engine: 'aurora-mysql',
      EngineVersion: this.#options.engineVersion,
      Endpoint: this.#options.host,
      Port: this.#options.port,
      MasterUsername: this.#options.masterUsername,
      ...(this.#options.databaseName === undefined ? {} : { DatabaseName: this.#options.databaseName }),
      ClusterCreateTime: this.#createdAt,
      BacktrackWindow: this.#options.backtrackWindow,
      BacktrackConsumedChangeRecords: 0,
    }
  }

  async backtrack(): Promise<DBClusterBacktrack> {
    this.#refuse()
  }

  async describeBacktracks(): Promise<BacktrackPage> {
    return { backtracks: [] }
  }

  async waitForBacktrack(): Promise<DBClusterBacktrack> {
    this.#refuse()
  }

  async modifyBacktrackWindow(): Promise<DBCluster> {
    this.#refuse()
  }

  async now(): Promise<Date> {
    return new Date()
  }

  async mark(): Promise<Date> {
    this.#refuse()
  }

  async sqlEndpoint(): Promise<SqlEndpoint> {
    this.#refuse()
  }

  async close(): Promise<void> {}
}
