import { randomUUID } from 'node:crypto'
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import mysql, { type Pool, type PoolConnection } from 'mysql2/promise'
import {
  BacktrackError,
  formatRdsTime,
  normalizeClusterIdentifier,
  pageBacktracks,
  pollBacktrack,
  systemPollClock,
  validateBacktrackIdentifier,
  validateBacktrackWindow,
  backtrackNotFound,
  type BacktrackEngine,
  type BacktrackInput,
  type BacktrackPage,
  type ClusterStatus,
  type DBCluster,
  type DBClusterBacktrack,
  type DescribeBacktracksInput,
  type SqlEndpoint,
  type WaitOptions,
} from '@backtrack/core'
import { auroraEngineVersion } from './aurora-engine-version.js'
import { Capture, type CaptureLogger } from './capture/capture.js'
import { ClientSessions, type SessionPolicy } from './client-sessions.js'
import { systemClock, type Clock } from './clock.js'
import { BacktrackExecutor, type ApplyStats } from './executor/backtrack-executor.js'
import { PageLog } from './page-log/page-log.js'
import type { View } from './page-log/view.js'
import { isServerGone } from './server-gone.js'
import { prepareSession } from './capture/schema-reader.js'
import { verifyState, type VerifyReport } from './verify/verify-state.js'
import type { StartedMysqlServer } from '@backtrack/mysql-server'

/** Lets the SQL endpoint in front of the server hold client connections while a rewind applies. */
export interface ConnectionGate {
  /** Closes client connections and holds new ones until `resume()`. */
  pause(): Promise<void>
  resume(): void
}

export interface SimulatorEngineOptions {
  server: StartedMysqlServer
  /** Folder of the page log (created when missing). */
  dataDir: string
  clusterIdentifier?: string
  /** Backtrack window in seconds for a new cluster (default 86400); an existing cluster keeps its own. */
  backtrackWindow?: number
  /** Database to create for users when the cluster is new (the lab's `mylab`). */
  database?: string
  clock?: Clock
  logger?: CaptureLogger
  /** Told when the capture stops with a fault, and with undefined when it resumes after one. */
  onCaptureFault?: (fault: BacktrackError | undefined) => void
  /** Where clients reach the SQL side when it is not the server itself (e.g. a proxy). */
  sqlEndpoint?: () => { host: string; port: number }
  gate?: ConnectionGate
  /** How long a request stays `pending` before it applies (Aurora: seconds; default 0). */
  pendingMillis?: number
  region?: string
}

export interface BacktrackOutcome {
  record: DBClusterBacktrack
  stats?: ApplyStats
  applyMillis?: number
  /**
   * Milliseconds of each step from the request until the cluster was `available` again, in order (for the
   * benchmark's breakdown): pending, close (client sessions), holdWrites, catchUp, apply, record, resync, unpause.
   */
  phases?: Record<string, number>
}

/** What a rewind has held off, so that it lets exactly that back in. */
interface Held {
  readOnly: boolean
  locked: boolean
  paused: boolean
}

/** A rewind stopped waiting for the server because the engine is closing. */
class StoppedWaiting extends Error {
  constructor() {
    super('the cluster is stopping')
  }
}

const micros = (date: Date) => date.getTime() * 1000
const dateOf = (us: number) => new Date(Math.floor(us / 1000))

/**
 * A simulated Aurora MySQL cluster: a real server, its binlog captured into the page log, and the executor
 * that rewinds the server in place. Backtracks run one at a time, in the background, like Aurora's.
 */
export class SimulatorEngine implements BacktrackEngine {
  readonly kind = 'simulator' as const
  readonly clusterIdentifier: string
  readonly #options: SimulatorEngineOptions
  readonly #log: PageLog
  readonly #clock: Clock
  #capture!: Capture
  #admin!: Pool
  #sessions!: ClientSessions
  #status: ClusterStatus = 'available'
  #running: Promise<void> | undefined
  #lastOutcome: BacktrackOutcome | undefined
  #closed = false
  /** Set when close() begins: a rewind waiting for the server stops waiting. */
  #stopping = false
  /** A backtrack started by a request is still running (`#running` has not settled). */
  #applying = false
  readonly #failures = new Map<string, string>()

  private constructor(options: SimulatorEngineOptions, log: PageLog, id: string) {
    this.#options = options
    this.#log = log
    this.#clock = options.clock ?? systemClock
    this.clusterIdentifier = id
  }

  /** Starts (or resumes, when `dataDir` holds one) a cluster over `server`. */
  static async start(options: SimulatorEngineOptions): Promise<SimulatorEngine> {
    mkdirSync(options.dataDir, { recursive: true })
    const log = new PageLog(join(options.dataDir, 'page-log.sqlite'))
    const clock = options.clock ?? systemClock
    let id = log.getMeta('cluster_id')
    if (id === undefined) {
      id = normalizeClusterIdentifier(options.clusterIdentifier ?? 'labstack-cluster')
      log.transaction(() => {
        log.setMeta('cluster_id', id!)
        log.setMeta('created_us', String(clock.nowMicros()))
        log.setMeta('backtrack_window', String(validateBacktrackWindow(options.backtrackWindow ?? 86_400)))
      })
    } else if (
      options.clusterIdentifier !== undefined &&
      normalizeClusterIdentifier(options.clusterIdentifier) !== id
    ) {
      log.close()
      throw new BacktrackError(
        'InvalidParameterCombination',
        `${options.dataDir} holds cluster ${id}, not ${options.clusterIdentifier}: use another data dir or --cluster-id ${id}`,
      )
    }
    const engine = new SimulatorEngine(options, log, id)
    try {
      await engine.#open()
    } catch (error) {
      log.close()
      throw error
    }
    return engine
  }

  async #open(): Promise<void> {
    const server = this.#options.server
    // A pool reconnects by itself when the server restarts.
    this.#admin = mysql.createPool({ ...server.connectionOptions('admin'), connectionLimit: 4 })
    this.#sessions = new ClientSessions({
      admin: this.#admin,
      log: this.#log,
      flavor: server.flavor,
      adminUser: server.admin.user,
    })
    // A crash during a backtrack may have left the client accounts locked.
    await this.#sessions.unlockAccounts()
    if (this.#options.database !== undefined && this.#log.getMeta('binlog_file') === undefined) {
      await this.#admin.query(`CREATE DATABASE IF NOT EXISTS \`${this.#options.database.replaceAll('`', '``')}\``)
    }
    this.#capture = await Capture.start({
      server,
      log: this.#log,
      clock: this.#clock,
      windowSeconds: () => this.#window(),
      logger: this.#options.logger,
      ...(this.#options.onCaptureFault === undefined ? {} : { onFault: this.#options.onCaptureFault }),
    })
    // A request that a crash interrupted: one still pending changed nothing and failed; one that was applying
    // may have left the server half rewound, so it is finished now, before any client is let in.
    for (const record of this.#records()) {
      if (record.Status === 'pending') this.#saveRecord({ ...record, Status: 'failed' })
      if (record.Status === 'applying') {
        this.#options.logger?.warn(
          `backtrack ${record.BacktrackIdentifier} was interrupted while applying; finishing it`,
        )
        this.#status = 'backtracking'
        await this.#apply(record, micros(record.BacktrackTo), 'close-all')
      }
    }
  }

  /** The page log (read-only use: find, diff, show). */
  get pageLog(): PageLog {
    return this.#log
  }

  get capture(): Capture {
    return this.#capture
  }

  /** What the last finished backtrack did (for benchmarks and status). */
  get lastOutcome(): BacktrackOutcome | undefined {
    return this.#lastOutcome
  }

  #window(): number {
    return Number(this.#log.getMeta('backtrack_window') ?? 0)
  }

  #earliestMicros(): number {
    return Math.max(this.#log.earliestMicros() ?? this.#clock.nowMicros(), Number(this.#log.getMeta('created_us')))
  }

  async describeCluster(): Promise<DBCluster> {
    this.#assertOpen()
    const server = this.#options.server
    const endpoint = this.#options.sqlEndpoint?.() ?? { host: server.host, port: server.port }
    const window = this.#window()
    const region = this.#options.region ?? 'us-east-1'
    return {
      DBClusterIdentifier: this.clusterIdentifier,
      DBClusterArn: `arn:aws:rds:${region}:000000000000:cluster:${this.clusterIdentifier}`,
      Status: this.#capture.error === undefined ? this.#status : 'failed',
      Engine: 'aurora-mysql',
      EngineVersion: auroraEngineVersion(server.flavor, server.version),
      Endpoint: endpoint.host,
      Port: endpoint.port,
      MasterUsername: server.app.user,
      ...(this.#options.database === undefined ? {} : { DatabaseName: this.#options.database }),
      ClusterCreateTime: dateOf(Number(this.#log.getMeta('created_us'))),
      BacktrackWindow: window,
      ...(window > 0 ? { EarliestBacktrackTime: dateOf(this.#earliestMicros()) } : {}),
      BacktrackConsumedChangeRecords: this.#log.changeRecords,
      LatestRestorableTime: dateOf(this.#clock.nowMicros()),
      // A point-in-time restore reads the page log, so it reaches as far back as a backtrack does.
      EarliestRestorableTime: dateOf(this.#earliestMicros()),
    }
  }

  /**
   * Aurora's `BacktrackDBCluster`: starts rewinding and returns the `pending` record. Until the cluster is
   * `available` again, client logins are refused ("account is locked") and every client connection is closed.
   */
  async backtrack(input: BacktrackInput): Promise<DBClusterBacktrack> {
    return { ...this.#request(input, 'close-all') }
  }

  /**
   * A test reset: rewinds to `to` and resolves once the cluster is `available` with the data as at `to`, with the
   * request's `completed` record. Unlike {@link backtrack}, idle client connections stay open (an application's
   * pool keeps working); only sessions inside a transaction or running a statement are closed, and client writes
   * are refused (`read_only`) while it applies. Rejects with `InternalFailure` when the rewind failed (the cluster
   * is left as it was) and with the same faults as `backtrack` for a bad time or a busy cluster.
   */
  async rewind(to: Date): Promise<DBClusterBacktrack> {
    const record = this.#request({ backtrackTo: to }, 'close-busy')
    await this.#running
    if (record.Status !== 'completed') {
      throw new BacktrackError(
        'InternalFailure',
        `Rewinding DBCluster ${this.clusterIdentifier} to ${formatRdsTime(record.BacktrackTo)} failed: ${this.#failures.get(record.BacktrackIdentifier) ?? 'see the cluster log'}.`,
      )
    }
    return { ...record }
  }

  #request(input: BacktrackInput, policy: SessionPolicy): DBClusterBacktrack {
    this.#assertOpen()
    if (this.#capture.error !== undefined) {
      throw new BacktrackError(
        'InvalidDBClusterStateFault',
        `DBCluster ${this.clusterIdentifier} cannot backtrack: ${this.#capture.error.message}`,
      )
    }
    if (this.#status !== 'available') {
      throw new BacktrackError(
        'InvalidDBClusterStateFault',
        `DBCluster ${this.clusterIdentifier} is not in the available state (it is ${this.#status}); wait for the running backtrack to finish.`,
      )
    }
    if (this.#window() === 0) {
      throw new BacktrackError(
        'InvalidDBClusterStateFault',
        `Backtrack is not enabled for DBCluster ${this.clusterIdentifier}: its backtrack window is 0, and it cannot be enabled again.`,
      )
    }
    const requested = input.backtrackTo
    if (!(requested instanceof Date) || Number.isNaN(requested.getTime())) {
      throw new BacktrackError('InvalidParameterValue', 'BacktrackTo must be a valid time, e.g. 2026-11-24T00:10:00Z.')
    }
    // A mark may lie up to a millisecond ahead of the clock; it is the present, not the future.
    const now = Math.max(this.#clock.nowMicros(), this.#capture.floorMicros)
    let to = micros(requested)
    if (to > now) {
      throw new BacktrackError(
        'InvalidParameterValue',
        `The BacktrackTo time ${formatRdsTime(requested)} is in the future (now is ${formatRdsTime(dateOf(now))}). Pick a time in the past.`,
      )
    }
    const earliest = this.#earliestMicros()
    if (to < earliest) {
      if (!input.useEarliestTimeOnPointInTimeUnavailable) {
        throw new BacktrackError(
          'InvalidParameterValue',
          `The BacktrackTo time ${formatRdsTime(requested)} is before the earliest backtrack time ${formatRdsTime(dateOf(earliest))}. ` +
            'Pick a later time, or pass UseEarliestTimeOnPointInTimeUnavailable to backtrack to the earliest time.',
        )
      }
      to = earliest
    }
    const record: DBClusterBacktrack = {
      DBClusterIdentifier: this.clusterIdentifier,
      BacktrackIdentifier: randomUUID(),
      BacktrackTo: dateOf(to),
      BacktrackRequestCreationTime: dateOf(now),
      Status: 'pending',
    }
    this.#saveRecord(record)
    this.#status = 'backtracking'
    this.#applying = true
    this.#running = this.#apply(record, to, policy)
      .catch((error: unknown) => {
        // Only a crashed (closed) engine gets here: its log is gone, and so is the request's outcome.
        if (!this.#closed)
          this.#options.logger?.warn(`backtrack ${record.BacktrackIdentifier}: ${(error as Error).message}`)
      })
      .finally(() => (this.#applying = false))
    return record
  }

  async #apply(record: DBClusterBacktrack, toMicros: number, policy: SessionPolicy): Promise<void> {
    const held: Held = { readOnly: false, locked: false, paused: false }
    let capturePaused = false
    let outcome: { stats: ApplyStats; applyMillis: number; phases: Record<string, number> } | undefined
    let failure: Error | undefined
    // Whether the server's data is as before the request (so a failure can say "left as it was").
    let asBefore = true
    // Stopped while waiting for the server: the record stays `applying`, and the next start finishes it.
    let unfinished = false
    const started = performance.now()
    const phases: Record<string, number> = {}
    let phaseStarted = started
    const phase = (name: string) => {
      const now = performance.now()
      phases[name] = now - phaseStarted
      phaseStarted = now
    }
    try {
      if (this.#options.pendingMillis) await sleep(this.#options.pendingMillis)
      phase('pending')
      await this.#quiesce(policy, held, phase)
      await this.#capture.catchUp()
      phase('catchUp')
      this.#capture.pause()
      capturePaused = true
      // The executor's reader reads row_version only: everything captured must be merged into it.
      this.#capture.settle()
      this.#saveRecord(Object.assign(record, { Status: 'applying', BacktrackedFrom: dateOf(this.#clock.nowMicros()) }))
      const from = this.#log.headView()
      const targetLsn = this.#log.lsnAt(toMicros)
      const to = this.#log.viewAt(targetLsn)
      // The executor reads through its own connection: a cursor left open by a failed load must never keep the
      // log's writer (the capture, this record) from committing.
      const reader = new PageLog(this.#log.path, { readonly: true })
      try {
        const applyStarted = performance.now()
        try {
          const stats = await this.#converge(record, reader, from, to, policy, held)
          const applyMillis = performance.now() - applyStarted
          phase('apply')
          this.#log.begin()
          const lsn = this.#log.nextLsn()
          const stamp = this.#capture.stampNow()
          this.#log.putTxn({
            lsn,
            commitMicros: stamp,
            kind: 'backtrack',
            gtid: null,
            sql: `BACKTRACK TO ${formatRdsTime(record.BacktrackTo)} (${record.BacktrackIdentifier})`,
            changes: 0,
            targetLsn,
          })
          this.#log.flush()
          phase('record')
          this.#capture.resyncAfterRewind(from)
          phase('resync')
          outcome = { stats, applyMillis, phases }
        } catch (error) {
          if (error instanceof StoppedWaiting) throw error
          failure = error as Error
          asBefore = false
          // Put the server back where it was, so the cluster stays consistent and usable.
          await this.#converge(record, reader, to, from, policy, held)
          asBefore = true
        }
      } finally {
        reader.close()
      }
    } catch (error) {
      if (error instanceof StoppedWaiting) unfinished = true
      else if (failure === undefined) failure = error as Error
      else failure = new Error(`${failure.message}; undoing it failed too: ${(error as Error).message}`)
    } finally {
      if (capturePaused) this.#capture.resume()
      await this.#release(held)
      // Letting clients back in: writes released, accounts unlocked, held connections forwarded.
      phase('unpause')
    }
    if (unfinished) {
      this.#options.logger?.warn(
        `backtrack ${record.BacktrackIdentifier} is left applying (the cluster stopped while it waited for the server); the next start finishes it`,
      )
      return
    }
    // Only now, with clients let back in and writable, in one step: the record's outcome and `available`.
    try {
      this.#finish(record, started, outcome, failure, asBefore)
    } finally {
      this.#status = 'available'
    }
  }

  /**
   * Quiets the server for a rewind: client sessions closed (all, or the busy ones), logins refused ('close-all'),
   * client writes held off. Run again after the server restarted, since read_only does not survive a restart.
   */
  async #quiesce(policy: SessionPolicy, held: Held, phase: (name: string) => void = () => {}): Promise<void> {
    const sessions = this.#sessions
    const gate = this.#options.gate
    if (policy === 'close-all') {
      if (gate !== undefined && !held.paused) {
        await gate.pause()
        held.paused = true
      }
      // Aurora: the database is paused; a client that reconnects is refused until the cluster is available.
      held.locked = true
      await sessions.lockAccounts()
      await sessions.close('all')
    } else {
      // Sessions whose transaction saw the old state, or that hold locks the rewind needs, cannot go on.
      await sessions.close('busy')
    }
    phase('close')
    held.readOnly = true
    await sessions.holdWrites()
    // A statement that began before writes were held off: close it too.
    await sessions.close(policy === 'close-all' ? 'all' : 'busy')
    phase('holdWrites')
  }

  /**
   * Lets clients back in, before the cluster is `available` (an available cluster must not refuse its users): when
   * the server went away, this waits for it and does it again (account locks survive a restart). What fails
   * otherwise, or a stop while waiting, is logged; the next start unlocks accounts left locked.
   */
  async #release(held: Held): Promise<void> {
    if (held.readOnly) {
      await this.#onceServerAnswers(() => this.#sessions.releaseWrites()).catch((error: Error) => {
        this.#options.logger?.warn(`could not turn read_only off: ${error.message}`)
      })
    }
    if (held.locked) {
      await this.#onceServerAnswers(() => this.#sessions.unlockAccounts()).catch((error: Error) => {
        this.#options.logger?.warn(`client accounts stay locked (the next start unlocks them): ${error.message}`)
      })
    }
    if (held.paused) this.#options.gate!.resume()
  }

  /** Runs `work`, and again each time the server went away in the middle, once it answers again. */
  async #onceServerAnswers(work: () => Promise<void>): Promise<void> {
    for (;;) {
      try {
        await work()
        return
      } catch (error) {
        if (!isServerGone(error)) throw error
        this.#options.logger?.warn(`the server went away while letting clients back in: ${(error as Error).message}`)
        await this.#waitForServer()
      }
    }
  }

  /**
   * Makes the server's data equal to `to`, starting from `from`. Every step of the executor is idempotent, so when
   * the server goes away in the middle (killed, restarted) this waits until it answers again, quiets it again and
   * runs the whole rewind again: it converges on `to`. Any other error is thrown.
   */
  async #converge(
    record: DBClusterBacktrack,
    reader: PageLog,
    from: View,
    to: View,
    policy: SessionPolicy,
    held: Held,
  ): Promise<ApplyStats> {
    for (;;) {
      let session: PoolConnection | undefined
      try {
        session = await this.#admin.getConnection()
        const executor = new BacktrackExecutor(session, reader)
        await executor.prepareSession()
        return await executor.apply(from, to)
      } catch (error) {
        if (!isServerGone(error)) throw error
        this.#options.logger?.warn(
          `backtrack ${record.BacktrackIdentifier}: the server went away while applying (${(error as Error).message}); applying it again once the server is back`,
        )
        await this.#waitForServer()
        await this.#quiesce(policy, held)
      } finally {
        // The executor's session settings (sql_log_bin = 0, ...) must not leak into other uses of the pool.
        session?.destroy()
      }
    }
  }

  /** Waits until the server answers again; throws `StoppedWaiting` when the engine is being closed. */
  async #waitForServer(): Promise<void> {
    const started = Date.now()
    let reported = started
    for (;;) {
      if (this.#stopping) throw new StoppedWaiting()
      try {
        await this.#admin.query('SELECT 1')
        this.#options.logger?.info(`the server answers again after ${Math.round((Date.now() - started) / 1000)} s`)
        return
      } catch (error) {
        if (!isServerGone(error)) throw error
      }
      if (Date.now() - reported >= 30_000) {
        reported = Date.now()
        this.#options.logger?.warn(
          `still waiting for the server (${Math.round((reported - started) / 1000)} s); the backtrack finishes once it is back`,
        )
      }
      await sleep(250)
    }
  }

  #finish(
    record: DBClusterBacktrack,
    started: number,
    outcome: { stats: ApplyStats; applyMillis: number; phases: Record<string, number> } | undefined,
    failure: Error | undefined,
    asBefore: boolean,
  ): void {
    if (outcome !== undefined) {
      this.#saveRecord(Object.assign(record, { Status: 'completed' }))
      this.#lastOutcome = { record: { ...record }, ...outcome }
      this.#options.logger?.info(
        `backtrack ${record.BacktrackIdentifier} to ${formatRdsTime(record.BacktrackTo)} completed in ${Math.round(performance.now() - started)} ms (${JSON.stringify(outcome.stats)})`,
      )
    } else {
      const reason =
        `${failure?.message ?? 'unknown error'}; ` +
        (asBefore
          ? 'the cluster was left as it was'
          : "the cluster's data may be partly rewound: `backtrack verify` shows which tables differ from the page log")
      this.#saveRecord(Object.assign(record, { Status: 'failed' }), reason)
      this.#lastOutcome = { record: { ...record } }
      this.#options.logger?.warn(`backtrack ${record.BacktrackIdentifier} failed: ${reason}`)
    }
  }

  /** Stores the request's record; a failed one keeps its reason (what `waitForBacktrack` and events say). */
  #saveRecord(record: DBClusterBacktrack, failureReason?: string): void {
    if (failureReason !== undefined) this.#failures.set(record.BacktrackIdentifier, failureReason)
    this.#log.putBacktrackRequest(
      record.BacktrackIdentifier,
      micros(record.BacktrackRequestCreationTime),
      failureReason === undefined ? record : { ...record, FailureReason: failureReason },
    )
  }

  #records(): DBClusterBacktrack[] {
    return this.#log.backtrackRequests().map((raw) => {
      const record = raw as Record<string, string>
      // A failure's reason outlives the process that saw it.
      if (record.FailureReason !== undefined && !this.#failures.has(record.BacktrackIdentifier!)) {
        this.#failures.set(record.BacktrackIdentifier!, record.FailureReason)
      }
      return {
        DBClusterIdentifier: record.DBClusterIdentifier!,
        BacktrackIdentifier: record.BacktrackIdentifier!,
        BacktrackTo: new Date(record.BacktrackTo!),
        ...(record.BacktrackedFrom === undefined ? {} : { BacktrackedFrom: new Date(record.BacktrackedFrom) }),
        BacktrackRequestCreationTime: new Date(record.BacktrackRequestCreationTime!),
        Status: record.Status as DBClusterBacktrack['Status'],
      }
    })
  }

  async describeBacktracks(input: DescribeBacktracksInput = {}): Promise<BacktrackPage> {
    this.#assertOpen()
    const page = pageBacktracks(this.#records(), input)
    if (input.backtrackIdentifier !== undefined && page.backtracks.length === 0) {
      throw backtrackNotFound(input.backtrackIdentifier)
    }
    return page
  }

  async waitForBacktrack(backtrackIdentifier: string, options: WaitOptions = {}): Promise<DBClusterBacktrack> {
    const id = validateBacktrackIdentifier(backtrackIdentifier)
    return pollBacktrack(
      {
        read: async () => {
          const [record] = (await this.describeBacktracks({ backtrackIdentifier: id })).backtracks
          if (record === undefined) throw backtrackNotFound(id)
          return record
        },
        failureReason: (record) => this.#failures.get(record.BacktrackIdentifier) ?? 'see the cluster log',
        // A backtrack here takes milliseconds to seconds; a wait also ends the moment the running one finishes.
        cadence: { pollMs: 50, maxPollMs: 50 },
        clock: {
          now: () => Date.now(),
          // Woken early when the running backtrack ends; a settled one must not turn this into a busy loop (it did:
          // with a record left unfinished, the loop starved the event loop and filled the heap with timers).
          sleep: (ms, signal) => {
            const running = this.#applying ? this.#running : undefined
            const sleeping = systemPollClock.sleep(ms, signal)
            return (running === undefined ? sleeping : Promise.race([running, sleeping])).then(() => {})
          },
        },
      },
      options,
    )
  }

  async modifyBacktrackWindow(seconds: number): Promise<DBCluster> {
    this.#assertOpen()
    validateBacktrackWindow(seconds)
    // Aurora refuses it too; here a shorter window would also prune the log under the running executor.
    if (this.#status !== 'available') {
      throw new BacktrackError(
        'InvalidDBClusterStateFault',
        `DBCluster ${this.clusterIdentifier} is not in the available state (it is ${this.#status}); change its backtrack window once the running backtrack has finished.`,
      )
    }
    if (this.#window() === 0 && seconds > 0) {
      throw new BacktrackError(
        'InvalidDBClusterStateFault',
        `Backtrack cannot currently be enabled for DBCluster ${this.clusterIdentifier}: it was disabled (window 0) and cannot be re-enabled.`,
      )
    }
    this.#log.setMeta('backtrack_window', String(seconds))
    if (seconds > 0) this.#log.prune(this.#clock.nowMicros() - seconds * 1e6)
    return this.describeCluster()
  }

  async now(): Promise<Date> {
    return dateOf(this.#clock.nowMicros())
  }

  async mark(): Promise<Date> {
    this.#assertOpen()
    await this.#capture.catchUp()
    const at = Math.ceil((Math.max(this.#clock.nowMicros(), this.#capture.lastStamp) + 1) / 1000) * 1000
    this.#capture.raiseFloor(at)
    return dateOf(at)
  }

  /**
   * Compares the page log's state as of now with the server's tables, table by table, and reports any drift with
   * the table and its first differing key: what a rewind to now would have to change, which must be nothing.
   * Writes wait for a moment while the comparison's snapshot is taken (FLUSH TABLES WITH READ LOCK); the tables are
   * then read from that snapshot while writes go on.
   */
  async verify(): Promise<VerifyReport> {
    this.#assertOpen()
    if (this.#capture.error !== undefined) {
      throw new BacktrackError(
        'InvalidDBClusterStateFault',
        `DBCluster ${this.clusterIdentifier} cannot be verified: ${this.#capture.error.message}`,
      )
    }
    if (this.#status !== 'available') {
      throw new BacktrackError(
        'InvalidDBClusterStateFault',
        `DBCluster ${this.clusterIdentifier} is not in the available state (it is ${this.#status}); verify it once the backtrack has finished.`,
      )
    }
    // Most of the catching up happens before writes are held, so they are held only for a moment.
    await this.#capture.catchUp()
    const connection = await mysql.createConnection(this.#options.server.connectionOptions('admin'))
    let reader: PageLog | undefined
    try {
      await prepareSession(connection)
      await connection.query('SET SESSION lock_wait_timeout = 10')
      await connection.query('FLUSH TABLES WITH READ LOCK')
      let lsn: number
      try {
        await this.#capture.catchUp(10_000)
        this.#capture.settle()
        lsn = this.#log.lastLsn
        await connection.query('START TRANSACTION WITH CONSISTENT SNAPSHOT')
      } finally {
        await connection.query('UNLOCK TABLES')
      }
      reader = new PageLog(this.#log.path, { readonly: true })
      const tables = await verifyState(connection, reader, reader.viewAt(lsn))
      await connection.query('COMMIT')
      return { ok: tables.every((table) => table.status === 'same'), lsn, tables }
    } finally {
      reader?.close()
      await connection.end().catch(() => connection.destroy())
    }
  }

  /** `mark()` under a name, for `backtrack to <name>`. */
  async namedMark(name: string): Promise<Date> {
    const at = await this.mark()
    this.#log.addMarker(name, micros(at))
    return at
  }

  async sqlEndpoint(): Promise<SqlEndpoint> {
    const endpoint = this.#options.sqlEndpoint?.() ?? {
      host: this.#options.server.host,
      port: this.#options.server.port,
    }
    return {
      ...endpoint,
      user: this.#options.server.app.user,
      password: this.#options.server.app.password,
      ...(this.#options.database === undefined ? {} : { database: this.#options.database }),
    }
  }

  /** Client sessions on the server now (the simulator's own and replication streams not counted). */
  clientConnections(): Promise<number> {
    this.#assertOpen()
    return this.#sessions.count()
  }

  /**
   * A rewind waiting for its server to come back (killed, restarting) stops waiting: its record stays `applying`
   * and the next start finishes it. For shutting down; `close()` does it too.
   */
  stopWaitingForServer(): void {
    this.#stopping = true
  }

  /** Resolves when no backtrack is running. */
  async idle(): Promise<void> {
    await this.#running
  }

  #assertOpen(): void {
    if (this.#closed)
      throw new BacktrackError('ServiceUnavailable', `DBCluster ${this.clusterIdentifier} is shut down.`)
  }

  /** Drops the engine as a `kill -9` would: no flush, no clean shutdown (for crash-recovery tests). */
  async crash(): Promise<void> {
    this.#closed = true
    await this.#capture.crash()
    await this.#admin.end().catch(() => undefined)
    this.#log.close()
  }

  async close(): Promise<void> {
    if (this.#closed) return
    this.#stopping = true
    await this.#running
    this.#closed = true
    await this.#capture.stop()
    await this.#admin.end().catch(() => undefined)
    this.#log.close()
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close()
  }
}
