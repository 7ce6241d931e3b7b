// Figure 7: a test reset with `cluster.rewind(mark)` against reloading a `mariadb-dump` of the same data, the way a
// team resets a test database without backtrack. Its own section: its own local cluster (the library path a test
// suite uses, end to end), so it can run alone: `node packages/simulator/dist/bench/test-reset-bench.js [--quick]`.
import { execFile, spawn } from 'node:child_process'
import { createReadStream, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { promisify } from 'node:util'
import mysql, { type Pool, type RowDataPacket } from 'mysql2/promise'
import { startLocalCluster } from '../local-cluster/local-cluster.js'
import { median } from './measure.js'
import { formatReport, type Check, type Figure } from './report.js'

const execFileAsync = promisify(execFile)

const RESET_TARGETS = { medianMillis: 50, p95Millis: 150, dumpRatio: 1 / 20 } as const

export interface ResetBenchSizes {
  /** Tables in the database (each `rowsPerTable` rows, sysbench's schema). */
  tables: number
  rowsPerTable: number
  /** Rewinds measured; every third test also creates a table. */
  rewinds: number
  /** Dump reloads measured (the median is the baseline). */
  reloads: number
}

export const RESET_SIZES: ResetBenchSizes = { tables: 10, rowsPerTable: 10_000, rewinds: 40, reloads: 3 }
export const RESET_QUICK_SIZES: ResetBenchSizes = { tables: 10, rowsPerTable: 10_000, rewinds: 12, reloads: 1 }

const CHANGED_TABLES = ['t1', 't2', 't3']

/** The nearest-rank percentile. */
function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!
}

async function findTool(names: string[]): Promise<string | undefined> {
  for (const name of names) {
    try {
      await execFileAsync(name, ['--version'])
      return name
    } catch {
      // try the next name
    }
  }
  return undefined
}

/** One test: about 100 changed rows in three tables; `round % 3 === 0` also creates a table. */
async function typicalTest(pool: Pool, round: number, rowsPerTable: number): Promise<void> {
  const first = 1 + ((round * 37) % (rowsPerTable - 50))
  await pool.query('UPDATE t1 SET k = k + 1, c = REVERSE(c) WHERE id BETWEEN ? AND ?', [first, first + 39])
  await pool.query('DELETE FROM t2 WHERE id BETWEEN ? AND ?', [first, first + 29])
  const rows = Array.from({ length: 30 }, (_, i) => [rowsPerTable + 1 + i, i, `test-${round}`, 'inserted'])
  await pool.query('INSERT INTO t3 (id, k, c, pad) VALUES ?', [rows])
  if (round % 3 === 0) {
    await pool.query('CREATE TABLE test_scratch (id INT PRIMARY KEY, note VARCHAR(40))')
    await pool.query("INSERT INTO test_scratch VALUES (1, 'made by a test')")
  }
}

async function checksums(pool: Pool, tables: string[]): Promise<string> {
  const [rows] = await pool.query<RowDataPacket[]>(`CHECKSUM TABLE ${tables.join(', ')}`)
  // Without the database part of the name, so a copy of the tables in another database compares equal.
  return rows.map((row) => `${String(row.Table).split('.').pop()}=${row.Checksum}`).join(' ')
}

/**
 * Measures figure 7 on a local cluster of its own: a database of `tables` × `rowsPerTable` rows, a mark, then
 * `rewinds` rounds of a typical test followed by `cluster.rewind(mark)`, timed end to end; against the same data
 * dumped with `mariadb-dump` and reloaded with the `mariadb` client (into another database, with the binlog off:
 * the baseline's best case).
 */
export async function runTestResetBench(
  options: { sizes?: ResetBenchSizes; workDir?: string; log?: (message: string) => void } = {},
): Promise<{ figures: Figure[]; checks: Check[] }> {
  const sizes = options.sizes ?? RESET_SIZES
  const log = options.log ?? (() => undefined)
  const dir = mkdtempSync(join(options.workDir ?? tmpdir(), 'backtrack-bench-reset-'))
  const dumpTool = await findTool(['mariadb-dump', 'mysqldump'])
  const clientTool = await findTool(['mariadb', 'mysql'])
  log(`7. test resets: ${sizes.tables} tables x ${sizes.rowsPerTable} rows on a local cluster`)
  const cluster = await startLocalCluster({ dataDir: join(dir, 'cluster') })
  const sql = cluster.info().sql
  const database = sql.database ?? 'mylab'
  const pool = mysql.createPool({ ...sql, connectionLimit: 4 })
  try {
    for (let t = 1; t <= sizes.tables; t++) {
      await pool.query(
        `CREATE TABLE t${t} (id INT NOT NULL AUTO_INCREMENT PRIMARY KEY, k INT NOT NULL DEFAULT 0, ` +
          `c CHAR(120) NOT NULL DEFAULT '', pad CHAR(60) NOT NULL DEFAULT '', KEY k_${t} (k))`,
      )
      for (let from = 1; from <= sizes.rowsPerTable; from += 1000) {
        const rows = []
        for (let id = from; id < Math.min(from + 1000, sizes.rowsPerTable + 1); id++) {
          rows.push([id, (id * 7919) % sizes.rowsPerTable, `${id}-${'c'.repeat(100)}`, `pad-${id}`])
        }
        await pool.query(`INSERT INTO t${t} (id, k, c, pad) VALUES ?`, [rows])
      }
    }
    const seededSums = await checksums(pool, CHANGED_TABLES)
    const seeded = await cluster.mark()

    // The rewinds: what `afterEach(() => cluster.rewind(seeded))` costs.
    const times: number[] = []
    const phases = new Map<string, number[]>()
    let mismatches = 0
    const detail: string[] = []
    for (let round = 0; round < sizes.rewinds; round++) {
      await typicalTest(pool, round, sizes.rowsPerTable)
      const started = performance.now()
      await cluster.rewind(seeded)
      times.push(performance.now() - started)
      for (const [name, ms] of Object.entries(cluster.engine.lastOutcome?.phases ?? {})) {
        phases.set(name, [...(phases.get(name) ?? []), ms])
      }
      const sums = await checksums(pool, CHANGED_TABLES)
      const [scratch] = await pool.query<RowDataPacket[]>("SHOW TABLES LIKE 'test_scratch'")
      if (sums !== seededSums || scratch.length > 0) {
        mismatches++
        if (detail.length < 3) detail.push(`round ${round}: ${sums}${scratch.length > 0 ? ', test_scratch left' : ''}`)
      }
    }
    // Where a reset's time goes (the engine's own phases), for whoever profiles it next.
    const phaseMedians = [...phases].map(([name, values]) => `${name} ${median(values).toFixed(1)}`).join(', ')
    const rewindMedian = median(times)
    const rewindP95 = percentile(times, 95)
    log(`   rewind median ${rewindMedian.toFixed(1)} ms, p95 ${rewindP95.toFixed(1)} ms over ${times.length}`)

    // The baseline: reload a dump of the same database (what a team without backtrack does between tests).
    const reloads: number[] = []
    let reloadOk = false
    if (dumpTool !== undefined && clientTool !== undefined) {
      const client = clientTool
      const admin = cluster.node.server.connectionOptions('admin')
      const connect = [`--host=${admin.host}`, `--port=${admin.port}`, `--user=${admin.user}`]
      const env = { ...process.env, MYSQL_PWD: admin.password }
      const dumpFile = join(dir, 'dump.sql')
      await execFileAsync(
        'sh',
        ['-c', `"$0" "$@" > '${dumpFile}'`, dumpTool, ...connect, '--single-transaction', database],
        { env, maxBuffer: 1024 * 1024 },
      )
      const copy = `${database}_reload`
      await pool.query(`CREATE DATABASE IF NOT EXISTS ${copy}`).catch(() => undefined)
      for (let i = 0; i < sizes.reloads; i++) {
        const started = performance.now()
        await new Promise<void>((resolve, reject) => {
          // Binlog off: the reload is not captured (and does not pay for a binlog, which makes it faster).
          const child = spawn(client, [...connect, '--init-command=SET SESSION sql_log_bin = 0', copy], {
            env,
            stdio: ['pipe', 'ignore', 'pipe'],
          })
          let stderr = ''
          child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
          child.on('error', reject)
          child.on('exit', (code) =>
            code === 0 ? resolve() : reject(new Error(`${client} exited ${code}: ${stderr}`)),
          )
          createReadStream(dumpFile).pipe(child.stdin)
        })
        reloads.push(performance.now() - started)
      }
      reloadOk =
        (await checksums(
          pool,
          CHANGED_TABLES.map((table) => `${copy}.${table}`),
        )) === seededSums
      const session = await pool.getConnection()
      await session.query(`DROP DATABASE ${copy}`).finally(() => session.release())
      log(`   ${dumpTool} reload median ${median(reloads).toFixed(0)} ms over ${reloads.length}`)
    }
    const reloadMedian = reloads.length === 0 ? Number.NaN : median(reloads)
    const figures: Figure[] = [
      {
        id: '7.resetMedian',
        label: `test reset: cluster.rewind(mark) after ~100 changed rows in 3 of ${sizes.tables} tables (median)`,
        value: rewindMedian,
        unit: 'ms',
        target: { of: 'value', op: '<=', limit: RESET_TARGETS.medianMillis },
        note:
          `end to end over ${times.length} rewinds, every third after a CREATE TABLE; min ${Math.min(...times).toFixed(1)} ms, ` +
          `max ${Math.max(...times).toFixed(1)} ms; median phases (ms): ${phaseMedians}`,
      },
      {
        id: '7.resetP95',
        label: 'same test reset (p95)',
        value: rewindP95,
        unit: 'ms',
        target: { of: 'value', op: '<=', limit: RESET_TARGETS.p95Millis },
      },
      {
        id: '7.resetVsDump',
        label: `same test reset vs reloading a ${dumpTool ?? 'mariadb-dump'} of the ${sizes.tables} tables (median; ratio ≤ 0.05 is 20x faster)`,
        value: rewindMedian,
        unit: 'ms',
        baseline: { label: 'dump reload', value: reloadMedian, unit: 'ms' },
        ratio: rewindMedian / reloadMedian,
        target: { of: 'ratio', op: '<=', limit: RESET_TARGETS.dumpRatio },
        note:
          reloads.length === 0
            ? 'no mariadb-dump/mysqldump and mariadb/mysql client on PATH: no baseline'
            : `the reload runs with the binlog off (the baseline's best case): ${(reloadMedian / rewindMedian).toFixed(0)}x slower than the rewind`,
      },
    ]
    const checks: Check[] = [
      {
        id: 'checksum.resets',
        label: `CHECKSUM TABLE of ${CHANGED_TABLES.join(', ')} after each test reset`,
        ok: mismatches === 0,
        detail: mismatches === 0 ? `${times.length} resets matched the seeded data` : detail.join('; '),
      },
    ]
    if (reloads.length > 0) {
      checks.push({
        id: 'checksum.dumpReload',
        label: 'CHECKSUM TABLE of the reloaded dump',
        ok: reloadOk,
        detail: reloadOk ? 'matched the seeded data' : 'differs from the seeded data',
      })
    }
    return { figures, checks }
  } finally {
    await pool.end().catch(() => undefined)
    await cluster.stop().catch(() => undefined)
    rmSync(dir, { recursive: true, force: true })
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const quick = process.argv.includes('--quick')
  const started = performance.now()
  const { figures, checks } = await runTestResetBench({
    sizes: quick ? RESET_QUICK_SIZES : RESET_SIZES,
    log: (message) => process.stderr.write(`[bench] ${message}\n`),
  })
  process.stdout.write(
    formatReport({
      date: new Date().toISOString(),
      mode: quick ? 'quick' : 'full',
      machine: { cpus: 0, node: process.version, server: '', loadAverage: { start: 0, end: 0, median: 0, max: 0 } },
      sizes: {},
      figures,
      checks,
      totalSeconds: (performance.now() - started) / 1000,
    }) + '\n',
  )
  process.exitCode = checks.every((check) => check.ok) ? 0 : 1
}
