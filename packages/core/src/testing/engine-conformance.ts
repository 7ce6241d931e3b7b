import { randomUUID } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { BacktrackEngine } from '../backtrack-engine.js'
import { BacktrackError, type ErrorCode } from '../errors.js'
import type { BacktrackInput, BacktrackStatus, ClusterStatus, DBClusterBacktrack } from '../types.js'
import { seededRandom as random } from './seeded-random.js'

/** What a conformance run needs besides the engine: a way to run SQL on the cluster. Core stays driver-free. */
export interface ConformanceContext {
  engine: BacktrackEngine
  /**
   * Runs one statement on the cluster's SQL endpoint and returns its rows (a backtrack may close connections).
   * Without it (an API-only test double) the tests that need data are skipped: say why in the options' `lacks.sql`.
   */
  sql?: (statement: string) => Promise<Record<string, unknown>[]>
  /** A mark to use instead of `engine.mark()`. */
  mark?: () => Promise<Date>
  /** An engine like `engine` for a cluster that does not exist; without it (say why in `lacks.otherCluster`) the not-found test is skipped. */
  makeMissingCluster?: (clusterIdentifier: string) => BacktrackEngine | Promise<BacktrackEngine>
  /** Called once after the suite: close engines, stop servers. */
  cleanup?: () => Promise<void>
}

/** What a context cannot offer, each with why: the reason goes into the names of the tests it skips. */
export interface ConformanceLacks {
  /** No `sql`: the change-records, lab and back-and-forth tests are skipped; the others skip their SQL checks. */
  sql?: string
  /** No `makeMissingCluster`: the DBClusterNotFoundFault test is skipped. */
  otherCluster?: string
}

export interface ConformanceOptions {
  /** Why the suite cannot run here; it is then skipped with this reason in its name. */
  skipReason?: string
  /**
   * What the context will lack, known before it starts so that every skipped test says why in its name (a CI log
   * lists skips by name). A context that lacks `sql` or `makeMissingCluster` without a reason here fails the tests
   * that need it.
   */
  lacks?: ConformanceLacks
  /**
   * The cluster is a throw-away one: the suite's very last test may disable backtracking on it for good (window 0,
   * which cannot be undone). Leave it unset for a cluster you keep (live Aurora); that test is then skipped, saying so.
   */
  disposable?: boolean
  /** Database the suite makes its tables in (created when missing). Default `backtrack_conformance`. */
  database?: string
  /** Pause before and after each mark. Real Aurora backtracks to a consistent time about a second apart: 2000 there. */
  markSpacingMs?: number
  /** `pollMs` for `waitForBacktrack` and the suite's own polling. Default 50. */
  pollMs?: number
  /** Timeout of each test. Default 60 s. */
  testTimeoutMs?: number
  /** How long a value that shows eventually (change records, status after a backtrack) may take. Default 10 s. */
  eventuallyMs?: number
  /** Transactions in the back-and-forth test (one row each). Default 20. */
  oracleTransactions?: number
  /** Random rewinds in the back-and-forth test, before its fixed back, forth, back, forth. Default 5. */
  oracleRewinds?: number
  /** Seed of the back-and-forth test's rewind order. Default: a new one each run, printed on failure. */
  seed?: number
}

const BACKTRACK_ORDER: readonly BacktrackStatus[] = ['pending', 'applying', 'completed']
const CLUSTER_STATES_DURING_BACKTRACK: readonly ClusterStatus[] = ['available', 'backtracking']
const MISSING_CLUSTER = 'backtrack-conformance-missing'

/** Rejects unless `promise` rejects with a `BacktrackError` of `code`; says what came instead. */
async function expectFault(promise: Promise<unknown>, code: ErrorCode): Promise<BacktrackError> {
  let outcome: unknown
  try {
    outcome = { resolved: await promise }
  } catch (error) {
    if (BacktrackError.is(error, code)) return error
    outcome = error
  }
  const seen =
    outcome instanceof Error
      ? `${(outcome as { code?: string }).code ?? outcome.name}: ${outcome.message}`
      : JSON.stringify(outcome)
  throw new Error(`expected a BacktrackError ${code}, got ${seen}`)
}

/**
 * The behaviour every `BacktrackEngine` must show, run once per engine (kysely's loop: one suite, every dialect).
 * Behaviour that only one engine has is a bug. `makeContext` is called once; the tests share the cluster and run
 * in order, and the last one rewinds the cluster to the start of its backtrack window.
 *
 * @example
 * runEngineConformance('simulator', async () => ({ engine, sql, cleanup: () => engine.close() }))
 */
export function runEngineConformance(
  name: string,
  makeContext: () => Promise<ConformanceContext>,
  options: ConformanceOptions = {},
): void {
  const database = options.database ?? 'backtrack_conformance'
  if (!/^\w+$/.test(database)) throw new Error(`conformance database name must be a plain word: ${database}`)
  const db = `\`${database}\``
  const pollMs = options.pollMs ?? 50
  const timeout = options.testTimeoutMs ?? 60_000
  const eventuallyMs = options.eventuallyMs ?? 10_000
  const spacing = options.markSpacingMs ?? 0
  const oracleSize = options.oracleTransactions ?? 20
  const oracleRewinds = options.oracleRewinds ?? 5
  const seed = options.seed ?? Math.floor(Math.random() * 1e9)

  let context: ConformanceContext | undefined
  const ctx = (): ConformanceContext => {
    if (context === undefined) throw new Error('the conformance context did not start (see beforeAll)')
    return context
  }
  const engine = () => ctx().engine
  const sql = (statement: string) => {
    const run = ctx().sql
    if (run === undefined) throw undeclared('sql', 'sql')
    return run(statement)
  }
  const lacks = options.lacks ?? {}
  const hasSql = () => ctx().sql !== undefined
  /** A test that needs `what`: skipped with the declared reason in its name, or run (and failing if it is missing). */
  const needing = (what: keyof ConformanceLacks, title: string) => {
    const reason = lacks[what]
    return reason === undefined ? { test: it, title } : { test: it.skip, title: `${title} (skipped: ${reason})` }
  }
  const undeclared = (what: string, option: keyof ConformanceLacks) =>
    new Error(`the conformance context has no ${what}: say why in the options' lacks.${option}, or provide it`)
  const scalar = async (statement: string): Promise<unknown> => Object.values((await sql(statement))[0] ?? {})[0]
  const checksum = async (table: string) => String((await sql(`CHECKSUM TABLE ${db}.${table}`))[0]?.['Checksum'])
  const tableExists = async (table: string) =>
    Number(
      await scalar(
        `SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = '${database}' AND TABLE_NAME = '${table}'`,
      ),
    ) > 0

  async function mark(): Promise<Date> {
    if (spacing > 0) await sleep(spacing)
    const at = await (ctx().mark ?? (() => engine().mark()))()
    if (spacing > 0) await sleep(spacing)
    return at
  }

  async function rewind(to: Date, onProgress?: (backtrack: DBClusterBacktrack) => void): Promise<DBClusterBacktrack> {
    const started = await engine().backtrack({ backtrackTo: to })
    expect(started.Status).toBe('pending')
    const done = await engine().waitForBacktrack(started.BacktrackIdentifier, {
      pollMs,
      timeoutMs: timeout,
      ...(onProgress === undefined ? {} : { onProgress }),
    })
    expect(done.Status).toBe('completed')
    return done
  }

  async function rewindWith(to: Date, extra: Omit<BacktrackInput, 'backtrackTo'>): Promise<DBClusterBacktrack> {
    const started = await engine().backtrack({ backtrackTo: to, ...extra })
    return engine().waitForBacktrack(started.BacktrackIdentifier, { pollMs, timeoutMs: timeout })
  }

  async function allBacktracks(): Promise<DBClusterBacktrack[]> {
    const all: DBClusterBacktrack[] = []
    let marker: string | undefined
    do {
      const page = await engine().describeBacktracks({ maxRecords: 100, ...(marker === undefined ? {} : { marker }) })
      all.push(...page.backtracks)
      marker = page.marker
    } while (marker !== undefined)
    return all
  }

  async function eventually<T>(read: () => Promise<T>, done: (value: T) => boolean, what: string): Promise<T> {
    const deadline = Date.now() + eventuallyMs
    for (;;) {
      const value = await read()
      if (done(value)) return value
      if (Date.now() > deadline) throw new Error(`${what}: still ${JSON.stringify(value)} after ${eventuallyMs} ms`)
      await sleep(Math.max(pollMs, 20))
    }
  }

  const suite = options.skipReason === undefined ? describe : describe.skip
  suite(`engine conformance: ${name}${options.skipReason ? ` (skipped: ${options.skipReason})` : ''}`, () => {
    beforeAll(async () => {
      context = await makeContext()
      if (hasSql()) await sql(`CREATE DATABASE IF NOT EXISTS ${db}`)
    }, timeout)

    afterAll(async () => {
      await context?.cleanup?.()
    }, timeout)

    it(
      'describes an available cluster: its id, a backtrack window, EarliestBacktrackTime not after now',
      async () => {
        const cluster = await engine().describeCluster()
        const now = await engine().now()
        expect(cluster.DBClusterIdentifier).toBe(engine().clusterIdentifier)
        expect(cluster.Status).toBe('available')
        expect(cluster.BacktrackWindow).toBeGreaterThan(0)
        expect(cluster.BacktrackWindow).toBeLessThanOrEqual(259_200)
        expect(cluster.EarliestBacktrackTime).toBeInstanceOf(Date)
        // One second for the distance between the API's clock and the database's.
        expect(cluster.EarliestBacktrackTime!.getTime()).toBeLessThanOrEqual(now.getTime() + 1_000)
        expect(cluster.BacktrackConsumedChangeRecords).toBeGreaterThanOrEqual(0)
      },
      timeout,
    )

    const counted = needing('sql', 'counts change records: BacktrackConsumedChangeRecords grows after writes')
    counted.test(
      counted.title,
      async () => {
        const before = (await engine().describeCluster()).BacktrackConsumedChangeRecords
        await sql(`CREATE TABLE IF NOT EXISTS ${db}.counted (id INT PRIMARY KEY AUTO_INCREMENT, v INT)`)
        for (let i = 0; i < 5; i++) await sql(`INSERT INTO ${db}.counted (v) VALUES (${i}), (${i + 1}), (${i + 2})`)
        await eventually(
          async () => (await engine().describeCluster()).BacktrackConsumedChangeRecords,
          (count) => count > before,
          `BacktrackConsumedChangeRecords (${before} before the writes)`,
        )
      },
      timeout,
    )

    const lab = needing(
      'sql',
      'runs the lab: drop, re-create, rewind to after the drop (table missing), then before it (CHECKSUM equal)',
    )
    lab.test(
      lab.title,
      async () => {
        await sql(`DROP TABLE IF EXISTS ${db}.sbtest1`)
        await sql(
          `CREATE TABLE ${db}.sbtest1 (id INT NOT NULL AUTO_INCREMENT, k INT NOT NULL DEFAULT 0, ` +
            `c CHAR(120) NOT NULL DEFAULT '', pad CHAR(60) NOT NULL DEFAULT '', PRIMARY KEY (id), KEY k_1 (k))`,
        )
        for (let chunk = 0; chunk < 3; chunk++) {
          const values = Array.from({ length: 1000 }, (_, i) => {
            const id = chunk * 1000 + i + 1
            return `(${id}, ${(id * 7919) % 5000}, '${String(id * 104_729).padStart(11, '0')}-c', 'pad-${id}')`
          })
          await sql(`INSERT INTO ${db}.sbtest1 VALUES ${values.join(', ')}`)
        }
        const original = await checksum('sbtest1')
        const beforeDrop = await mark()
        await sql(`DROP TABLE ${db}.sbtest1`)
        const afterDrop = await mark()
        await sql(`CREATE TABLE ${db}.sbtest1 (id INT PRIMARY KEY AUTO_INCREMENT, k INT, c CHAR(120), pad CHAR(60))`)
        await sql(`INSERT INTO ${db}.sbtest1 (k, c, pad) VALUES (1, 'other', 'rows'), (2, 'than', 'before')`)
        expect(await checksum('sbtest1')).not.toBe(original)

        await rewind(afterDrop)
        expect(await tableExists('sbtest1')).toBe(false)

        await rewind(beforeDrop)
        expect(await tableExists('sbtest1')).toBe(true)
        expect(Number(await scalar(`SELECT COUNT(*) FROM ${db}.sbtest1`))).toBe(3000)
        expect(await checksum('sbtest1')).toBe(original)
        expect((await engine().describeCluster()).Status).toBe('available')
      },
      timeout,
    )

    const oracle = needing(
      'sql',
      `goes back and forth: after a rewind to t_i, max(id) == i (Neon oracle, seed ${seed})`,
    )
    oracle.test(
      oracle.title,
      async () => {
        await sql(`DROP TABLE IF EXISTS ${db}.oracle`)
        await sql(`CREATE TABLE ${db}.oracle (id INT PRIMARY KEY)`)
        const marks: Date[] = []
        for (let i = 1; i <= oracleSize; i++) {
          await sql(`INSERT INTO ${db}.oracle VALUES (${i})`)
          marks.push(await mark())
        }
        const next = random(seed)
        const picks = Array.from({ length: oracleRewinds }, () => 1 + Math.floor(next() * oracleSize))
        // Back, forth, back again, and finally forward to the last transaction: nothing undone is lost.
        for (const i of [...picks, 1, oracleSize, Math.ceil(oracleSize / 2), oracleSize]) {
          await rewind(marks[i - 1]!)
          expect(Number(await scalar(`SELECT MAX(id) FROM ${db}.oracle`)), `max(id) after a rewind to t_${i}`).toBe(i)
          expect(Number(await scalar(`SELECT COUNT(*) FROM ${db}.oracle`)), `rows after a rewind to t_${i}`).toBe(i)
        }
      },
      timeout,
    )

    it(
      'goes pending → applying → completed, the cluster backtracking meanwhile and available after',
      async () => {
        if (hasSql()) await sql(`DROP TABLE IF EXISTS ${db}.progress`)
        if (hasSql()) await sql(`CREATE TABLE ${db}.progress (id INT PRIMARY KEY, v INT)`)
        const to = await mark()
        const values = Array.from({ length: 2000 }, (_, i) => `(${i}, ${i})`)
        if (hasSql()) await sql(`INSERT INTO ${db}.progress VALUES ${values.join(', ')}`)
        const started = await engine().backtrack({ backtrackTo: to })
        const clusterStates: ClusterStatus[] = []
        const progress: BacktrackStatus[] = []
        let finished = false
        const watching = (async () => {
          while (!finished) {
            clusterStates.push((await engine().describeCluster()).Status)
            await sleep(pollMs)
          }
        })()
        try {
          await engine().waitForBacktrack(started.BacktrackIdentifier, {
            pollMs,
            timeoutMs: timeout,
            onProgress: (backtrack) => progress.push(backtrack.Status),
          })
        } finally {
          finished = true
          await watching
        }
        expect(started.Status).toBe('pending')
        expect(progress.at(-1)).toBe('completed')
        const order = progress.map((status) => BACKTRACK_ORDER.indexOf(status))
        expect(order, `statuses seen: ${progress.join(' → ')}`).toEqual([...new Set(order)].sort())
        expect(clusterStates.filter((state) => !CLUSTER_STATES_DURING_BACKTRACK.includes(state))).toEqual([])
        expect(clusterStates, 'DescribeDBClusters while the backtrack ran').toContain('backtracking')
        await eventually(
          async () => (await engine().describeCluster()).Status,
          (status) => status === 'available',
          'cluster status after the backtrack',
        )
        if (hasSql()) expect(Number(await scalar(`SELECT COUNT(*) FROM ${db}.progress`))).toBe(0)
      },
      timeout,
    )

    it(
      'describes backtracks newest first, by id, and filtered by status in either case',
      async () => {
        const first = await rewind(await mark())
        const second = await rewind(await mark())
        const { backtracks } = await engine().describeBacktracks()
        expect(backtracks.slice(0, 2).map((b) => b.BacktrackIdentifier)).toEqual([
          second.BacktrackIdentifier,
          first.BacktrackIdentifier,
        ])
        const created = backtracks.map((b) => b.BacktrackRequestCreationTime.getTime())
        expect(created).toEqual([...created].sort((a, b) => b - a))
        for (const record of backtracks) expect(record.DBClusterIdentifier).toBe(engine().clusterIdentifier)

        const byId = await engine().describeBacktracks({ backtrackIdentifier: first.BacktrackIdentifier })
        expect(byId.backtracks).toEqual([first])
        const byFilter = await engine().describeBacktracks({
          filters: [{ name: 'db-cluster-backtrack-id', values: [first.BacktrackIdentifier] }],
        })
        expect(byFilter.backtracks.map((b) => b.BacktrackIdentifier)).toEqual([first.BacktrackIdentifier])

        const lower = await engine().describeBacktracks({
          filters: [{ name: 'db-cluster-backtrack-status', values: ['completed'] }],
        })
        const upper = await engine().describeBacktracks({
          filters: [{ name: 'db-cluster-backtrack-status', values: ['COMPLETED'] }],
        })
        expect(lower.backtracks.map((b) => b.Status).every((status) => status === 'completed')).toBe(true)
        expect(lower.backtracks.map((b) => b.BacktrackIdentifier)).toContain(second.BacktrackIdentifier)
        expect(upper.backtracks.map((b) => b.BacktrackIdentifier)).toEqual(
          lower.backtracks.map((b) => b.BacktrackIdentifier),
        )
        const pending = await engine().describeBacktracks({
          filters: [{ name: 'db-cluster-backtrack-status', values: ['pending', 'applying'] }],
        })
        expect(pending.backtracks).toEqual([])
      },
      timeout,
    )

    it(
      'pages with MaxRecords 20 and Marker across more than 20 backtracks',
      async () => {
        const target = await mark()
        // Cheap records: rewinding again and again to one mark with nothing written in between.
        for (let have = (await allBacktracks()).length; have <= 20; have++) await rewind(target)
        const all = await allBacktracks()
        expect(all.length).toBeGreaterThan(20)
        const paged: string[] = []
        let marker: string | undefined
        let pages = 0
        do {
          const page = await engine().describeBacktracks({
            maxRecords: 20,
            ...(marker === undefined ? {} : { marker }),
          })
          expect(page.backtracks.length).toBeLessThanOrEqual(20)
          if (page.marker !== undefined) expect(page.backtracks).toHaveLength(20)
          paged.push(...page.backtracks.map((b) => b.BacktrackIdentifier))
          marker = page.marker
          pages++
        } while (marker !== undefined && pages < 100)
        expect(pages).toBe(Math.ceil(all.length / 20))
        expect(paged).toEqual(all.map((b) => b.BacktrackIdentifier))
        await expectFault(engine().describeBacktracks({ maxRecords: 19 }), 'InvalidParameterValue')
        await expectFault(engine().describeBacktracks({ maxRecords: 101 }), 'InvalidParameterValue')
      },
      timeout,
    )

    it(
      'says DBClusterBacktrackNotFoundFault for an unknown id and InvalidParameterValue for a malformed one',
      async () => {
        const unknown = randomUUID()
        await expectFault(
          engine().describeBacktracks({ backtrackIdentifier: unknown }),
          'DBClusterBacktrackNotFoundFault',
        )
        await expectFault(
          engine().waitForBacktrack(unknown, { pollMs, timeoutMs: 5_000 }),
          'DBClusterBacktrackNotFoundFault',
        )
        await expectFault(engine().describeBacktracks({ backtrackIdentifier: 'not-a-uuid' }), 'InvalidParameterValue')
        await expectFault(
          engine().waitForBacktrack('not-a-uuid', { pollMs, timeoutMs: 5_000 }),
          'InvalidParameterValue',
        )
      },
      timeout,
    )

    it(
      'refuses a backtrack into the future with InvalidParameterValue',
      async () => {
        const future = new Date((await engine().now()).getTime() + 3_600_000)
        await expectFault(engine().backtrack({ backtrackTo: future }), 'InvalidParameterValue')
        expect((await engine().describeCluster()).Status).toBe('available')
      },
      timeout,
    )

    it(
      'refuses a second backtrack and a window change while one runs with InvalidDBClusterStateFault',
      async () => {
        if (hasSql()) await sql(`DROP TABLE IF EXISTS ${db}.busy`)
        if (hasSql()) await sql(`CREATE TABLE ${db}.busy (id INT PRIMARY KEY)`)
        const to = await mark()
        const rows = Array.from({ length: 2000 }, (_, i) => `(${i})`)
        if (hasSql()) await sql(`INSERT INTO ${db}.busy VALUES ${rows.join(', ')}`)
        const window = (await engine().describeCluster()).BacktrackWindow
        const running = await engine().backtrack({ backtrackTo: to })
        try {
          await expectFault(engine().backtrack({ backtrackTo: to }), 'InvalidDBClusterStateFault')
          // AWS: ModifyDBCluster while the cluster is backtracking is refused, whatever the value.
          await expectFault(engine().modifyBacktrackWindow(window), 'InvalidDBClusterStateFault')
        } finally {
          await engine().waitForBacktrack(running.BacktrackIdentifier, { pollMs, timeoutMs: timeout })
        }
        expect((await engine().describeCluster()).BacktrackWindow).toBe(window)
        if (hasSql()) expect(Number(await scalar(`SELECT COUNT(*) FROM ${db}.busy`))).toBe(0)
      },
      timeout,
    )

    it(
      'ends a wait with ServiceUnavailable at its timeout and with the signal reason when aborted',
      async () => {
        if (hasSql()) await sql(`DROP TABLE IF EXISTS ${db}.waited`)
        if (hasSql()) await sql(`CREATE TABLE ${db}.waited (id INT PRIMARY KEY)`)
        const to = await mark()
        const rows = Array.from({ length: 2000 }, (_, i) => `(${i})`)
        if (hasSql()) await sql(`INSERT INTO ${db}.waited VALUES ${rows.join(', ')}`)
        const running = await engine().backtrack({ backtrackTo: to })
        const id = running.BacktrackIdentifier
        try {
          // Asked right after the request, which takes longer than no time at all on every engine.
          const timedOut = await expectFault(
            engine().waitForBacktrack(id, { pollMs, timeoutMs: 0 }),
            'ServiceUnavailable',
          )
          expect(timedOut.message).toContain(id)
          const aborted = new AbortController()
          const reason = new Error('the user gave up')
          aborted.abort(reason)
          await expect(engine().waitForBacktrack(id, { pollMs, signal: aborted.signal })).rejects.toBe(reason)
          const midway = new AbortController()
          const seen: BacktrackStatus[] = []
          const stopped = engine().waitForBacktrack(id, {
            pollMs,
            timeoutMs: timeout,
            signal: midway.signal,
            onProgress: (backtrack) => {
              seen.push(backtrack.Status)
              midway.abort(reason)
            },
          })
          await expect(stopped).rejects.toBe(reason)
          expect(seen).toHaveLength(1)
        } finally {
          await engine().waitForBacktrack(id, { pollMs, timeoutMs: timeout })
        }
        if (hasSql()) expect(Number(await scalar(`SELECT COUNT(*) FROM ${db}.waited`))).toBe(0)
      },
      timeout,
    )

    it(
      'accepts Force: with binary logging off (these clusters) it changes nothing about the backtrack',
      async () => {
        const forced = await rewindWith(await mark(), { force: true })
        expect(forced.Status).toBe('completed')
        const unforced = await rewindWith(await mark(), { force: false })
        expect(unforced.Status).toBe('completed')
      },
      timeout,
    )

    it(
      'refuses a bad backtrack window (-1, 259201) with InvalidParameterValue and keeps the old one',
      async () => {
        const before = (await engine().describeCluster()).BacktrackWindow
        await expectFault(engine().modifyBacktrackWindow(-1), 'InvalidParameterValue')
        await expectFault(engine().modifyBacktrackWindow(259_201), 'InvalidParameterValue')
        await expectFault(engine().modifyBacktrackWindow(1.5), 'InvalidParameterValue')
        expect((await engine().describeCluster()).BacktrackWindow).toBe(before)
      },
      timeout,
    )

    const notFound = needing('otherCluster', 'says DBClusterNotFoundFault for a cluster that does not exist')
    notFound.test(
      notFound.title,
      async () => {
        const make = ctx().makeMissingCluster
        if (make === undefined) throw undeclared('makeMissingCluster', 'otherCluster')
        const missing = await make(MISSING_CLUSTER)
        try {
          expect(missing.clusterIdentifier).toBe(MISSING_CLUSTER)
          await expectFault(missing.describeCluster(), 'DBClusterNotFoundFault')
          await expectFault(missing.describeBacktracks(), 'DBClusterNotFoundFault')
          await expectFault(missing.backtrack({ backtrackTo: await engine().now() }), 'DBClusterNotFoundFault')
        } finally {
          await missing.close()
        }
      },
      timeout,
    )

    // Last: the rewind to the earliest time undoes everything the suite made (and on a real cluster, everything in
    // its window).
    it(
      'refuses a time before the window with InvalidParameterValue, and rewinds to the earliest time when asked',
      async () => {
        const { EarliestBacktrackTime: earliest } = await engine().describeCluster()
        const tooEarly = new Date(earliest!.getTime() - 3_600_000)
        await expectFault(engine().backtrack({ backtrackTo: tooEarly }), 'InvalidParameterValue')
        const started = await engine().backtrack({
          backtrackTo: tooEarly,
          useEarliestTimeOnPointInTimeUnavailable: true,
        })
        expect(started.Status).toBe('pending')
        const done = await engine().waitForBacktrack(started.BacktrackIdentifier, { pollMs, timeoutMs: timeout })
        expect(done.Status).toBe('completed')
        expect(done.BacktrackTo.getTime()).toBeGreaterThan(tooEarly.getTime())
        expect(done.BacktrackTo.getTime()).toBeGreaterThanOrEqual(earliest!.getTime() - 1_000)
        expect(done.BacktrackTo.getTime()).toBeLessThanOrEqual((await engine().now()).getTime())
      },
      timeout,
    )

    // After everything else: a window of 0 disables backtracking for good, so only on a throw-away cluster.
    const disable = 'disables backtracking with a window of 0 and refuses to re-enable it (InvalidDBClusterStateFault)'
    const disposable = options.disposable === true
    const disableTest = disposable ? it : it.skip
    disableTest(
      disposable ? disable : `${disable} (skipped: the cluster is kept, and a window of 0 cannot be undone)`,
      async () => {
        const disabled = await engine().modifyBacktrackWindow(0)
        expect(disabled.BacktrackWindow).toBe(0)
        expect(disabled.EarliestBacktrackTime).toBeUndefined()
        await expectFault(engine().backtrack({ backtrackTo: await engine().now() }), 'InvalidDBClusterStateFault')
        await expectFault(engine().modifyBacktrackWindow(3600), 'InvalidDBClusterStateFault')
        expect((await engine().describeCluster()).BacktrackWindow).toBe(0)
      },
      timeout,
    )
  })
}
