import { parseArgs } from 'node:util'

export interface BenchSizes {
  /** Rows in sbtest1 (sysbench --table-size): the capture, throughput, dropped-table and rewind figures. */
  tableSize: number
  /** Rows in the small table of figure 4. */
  smallTableSize: number
  /** Rows changed before each rewind of figure 4. */
  changedRows: number
  /** Rows in the table of the DML undo (figure 7); it deletes half of them and updates a third. */
  dmlTableSize: number
  /** Seconds of each measured `sysbench run` (figure 2). */
  runSeconds: number
  /** Seconds of the unmeasured warm-up run on each server before them. */
  warmupSeconds: number
  /** sysbench --threads of the runs. */
  threads: number
  /** Rounds of figure 2 (each round runs every variant once, in a rotating order). */
  tpsRounds: number
  /** Rewinds per table in figure 4 (the median is reported). */
  rewindRepeats: number
  /** Repeats of each undo and its baseline (figures 3 and 7), interleaved; the median ratio is reported. */
  undoRepeats: number
  /** Interval at which the bench polls DescribeDBClusters for `available` (the CLI's local cadence). */
  pollMillis: number
}

export const FULL_SIZES: BenchSizes = {
  tableSize: 1_000_000,
  smallTableSize: 10_000,
  changedRows: 1_000,
  dmlTableSize: 300_000,
  runSeconds: 10,
  warmupSeconds: 5,
  threads: 4,
  tpsRounds: 3,
  rewindRepeats: 9,
  undoRepeats: 3,
  pollMillis: 100,
}

export const QUICK_SIZES: BenchSizes = {
  tableSize: 100_000,
  smallTableSize: 10_000,
  changedRows: 1_000,
  dmlTableSize: 30_000,
  runSeconds: 2,
  warmupSeconds: 1,
  threads: 4,
  tpsRounds: 2,
  rewindRepeats: 2,
  undoRepeats: 2,
  pollMillis: 100,
}

export interface CliOptions {
  quick: boolean
  json: boolean
  help: boolean
  /** Parent folder of the run's temporary data directory. */
  workDir: string | undefined
  /** Only these phases (by name), in the bench's order; undefined: all. */
  only: string[] | undefined
  sizes: BenchSizes
}

/** The bench's phases, in the order they run (`--only` picks some; `capture` always runs first). */
const PHASES = ['capture', 'tps', 'drop', 'rewind', 'reset', 'dml'] as const

export const USAGE = `usage: pnpm bench [--quick] [--json] [--only PHASES] [--table-size N] [--dml-table-size N] [--time S]
                  [--repeats N] [--work-dir DIR]

Starts a local cluster (a private MariaDB/MySQL server, its capture, SQL and RDS endpoints) and a plain server with
the same binlog settings, both in a temporary directory, and measures the simulator against baselines taken in the
same run: capture vs sysbench prepare, TPS through the cluster's SQL endpoint vs the plain server, undo of a
dropped table vs LOAD DATA, rewinds, page log vs binlog bytes, peak RSS, test resets vs reloading a
mariadb-dump, undo of DML vs mariadb-binlog --flashback.
Undos are requested through the RDS endpoint with the AWS SDK and timed until the cluster is \`available\`.
Prints a table, or one JSON object with --json.

  --quick             small sizes for development and CI (${QUICK_SIZES.tableSize.toLocaleString('en-US')} rows, ${QUICK_SIZES.runSeconds} s runs); the full sizes are the reported figures
  --json              print exactly one JSON object on stdout (progress goes to stderr)
  --only PHASES       comma-separated phases to run (${PHASES.join(',')}); capture always runs first
  --table-size N      rows in sbtest1 (default ${FULL_SIZES.tableSize.toLocaleString('en-US')})
  --dml-table-size N  rows in the table of the DML undo (default ${FULL_SIZES.dmlTableSize.toLocaleString('en-US')})
  --time S            seconds of each measured sysbench run (default ${FULL_SIZES.runSeconds})
  --repeats N         repeats of each undo and its baseline (default ${FULL_SIZES.undoRepeats})
  --work-dir DIR      where the temporary data directory goes (default: the OS temp dir)

Exit code 1 only when a correctness check (CHECKSUM TABLE after an undo or rewind) fails; missed targets are reported.`

function positiveInt(name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined
  const n = Number(value)
  if (!Number.isInteger(n) || n <= 0)
    throw new Error(`--${name} must be a positive integer, not ${JSON.stringify(value)}`)
  return n
}

export function parseBenchArgs(argv: readonly string[]): CliOptions {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      quick: { type: 'boolean', default: false },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
      only: { type: 'string' },
      'table-size': { type: 'string' },
      'dml-table-size': { type: 'string' },
      time: { type: 'string' },
      repeats: { type: 'string' },
      'work-dir': { type: 'string' },
    },
    strict: true,
    allowPositionals: false,
  })
  const sizes = { ...(values.quick ? QUICK_SIZES : FULL_SIZES) }
  const tableSize = positiveInt('table-size', values['table-size'])
  if (tableSize !== undefined) sizes.tableSize = tableSize
  const dmlTableSize = positiveInt('dml-table-size', values['dml-table-size'])
  if (dmlTableSize !== undefined) sizes.dmlTableSize = dmlTableSize
  const time = positiveInt('time', values.time)
  if (time !== undefined) sizes.runSeconds = time
  const repeats = positiveInt('repeats', values.repeats)
  if (repeats !== undefined) sizes.undoRepeats = repeats
  if (sizes.smallTableSize > sizes.tableSize) sizes.smallTableSize = sizes.tableSize
  if (sizes.changedRows > sizes.smallTableSize) sizes.changedRows = sizes.smallTableSize
  let only: string[] | undefined
  if (values.only !== undefined) {
    only = values.only
      .split(',')
      .map((name) => name.trim())
      .filter((name) => name !== '')
    const unknown = only.filter((name) => !(PHASES as readonly string[]).includes(name))
    if (unknown.length > 0 || only.length === 0) {
      throw new Error(`--only takes a comma-separated list of ${PHASES.join(', ')}, not ${JSON.stringify(values.only)}`)
    }
  }
  return {
    quick: values.quick === true,
    json: values.json === true,
    help: values.help === true,
    workDir: values['work-dir'],
    only,
    sizes,
  }
}
