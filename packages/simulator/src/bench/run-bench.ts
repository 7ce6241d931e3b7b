import { createReadStream, createWriteStream, mkdtempSync, rmSync } from 'node:fs'
import { cpus, loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import mysql, { type Connection, type ResultSetHeader } from 'mysql2/promise'
import { loadDataColumns, loadDataLines } from '../load-data.js'
import { readTableRows, readTableSchema } from '../capture/schema-reader.js'
import { qualifiedName } from '../ddl/sql-tokens.js'
import { startPrivateServer, type StartedMysqlServer } from '@backtrack/mysql-server'
import { SimulatorEngine } from '../simulator-engine.js'
import { SqlClient } from '../testing/sql-client.js'
import { MiB, RssSampler, binlogBytesWritten, median, randomIds, since, waitUntil } from './measure.js'
import type { BenchSizes } from './options.js'
import type { BenchReport, Check, Figure } from './report.js'
import { RESET_QUICK_SIZES, RESET_SIZES, runTestResetBench } from './test-reset-bench.js'
import { parseSysbenchRun, runSysbench, sysbenchArgs, type SysbenchRunResult } from './sysbench.js'

export const DATABASE = 'mylab'
const BIG = 'sbtest1'
const SMALL = 'bench_small'
const COPY = '__bench_load_copy'
const CATCH_UP_TIMEOUT_MS = 15 * 60_000

export const TARGETS = {
  lagSeconds: 2,
  tpsRatio: 0.9,
  dropUndoRatio: 1.3,
  rewind1kMillis: 300,
  rewindSizeRatio: 1.5,
  peakRssMiB: 300,
} as const

export interface BenchRunOptions {
  sizes: BenchSizes
  mode: 'full' | 'quick'
  workDir?: string
  /** Progress lines (stderr in the CLI). */
  log?: (message: string) => void
  /** Called with a function that tears down what the run started, for signal handlers. */
  onCleanup?: (cleanup: () => Promise<void>) => void
}

/** What figure 1 measures around one `sysbench prepare` with capture running. */
export interface CaptureKeepUp {
  rows: number
  prepareMillis: number
  /** Prepare returning → the log's change-record count covers every inserted row (≥ 0). */
  lastRowLagMillis: number
  /** Prepare returning → `mark()` returns (everything the server committed is in the log, incl. CREATE INDEX). */
  catchUpLagMillis: number
}

export function captureFigures(m: CaptureKeepUp): Figure[] {
  const prepareRate = m.rows / (m.prepareMillis / 1000)
  const captureRate = m.rows / ((m.prepareMillis + m.catchUpLagMillis) / 1000)
  return [
    {
      id: '1.lag',
      label: 'capture lag after sysbench prepare (until mark() returns)',
      value: m.catchUpLagMillis / 1000,
      unit: 's',
      target: { of: 'value', op: '<=', limit: TARGETS.lagSeconds },
      note: `prepare took ${(m.prepareMillis / 1000).toFixed(1)} s; this lag includes processing sysbench's trailing CREATE INDEX`,
    },
    {
      id: '1.lagLastRow',
      label: 'capture lag to the last inserted row',
      value: m.lastRowLagMillis / 1000,
      unit: 's',
      target: { of: 'value', op: '<=', limit: TARGETS.lagSeconds },
    },
    {
      id: '1.rowsPerSec',
      label: 'capture rows/s sustained (rows / (prepare + lag))',
      value: captureRate,
      unit: 'rows/s',
      baseline: { label: 'sysbench prepare', value: prepareRate, unit: 'rows/s' },
      ratio: captureRate / prepareRate,
    },
  ]
}

export function overheadFigure(withCapture: SysbenchRunResult, without: SysbenchRunResult, threads: number): Figure {
  return {
    id: '2.tps',
    label: `oltp_write_only TPS with capture (threads=${threads})`,
    value: withCapture.tps,
    unit: 'tps',
    baseline: { label: 'engine closed', value: without.tps, unit: 'tps' },
    ratio: withCapture.tps / without.tps,
    target: { of: 'ratio', op: '>=', limit: TARGETS.tpsRatio },
  }
}

export interface LogGrowth {
  workload: string
  pageLogBytes: number
  binlogBytes: number
  changeRecords: number
}

export function logBytesFigure(id: string, growth: LogGrowth, note?: string): Figure {
  const perRecord = growth.pageLogBytes / growth.changeRecords
  return {
    id,
    label: `page log bytes per change record (${growth.workload})`,
    value: perRecord,
    unit: 'B',
    baseline: { label: 'binlog bytes per change record', value: growth.binlogBytes / growth.changeRecords, unit: 'B' },
    ratio: growth.pageLogBytes / growth.binlogBytes,
    ...(note === undefined ? {} : { note }),
  }
}

export function dropUndoFigure(applyMillis: number, loadMillis: number, rows: number): Figure {
  return {
    id: '3.dropUndo',
    label: `undo DROP TABLE of ${rows.toLocaleString('en-US')} rows: backtrack applying`,
    value: applyMillis / 1000,
    unit: 's',
    baseline: { label: 'LOAD DATA LOCAL of the same rows', value: loadMillis / 1000, unit: 's' },
    ratio: applyMillis / loadMillis,
    target: { of: 'ratio', op: '<=', limit: TARGETS.dropUndoRatio },
  }
}

export function rewindFigures(
  bigMillis: readonly number[],
  smallMillis: readonly number[],
  sizes: Pick<BenchSizes, 'tableSize' | 'smallTableSize' | 'changedRows'>,
): Figure[] {
  const big = median(bigMillis)
  const small = median(smallMillis)
  const n = (x: number) => x.toLocaleString('en-US')
  return [
    {
      id: '4.rewind',
      label: `rewind ${n(sizes.changedRows)} changed rows in a ${n(sizes.tableSize)}-row table (applying, median)`,
      value: big,
      unit: 'ms',
      target: { of: 'value', op: '<=', limit: TARGETS.rewind1kMillis },
      note: `runs: ${bigMillis.map((x) => x.toFixed(0)).join(', ')} ms`,
    },
    {
      id: '4.sizeRatio',
      label: `same rewind, ${n(sizes.tableSize)} rows vs ${n(sizes.smallTableSize)} rows`,
      value: big,
      unit: 'ms',
      baseline: { label: `${n(sizes.smallTableSize)}-row table`, value: small, unit: 'ms' },
      ratio: big / small,
      target: { of: 'ratio', op: '<=', limit: TARGETS.rewindSizeRatio },
      note: `small-table runs: ${smallMillis.map((x) => x.toFixed(0)).join(', ')} ms`,
    },
  ]
}

export function rssFigure(id: string, phase: string, bytes: number): Figure {
  return {
    id,
    label: `peak RSS of the simulator during ${phase}`,
    value: bytes / MiB,
    unit: 'MiB',
    target: { of: 'value', op: '<=', limit: TARGETS.peakRssMiB },
  }
}

/** Everything the run started, torn down in reverse order by `close()`. */
class Resources {
  server: StartedMysqlServer | undefined
  engine: SimulatorEngine | undefined
  admin: Connection | undefined
  app: SqlClient | undefined
  dir: string | undefined
  #closed = false

  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    await this.app?.end().catch(() => undefined)
    await this.admin?.end().catch(() => this.admin?.destroy())
    await this.engine?.close().catch(() => undefined)
    await this.server?.stop().catch(() => undefined)
    if (this.dir !== undefined) rmSync(this.dir, { recursive: true, force: true })
  }
}

/**
 * Writes `table` as LOAD DATA text (the exact bytes the executor streams) to `file`, then times loading that file
 * into an empty copy of the table with the executor's session settings (`sql_log_bin=0`, no FK/unique checks).
 */
export async function timeLoadData(
  server: StartedMysqlServer,
  admin: Connection,
  database: string,
  table: string,
  file: string,
): Promise<{ millis: number; rows: number }> {
  const schema = await readTableSchema(admin, database, table)
  const dump = await mysql.createConnection(server.connectionOptions('admin'))
  try {
    await dump.query("SET SESSION time_zone = '+00:00'")
    await pipeline(
      Readable.from(loadDataLines(readTableRows(dump, database, table, schema), schema.columns.length)),
      createWriteStream(file),
    )
  } finally {
    await dump.end().catch(() => dump.destroy())
  }
  const copy = qualifiedName(database, COPY)
  await admin.query(
    "SET SESSION sql_log_bin = 0, SESSION foreign_key_checks = 0, SESSION unique_checks = 0, SESSION time_zone = '+00:00', SESSION sql_mode = 'NO_AUTO_VALUE_ON_ZERO'",
  )
  try {
    await admin.query(`DROP TABLE IF EXISTS ${copy}`)
    await admin.query(`CREATE TABLE ${copy} LIKE ${qualifiedName(database, table)}`)
    const { list, set } = loadDataColumns(schema.columns)
    const started = performance.now()
    const [result] = await admin.query<ResultSetHeader>({
      sql:
        `LOAD DATA LOCAL INFILE 'bench-rows' INTO TABLE ${copy} CHARACTER SET binary ` +
        `FIELDS TERMINATED BY '\\t' ENCLOSED BY '' ESCAPED BY '\\\\' LINES TERMINATED BY '\\n' STARTING BY '' ` +
        `(${list})${set}`,
      infileStreamFactory: () => createReadStream(file, { highWaterMark: 64 * 1024 }),
    })
    const millis = since(started)
    return { millis, rows: result.affectedRows }
  } finally {
    await admin.query(`DROP TABLE IF EXISTS ${copy}`)
    await admin.query('SET SESSION sql_log_bin = 1, SESSION foreign_key_checks = 1, SESSION unique_checks = 1')
    rmSync(file, { force: true })
  }
}

async function logState(engine: SimulatorEngine, admin: Connection) {
  return {
    pageLogBytes: engine.pageLog.sizeBytes(),
    changeRecords: engine.pageLog.changeRecords,
    binlogBytes: await binlogBytesWritten(admin),
  }
}

function growth(
  workload: string,
  before: Awaited<ReturnType<typeof logState>>,
  after: Awaited<ReturnType<typeof logState>>,
): LogGrowth {
  return {
    workload,
    pageLogBytes: after.pageLogBytes - before.pageLogBytes,
    binlogBytes: after.binlogBytes - before.binlogBytes,
    changeRecords: after.changeRecords - before.changeRecords,
  }
}

/** Rewinds to `to` and returns the executor's applying time; throws when the backtrack fails. */
async function rewind(engine: SimulatorEngine, to: Date): Promise<{ applyMillis: number; rowsRestored: number }> {
  const record = await engine.backtrack({ backtrackTo: to })
  await engine.waitForBacktrack(record.BacktrackIdentifier, { timeoutMs: CATCH_UP_TIMEOUT_MS, pollMs: 5 })
  const outcome = engine.lastOutcome
  if (outcome?.record.BacktrackIdentifier !== record.BacktrackIdentifier || outcome.applyMillis === undefined) {
    throw new Error(`backtrack ${record.BacktrackIdentifier} finished without an applying time`)
  }
  return { applyMillis: outcome.applyMillis, rowsRestored: outcome.stats?.rowsRestored ?? 0 }
}

async function catchUp(engine: SimulatorEngine): Promise<Date> {
  await engine.capture.catchUp(CATCH_UP_TIMEOUT_MS)
  return engine.mark()
}

/** Runs every measurement on a private server of its own and returns the report; always cleans up. */
export async function runBench(options: BenchRunOptions): Promise<BenchReport> {
  const { sizes } = options
  const log = options.log ?? (() => undefined)
  const started = performance.now()
  const loadAtStart = loadavg()[0]!
  const figures: Figure[] = []
  const checks: Check[] = []
  const res = new Resources()
  options.onCleanup?.(() => res.close())
  try {
    res.dir = mkdtempSync(join(options.workDir ?? tmpdir(), 'backtrack-bench-'))
    log(`starting a private server in ${res.dir}`)
    const server = (res.server = await startPrivateServer({ dataDir: join(res.dir, 'mysql') }))
    const admin = (res.admin = await mysql.createConnection(server.connectionOptions('admin')))
    const clusterDir = join(res.dir, 'cluster')
    const logger = { info: () => undefined, warn: (message: string) => log(`warn: ${message}`) }
    const startEngine = () => SimulatorEngine.start({ server, dataDir: clusterDir, database: DATABASE, logger })
    let engine = (res.engine = await startEngine())
    const app = (res.app = new SqlClient(server.connectionOptions('app', DATABASE)))
    const bench = {
      connection: server.connectionOptions('app'),
      database: DATABASE,
      tables: 1,
      tableSize: sizes.tableSize,
    }

    // 1. capture keeps up with sysbench prepare (and 5a, 6a).
    log(`1. sysbench prepare of ${sizes.tableSize} rows with capture running`)
    const rss1 = new RssSampler().start()
    const before1 = await logState(engine, admin)
    let lastRowAt: number | undefined
    const rowsDone = () => engine.pageLog.changeRecords - before1.changeRecords >= sizes.tableSize
    const poll = setInterval(() => {
      if (lastRowAt === undefined && rowsDone()) lastRowAt = performance.now()
    }, 5)
    const prepareStarted = performance.now()
    try {
      await runSysbench(sysbenchArgs({ ...bench, threads: 1 }, 'prepare'))
    } finally {
      clearInterval(poll)
    }
    const prepared = performance.now()
    const lastRowWait = lastRowAt ?? (await waitUntil(rowsDone, { what: 'the last prepared row in the log' }))
    await catchUp(engine)
    const caughtUp = performance.now()
    const peak1 = rss1.stop()
    const after1 = await logState(engine, admin)
    const keepUp: CaptureKeepUp = {
      rows: sizes.tableSize,
      prepareMillis: prepared - prepareStarted,
      lastRowLagMillis: Math.max(0, lastRowWait - prepared),
      catchUpLagMillis: caughtUp - prepared,
    }
    figures.push(...captureFigures(keepUp))
    log(
      `   prepare ${(keepUp.prepareMillis / 1000).toFixed(1)} s, lag ${(keepUp.catchUpLagMillis / 1000).toFixed(2)} s`,
    )
    const prepareGrowth = growth('sysbench prepare', before1, after1)

    // 2. TPS with capture vs without (engine closed), back to back after an unmeasured warm-up (and 5b).
    log(
      `2. sysbench run: ${sizes.warmupSeconds} s warm-up, then ${sizes.runSeconds} s each with and without capture, ` +
        'in the order with, without, without, with (a server that warms up favours neither)',
    )
    const run = { ...bench, threads: sizes.threads }
    const half = Math.max(1, Math.round(sizes.runSeconds / 2))
    const measure = async () => parseSysbenchRun(await runSysbench(sysbenchArgs({ ...run, time: half }, 'run')))
    await runSysbench(sysbenchArgs({ ...run, time: sizes.warmupSeconds }, 'run'))
    await catchUp(engine)
    const before2 = await logState(engine, admin)
    const with1 = await measure()
    const runEnded = performance.now()
    await catchUp(engine)
    const runLagMillis = since(runEnded)
    const after2 = await logState(engine, admin)
    await engine.close()
    res.engine = undefined
    const without1 = await measure()
    const without2 = await measure()
    const resumeStarted = performance.now()
    engine = res.engine = await startEngine()
    await catchUp(engine)
    const resumeMillis = since(resumeStarted)
    const with2 = await measure()
    await catchUp(engine)
    const mean = (a: SysbenchRunResult, b: SysbenchRunResult): SysbenchRunResult => ({
      transactions: a.transactions + b.transactions,
      tps: Math.round(((a.tps + b.tps) / 2) * 100) / 100,
      p95Millis: Math.max(a.p95Millis ?? 0, b.p95Millis ?? 0) || undefined,
      errors: a.errors + b.errors,
    })
    const withCapture = mean(with1, with2)
    const without = mean(without1, without2)
    const tps = overheadFigure(withCapture, without, sizes.threads)
    tps.note =
      `runs with ${with1.tps}, ${with2.tps}, without ${without1.tps}, ${without2.tps} tps; capture lag after the run ${(runLagMillis / 1000).toFixed(2)} s; reopening the engine caught up the ` +
      `uncaptured run in ${(resumeMillis / 1000).toFixed(1)} s; p95 ${withCapture.p95Millis} ms with, ${without.p95Millis} ms without`
    figures.push(tps)
    log(`   ${withCapture.tps} tps with capture, ${without.tps} without`)

    // 3. undo a DROP TABLE of the big table vs LOAD DATA of the same rows (and 6b).
    log(`3. baseline: LOAD DATA LOCAL of ${sizes.tableSize} rows into an empty copy`)
    const original = await app.checksum(BIG)
    const load = await timeLoadData(server, admin, DATABASE, BIG, join(res.dir, 'rows.tsv'))
    log(`   LOAD DATA ${(load.millis / 1000).toFixed(2)} s; DROP TABLE ${BIG} and backtrack`)
    const rss3 = new RssSampler().start()
    const beforeDrop = await catchUp(engine)
    await app.query(`DROP TABLE ${BIG}`)
    await catchUp(engine)
    const undo = await rewind(engine, beforeDrop)
    const peak3 = rss3.stop()
    const restored = await app.checksum(BIG)
    checks.push({
      id: 'checksum.dropUndo',
      label: `CHECKSUM TABLE ${BIG} after undoing the DROP`,
      ok: restored === original && undo.rowsRestored === sizes.tableSize,
      detail: `${restored} (original ${original}); ${undo.rowsRestored} rows restored of ${sizes.tableSize}`,
    })
    figures.push(dropUndoFigure(undo.applyMillis, load.millis, sizes.tableSize))
    log(`   applying ${(undo.applyMillis / 1000).toFixed(2)} s`)

    // 4. rewind changed rows in the big and in a small table, interleaved.
    log(`4. rewinds of ${sizes.changedRows} changed rows (${sizes.rewindRepeats}x per table)`)
    const [created] = await app.query(`SHOW CREATE TABLE ${BIG}`)
    const createSql = String(created!['Create Table']).replace(/^CREATE TABLE `[^`]+`/, `CREATE TABLE \`${SMALL}\``)
    await app.query(createSql)
    await app.query(`INSERT INTO ${SMALL} SELECT * FROM ${BIG} ORDER BY id LIMIT ${sizes.smallTableSize}`)
    const times: Record<string, number[]> = { [BIG]: [], [SMALL]: [] }
    const mismatches: string[] = []
    for (let i = 0; i < sizes.rewindRepeats; i++) {
      for (const [table, size] of [
        [BIG, sizes.tableSize],
        [SMALL, sizes.smallTableSize],
      ] as const) {
        const checksum = await app.checksum(table)
        const at = await catchUp(engine)
        const ids = randomIds(sizes.changedRows, size)
        await app.query(`UPDATE ${table} SET k = k + 1, c = REVERSE(c) WHERE id IN (${ids.join(',')})`)
        await catchUp(engine)
        const result = await rewind(engine, at)
        times[table]!.push(result.applyMillis)
        const after = await app.checksum(table)
        if (after !== checksum) mismatches.push(`${table} run ${i + 1}: ${after} != ${checksum}`)
      }
    }
    checks.push({
      id: 'checksum.rewinds',
      label: `CHECKSUM TABLE after each rewind of ${sizes.changedRows} rows`,
      ok: mismatches.length === 0,
      detail: mismatches.length === 0 ? `${2 * sizes.rewindRepeats} rewinds matched` : mismatches.join('; '),
    })
    figures.push(...rewindFigures(times[BIG]!, times[SMALL]!, sizes))

    // 5. page log vs binlog bytes.
    figures.push(
      logBytesFigure(
        '5.prepare',
        prepareGrowth,
        prepareGrowth.changeRecords > sizes.tableSize
          ? `${prepareGrowth.changeRecords.toLocaleString('en-US')} change records for ${sizes.tableSize.toLocaleString('en-US')} inserted rows: the capture stores a second copy of every row for sysbench's CREATE INDEX (a new table incarnation)`
          : undefined,
      ),
      logBytesFigure('5.oltp', growth(`oltp_write_only ${sizes.runSeconds} s`, before2, after2)),
    )

    // 6. peak RSS.
    figures.push(rssFigure('6.capture', 'figure 1 (capture of prepare)', peak1))
    figures.push(rssFigure('6.dropUndo', 'figure 3 (undo DROP)', peak3))

    // 7. test resets against a dump reload, on a local cluster of its own (test-reset-bench.ts).
    const resets = await runTestResetBench({
      sizes: options.mode === 'quick' ? RESET_QUICK_SIZES : RESET_SIZES,
      workDir: res.dir,
      log,
    })
    figures.push(...resets.figures)
    checks.push(...resets.checks)

    return {
      date: new Date().toISOString(),
      mode: options.mode,
      machine: {
        cpus: cpus().length,
        node: process.version,
        server: `${server.flavor} ${server.version}`,
        loadAverage: { start: loadAtStart, end: loadavg()[0]! },
      },
      sizes: { ...sizes },
      figures,
      checks,
      totalSeconds: since(started) / 1000,
    }
  } finally {
    log('cleaning up')
    await res.close()
  }
}
