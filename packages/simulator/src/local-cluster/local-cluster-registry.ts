import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { BacktrackError, clusterNotFound, type DBCluster, type RdsEvent } from '@backtrack/core'
import type { ClusterRegistry, CreateClusterInput, RdsEventQuery } from '@backtrack/rds-endpoint'
import type { ServerLogger } from '@backtrack/mysql-server'
import { ClusterEvents } from './cluster-events.js'
import { ClusterNode, type ClusterNodeOptions } from './cluster-node.js'
import { DATA_DIR } from './data-dir.js'

/** Kept in `<dataDir>/clusters/<id>/node.json`: what a restart needs to bring a created cluster back. */
interface CreatedClusterRecord {
  identifier: string
  sqlPort: number
  backtrackWindow: number
  database?: string
}

export interface LocalClusterRegistryOptions {
  /** The local cluster's data dir: created clusters live in `clusters/<id>/`, events in `events.jsonl`. */
  dataDir: string
  host: string
  region: string
  logger: (identifier: string) => ServerLogger
  pendingMillis?: number
  /** Called with every event as it is recorded (the foreground `up` logs them). */
  onEvent?: (event: RdsEvent) => void
}

/**
 * The clusters of one local endpoint: the one `up` started, and those made with `CreateDBCluster`, each with its own
 * private server, page log and SQL endpoint under `<dataDir>/clusters/<id>`. Created clusters come back on restart.
 */
export class LocalClusterRegistry implements ClusterRegistry {
  readonly #options: LocalClusterRegistryOptions
  readonly #nodes = new Map<string, ClusterNode>()
  readonly #creating = new Set<string>()
  readonly #deletions = new Set<Promise<void>>()
  readonly #events: ClusterEvents
  #primary: string | undefined

  constructor(options: LocalClusterRegistryOptions) {
    this.#options = options
    this.#events = new ClusterEvents(DATA_DIR.eventsFile(options.dataDir))
  }

  get #clustersDir(): string {
    return DATA_DIR.createdClustersDir(this.#options.dataDir)
  }

  addEvent(event: RdsEvent): void {
    this.#record(event)
  }

  #record(event: RdsEvent): void {
    this.#events.add(event)
    this.#options.onEvent?.(event)
  }

  /** Adds the cluster the process was started for; it cannot be deleted through the API. */
  addPrimary(node: ClusterNode): void {
    this.#primary = node.clusterIdentifier
    this.#nodes.set(node.clusterIdentifier, node)
  }

  #nodeOptions(record: CreatedClusterRecord, input?: CreateClusterInput): ClusterNodeOptions {
    return {
      identifier: record.identifier,
      dataDir: join(this.#clustersDir, record.identifier),
      host: this.#options.host,
      sqlPort: record.sqlPort,
      backtrackWindow: record.backtrackWindow,
      ...(record.database === undefined ? {} : { database: record.database }),
      source: 'private',
      ...(input?.masterUsername === undefined ? {} : { appUser: input.masterUsername }),
      ...(input?.masterUserPassword === undefined ? {} : { appPassword: input.masterUserPassword }),
      region: this.#options.region,
      logger: this.#options.logger(record.identifier),
      ...(this.#options.pendingMillis === undefined ? {} : { pendingMillis: this.#options.pendingMillis }),
      onEvent: (event) => this.#record(event),
    }
  }

  /** Starts the clusters an earlier run created; one that fails to start is logged and left on disk. */
  async resumeCreated(): Promise<void> {
    if (!existsSync(this.#clustersDir)) return
    for (const name of readdirSync(this.#clustersDir)) {
      let record: CreatedClusterRecord
      try {
        record = JSON.parse(readFileSync(join(this.#clustersDir, name, 'node.json'), 'utf8')) as CreatedClusterRecord
      } catch {
        continue
      }
      try {
        this.#nodes.set(record.identifier, await ClusterNode.start(this.#nodeOptions(record)))
      } catch (error) {
        this.#options.logger(record.identifier).warn(`could not resume cluster: ${(error as Error).message}`)
      }
    }
  }

  get(identifier: string): ClusterNode | undefined {
    return this.#nodes.get(identifier)
  }

  list(): ClusterNode[] {
    return [...this.#nodes.values()]
  }

  async create(input: CreateClusterInput): Promise<ClusterNode> {
    if (this.#nodes.has(input.identifier) || this.#creating.has(input.identifier)) {
      throw new BacktrackError('DBClusterAlreadyExistsFault', 'DB Cluster already exists')
    }
    this.#creating.add(input.identifier)
    const dir = join(this.#clustersDir, input.identifier)
    try {
      // Keep the SQL port across restarts: bind a free one now and record it.
      const node = await ClusterNode.start(
        this.#nodeOptions(
          {
            identifier: input.identifier,
            sqlPort: 0,
            backtrackWindow: input.backtrackWindow,
            ...(input.databaseName === undefined ? {} : { database: input.databaseName }),
          },
          input,
        ),
      )
      const record: CreatedClusterRecord = {
        identifier: input.identifier,
        sqlPort: node.sqlAddress.port,
        backtrackWindow: input.backtrackWindow,
        ...(input.databaseName === undefined ? {} : { database: input.databaseName }),
      }
      writeFileSync(join(dir, 'node.json'), JSON.stringify(record, null, 2) + '\n')
      this.#nodes.set(input.identifier, node)
      this.#record({
        SourceIdentifier: input.identifier,
        SourceType: 'db-cluster',
        Message: 'DB cluster created',
        EventCategories: ['creation'],
        Date: new Date(),
        SourceArn: node.arn,
      })
      return node
    } catch (error) {
      rmSync(dir, { recursive: true, force: true })
      throw error
    } finally {
      this.#creating.delete(input.identifier)
    }
  }

  async delete(identifier: string): Promise<DBCluster> {
    const node = this.#nodes.get(identifier)
    if (node === undefined) throw clusterNotFound(identifier)
    if (identifier === this.#primary) {
      throw new BacktrackError(
        'InvalidDBClusterStateFault',
        `DBCluster ${identifier} is the cluster this endpoint was started for; stop it with \`pnpm backtrack down --purge\`.`,
      )
    }
    const before = await node.describeCluster()
    if (before.Status !== 'available') {
      throw new BacktrackError(
        'InvalidDBClusterStateFault',
        `DBCluster ${identifier} cannot be deleted while it is ${before.Status}.`,
      )
    }
    node.markDeleting()
    this.#nodes.delete(identifier)
    const described = await node.describeCluster()
    const deletion = (async () => {
      try {
        await node.close()
      } catch (error) {
        this.#options.logger(identifier).warn(`stopping the deleted cluster failed: ${(error as Error).message}`)
      }
      rmSync(join(this.#clustersDir, identifier), { recursive: true, force: true })
      this.#record({
        SourceIdentifier: identifier,
        SourceType: 'db-cluster',
        Message: 'DB cluster deleted',
        EventCategories: ['deletion'],
        Date: new Date(),
        SourceArn: node.arn,
      })
    })()
    this.#deletions.add(deletion)
    void deletion.finally(() => this.#deletions.delete(deletion))
    return described
  }

  events(query: RdsEventQuery): RdsEvent[] {
    return this.#events.query(query)
  }

  /** Resolves when every deletion in progress has finished. */
  async settled(): Promise<void> {
    await Promise.all(this.#deletions)
  }

  /** Stops every cluster (created ones first) and waits for deletions in progress. */
  async close(): Promise<void> {
    await this.settled()
    const nodes = this.list().reverse()
    this.#nodes.clear()
    const results = await Promise.allSettled(nodes.map((node) => node.close()))
    const failed = results.find((result) => result.status === 'rejected')
    if (failed !== undefined) throw failed.reason
  }
}
