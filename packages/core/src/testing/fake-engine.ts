import { randomUUID } from 'node:crypto'
import type { BacktrackEngine } from '../backtrack-engine.js'
import { BacktrackError, backtrackNotFound } from '../errors.js'
import { pollBacktrack } from '../poll-backtrack.js'
import { formatRdsTime } from '../time.js'
import type {
  BacktrackInput,
  BacktrackPage,
  ClusterStatus,
  DBCluster,
  DBClusterBacktrack,
  DescribeBacktracksInput,
  RdsEvent,
  SqlEndpoint,
  WaitOptions,
} from '../types.js'
import { pageBacktracks, validateBacktrackIdentifier, validateBacktrackWindow } from '../validation.js'

export interface FakeEngineOptions {
  identifier: string
  clock?: () => Date
  region?: string
  /** Target backtrack window in seconds (default 86400). */
  backtrackWindow?: number
  /** Default: the clock's now. */
  createdAt?: Date
  /** Aurora refuses to backtrack a cluster with binary logging on unless `Force` is set. */
  binaryLogging?: boolean
  /** How long each of `pending` and `applying` lasts; without it, phases move only on `advance()`. */
  phaseMs?: number
  masterUsername?: string
  databaseName?: string
  port?: number
  onEvent?: (event: RdsEvent) => void
}

/**
 * An in-memory `BacktrackEngine`: the test double of the contract, for tests of what sits above it (the RDS
 * endpoint, the scenario runner). It validates through the same core helpers as the real engines and moves its
 * backtracks pending → applying → completed, without a server; `runEngineConformance` holds it to the suite.
 */
export class FakeEngine implements BacktrackEngine {
  readonly kind = 'simulator'
  readonly clusterIdentifier: string
  readonly #clock: () => Date
  readonly #arn: string
  readonly #createdAt: Date
  readonly #binaryLogging: boolean
  readonly #phaseMs: number | undefined
  readonly #masterUsername: string
  readonly #databaseName: string | undefined
  readonly #port: number
  readonly #onEvent: (event: RdsEvent) => void
  readonly #timers = new Set<ReturnType<typeof setTimeout>>()
  /** Newest first, as DescribeDBClusterBacktracks lists them. */
  readonly #records: DBClusterBacktrack[] = []
  #window: number
  #changeRecords = 0
  #deleting = false

  constructor(options: FakeEngineOptions) {
    this.clusterIdentifier = options.identifier
    this.#clock = options.clock ?? (() => new Date())
    this.#arn = `arn:aws:rds:${options.region ?? 'us-east-1'}:000000000000:cluster:${options.identifier}`
    this.#window = validateBacktrackWindow(options.backtrackWindow ?? 86_400)
    this.#createdAt = options.createdAt ?? this.#clock()
    this.#binaryLogging = options.binaryLogging ?? false
    this.#phaseMs = options.phaseMs
    this.#masterUsername = options.masterUsername ?? 'admin'
    this.#databaseName = options.databaseName
    this.#port = options.port ?? 3306
    this.#onEvent = options.onEvent ?? (() => {})
  }

  get arn(): string {
    return this.#arn
  }

  #status(): ClusterStatus {
    if (this.#deleting) return 'deleting'
    return this.#records.some((record) => record.Status === 'pending' || record.Status === 'applying')
      ? 'backtracking'
      : 'available'
  }

  #earliest(): Date | undefined {
    if (this.#window === 0) return undefined
    return new Date(Math.max(this.#createdAt.getTime(), this.#clock().getTime() - this.#window * 1000))
  }

  #emit(message: string, categories: string[]): void {
    this.#onEvent({
      SourceIdentifier: this.clusterIdentifier,
      SourceType: 'db-cluster',
      Message: message,
      EventCategories: categories,
      Date: this.#clock(),
      SourceArn: this.#arn,
    })
  }

  async describeCluster(): Promise<DBCluster> {
    const earliest = this.#earliest()
    return {
      DBClusterIdentifier: this.clusterIdentifier,
      DBClusterArn: this.#arn,
      Status: this.#status(),
      Engine: 'aurora-mysql',
      EngineVersion: '8.0.mysql_aurora.3.05.2',
      Endpoint: '127.0.0.1',
      Port: this.#port,
      MasterUsername: this.#masterUsername,
      ...(this.#databaseName === undefined ? {} : { DatabaseName: this.#databaseName }),
      ClusterCreateTime: this.#createdAt,
      BacktrackWindow: this.#window,
      ...(earliest === undefined ? {} : { EarliestBacktrackTime: earliest }),
      BacktrackConsumedChangeRecords: this.#changeRecords,
      LatestRestorableTime: this.#clock(),
    }
  }

  async backtrack(input: BacktrackInput): Promise<DBClusterBacktrack> {
    const status = this.#status()
    if (status !== 'available') {
      throw new BacktrackError(
        'InvalidDBClusterStateFault',
        `DB cluster ${this.clusterIdentifier} is not in the available state (it is ${status}).`,
      )
    }
    const earliest = this.#earliest()
    if (earliest === undefined) {
      throw new BacktrackError(
        'InvalidDBClusterStateFault',
        `Backtrack is not enabled for DB cluster ${this.clusterIdentifier}.`,
      )
    }
    if (this.#binaryLogging && input.force !== true) {
      throw new BacktrackError(
        'InvalidParameterCombination',
        `Binary logging is enabled on DB cluster ${this.clusterIdentifier}; set Force to backtrack anyway.`,
      )
    }
    const now = this.#clock()
    if (input.backtrackTo > now) {
      throw new BacktrackError(
        'InvalidParameterValue',
        `The backtrack time ${formatRdsTime(input.backtrackTo)} is in the future.`,
      )
    }
    let backtrackTo = input.backtrackTo
    if (backtrackTo < earliest) {
      if (input.useEarliestTimeOnPointInTimeUnavailable !== true) {
        throw new BacktrackError(
          'InvalidParameterValue',
          `The backtrack time ${formatRdsTime(backtrackTo)} is before the earliest backtrack time ${formatRdsTime(earliest)}.`,
        )
      }
      backtrackTo = earliest
    }
    const record: DBClusterBacktrack = {
      DBClusterIdentifier: this.clusterIdentifier,
      BacktrackIdentifier: randomUUID(),
      BacktrackTo: backtrackTo,
      BacktrackRequestCreationTime: now,
      Status: 'pending',
    }
    this.#records.unshift(record)
    this.#emit(`Backtrack to ${formatRdsTime(backtrackTo)} requested.`, ['backtrack'])
    this.#schedule(record)
    return { ...record }
  }

  #schedule(record: DBClusterBacktrack): void {
    if (this.#phaseMs === undefined) return
    const timer = setTimeout(() => {
      this.#timers.delete(timer)
      this.#step(record)
      if (record.Status === 'applying') this.#schedule(record)
    }, this.#phaseMs)
    timer.unref()
    this.#timers.add(timer)
  }

  #step(record: DBClusterBacktrack): void {
    if (record.Status === 'pending') {
      record.Status = 'applying'
      record.BacktrackedFrom = this.#clock()
    } else if (record.Status === 'applying') {
      record.Status = 'completed'
      this.#emit(`Backtrack to ${formatRdsTime(record.BacktrackTo)} completed.`, ['backtrack'])
    }
  }

  /** Moves every running backtrack one phase on (pending → applying → completed). */
  advance(): void {
    for (const record of this.#records) this.#step(record)
  }

  /** Completes every running backtrack. */
  completeAll(): void {
    this.advance()
    this.advance()
  }

  /** Counts writes, as Aurora counts change records. */
  recordChanges(count: number): void {
    this.#changeRecords += count
  }

  async describeBacktracks(input: DescribeBacktracksInput = {}): Promise<BacktrackPage> {
    if (input.backtrackIdentifier !== undefined) {
      const id = validateBacktrackIdentifier(input.backtrackIdentifier)
      if (!this.#records.some((record) => record.BacktrackIdentifier === id)) throw backtrackNotFound(id)
    }
    const page = pageBacktracks(this.#records, input)
    return { ...page, backtracks: page.backtracks.map((record) => ({ ...record })) }
  }

  async waitForBacktrack(backtrackIdentifier: string, options: WaitOptions = {}): Promise<DBClusterBacktrack> {
    return pollBacktrack(
      {
        read: async () => {
          const [record] = (await this.describeBacktracks({ backtrackIdentifier })).backtracks
          if (record === undefined) throw backtrackNotFound(backtrackIdentifier)
          return record
        },
        cadence: { pollMs: 10, maxPollMs: 10 },
      },
      options,
    )
  }

  async modifyBacktrackWindow(seconds: number): Promise<DBCluster> {
    validateBacktrackWindow(seconds)
    if (this.#status() !== 'available') {
      throw new BacktrackError(
        'InvalidDBClusterStateFault',
        `DB cluster ${this.clusterIdentifier} is not in the available state (it is ${this.#status()}).`,
      )
    }
    // AWS: once disabled (window 0), backtracking cannot be enabled again; the cluster's state forbids it.
    if (this.#window === 0 && seconds > 0) {
      throw new BacktrackError('InvalidDBClusterStateFault', 'Backtrack cannot currently be enabled for this cluster')
    }
    this.#window = seconds
    return this.describeCluster()
  }

  async now(): Promise<Date> {
    return this.#clock()
  }

  async mark(): Promise<Date> {
    return this.#clock()
  }

  async sqlEndpoint(): Promise<SqlEndpoint> {
    return {
      host: '127.0.0.1',
      port: this.#port,
      user: this.#masterUsername,
      password: 'fake',
      ...(this.#databaseName === undefined ? {} : { database: this.#databaseName }),
    }
  }

  /** Marks the cluster as being deleted and stops its timers. */
  markDeleting(): void {
    this.#deleting = true
    void this.close()
  }

  async close(): Promise<void> {
    for (const timer of this.#timers) clearTimeout(timer)
    this.#timers.clear()
  }
}
