// The one sysbench runner: the lab's loader (`backtrack lab`/`run` with sysbench installed) and the benchmark both
// run the real tool through it. The built-in loader (sysbench-table.ts) makes the same table without it.
import { execFile, spawnSync } from 'node:child_process'
import type { SqlEndpoint } from '../types.js'

/** True when a `sysbench` binary is on the PATH. */
export function sysbenchInstalled(binary = 'sysbench'): boolean {
  return spawnSync(binary, ['--version'], { stdio: 'ignore' }).status === 0
}

export interface SysbenchOptions {
  connection: Pick<SqlEndpoint, 'host' | 'port' | 'user' | 'password'>
  database: string
  tables: number
  tableSize: number
  threads: number
  /** Seconds, for `run`. */
  time?: number
}

/** The argument list of `sysbench oltp_write_only ... <command>`. */
export function sysbenchArgs(options: SysbenchOptions, command: 'prepare' | 'run' | 'cleanup'): string[] {
  const { connection } = options
  const args = [
    'oltp_write_only',
    '--db-driver=mysql',
    `--mysql-host=${connection.host}`,
    `--mysql-port=${connection.port}`,
    `--mysql-user=${connection.user}`,
    `--mysql-password=${connection.password}`,
    `--mysql-db=${options.database}`,
    `--tables=${options.tables}`,
    `--table-size=${options.tableSize}`,
    `--threads=${options.threads}`,
  ]
  if (command === 'run' && options.time !== undefined) args.push(`--time=${options.time}`, '--events=0')
  args.push(command)
  return args
}

export interface SysbenchRunResult {
  transactions: number
  tps: number
  p95Millis: number | undefined
  errors: number
}

/** Reads TPS and friends from `sysbench ... run` output. */
export function parseSysbenchRun(output: string): SysbenchRunResult {
  const tx = /transactions:\s+(\d+)\s+\(([\d.]+) per sec\.\)/.exec(output)
  if (tx === null) throw new Error(`no "transactions:" line in the sysbench output:\n${output.slice(-2000)}`)
  const p95 = /95th percentile:\s+([\d.]+)/.exec(output)
  const errors = /ignored errors:\s+(\d+)/.exec(output)
  return {
    transactions: Number(tx[1]),
    tps: Number(tx[2]),
    p95Millis: p95 === null ? undefined : Number(p95[1]),
    errors: errors === null ? 0 : Number(errors[1]),
  }
}

/** Runs sysbench and resolves with its stdout; rejects with its output (password masked) when it fails. */
export function runSysbench(args: string[], binary = 'sysbench'): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(binary, args, { maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) => {
      if (error) {
        const shown = args.map((arg) => (arg.startsWith('--mysql-password=') ? '--mysql-password=***' : arg))
        // error.message repeats the command line, password included: say how it ended instead.
        const how = error.signal ? `killed by ${error.signal}` : `exit code ${String(error.code)}`
        reject(new Error(`sysbench ${shown.join(' ')} failed (${how})\n${stdout}\n${stderr}`.trim()))
      } else resolve(stdout)
    })
  })
}
