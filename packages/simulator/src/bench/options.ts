import { parseArgs } from 'node:util'

export interface BenchSizes {
  /** Rows in sbtest1 (sysbench --table-size). */
  tableSize: number
  /** Rows in the small table of figure 4. */
  smallTableSize: number
  /** Rows changed before each rewind of figure 4. */
  changedRows: number
  /** Seconds of each measured `sysbench run` (figure 2). */
  runSeconds: number
  /** Seconds of the unmeasured warm-up run before them. */
  warmupSeconds: number
  /** sysbench --threads of the runs. */
  threads: number
  /** Rewinds per table in figure 4 (the median is reported). */
  rewindRepeats: number
}

export const FULL_SIZES: BenchSizes = {
  tableSize: 1_000_000,
  smallTableSize: 10_000,
  changedRows: 1_000,
  runSeconds: 20,
  warmupSeconds: 5,
  threads: 4,
  rewindRepeats: 3,
}

export const QUICK_SIZES: BenchSizes = {
  tableSize: 100_000,
  smallTableSize: 10_000,
  changedRows: 1_000,
  runSeconds: 5,
  warmupSeconds: 2,
  threads: 4,
  rewindRepeats: 2,
}

export interface CliOptions {
  quick: boolean
  json: boolean
  help: boolean
  /** Parent folder of the run's temporary data directory. */
  workDir: string | undefined
  sizes: BenchSizes
}

export const USAGE = `usage: pnpm bench [--quick] [--json] [--table-size N] [--time S] [--work-dir DIR]

Starts a private MariaDB/MySQL server in a temporary data directory and measures the simulator against
baselines taken in the same run (capture vs sysbench prepare, TPS with vs without capture, rewind vs LOAD DATA,
page log vs binlog bytes, peak RSS, a test reset vs reloading a mariadb-dump). Prints a table, or one JSON object with --json.

  --quick          small sizes for smoke runs and CI (${QUICK_SIZES.tableSize.toLocaleString('en-US')} rows, ${QUICK_SIZES.runSeconds} s runs)
  --json           print exactly one JSON object on stdout (progress goes to stderr)
  --table-size N   rows in sbtest1 (default ${FULL_SIZES.tableSize.toLocaleString('en-US')})
  --time S         seconds of each measured sysbench run (default ${FULL_SIZES.runSeconds})
  --work-dir DIR   where the temporary data directory goes (default: the OS temp dir)

Exit code 1 only when a correctness check (CHECKSUM TABLE after a rewind) fails; missed targets are reported.`

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
      'table-size': { type: 'string' },
      time: { type: 'string' },
      'work-dir': { type: 'string' },
    },
    strict: true,
    allowPositionals: false,
  })
  const sizes = { ...(values.quick ? QUICK_SIZES : FULL_SIZES) }
  const tableSize = positiveInt('table-size', values['table-size'])
  if (tableSize !== undefined) sizes.tableSize = tableSize
  const time = positiveInt('time', values.time)
  if (time !== undefined) sizes.runSeconds = time
  if (sizes.smallTableSize > sizes.tableSize) sizes.smallTableSize = sizes.tableSize
  if (sizes.changedRows > sizes.smallTableSize) sizes.changedRows = sizes.smallTableSize
  return {
    quick: values.quick === true,
    json: values.json === true,
    help: values.help === true,
    workDir: values['work-dir'],
    sizes,
  }
}
