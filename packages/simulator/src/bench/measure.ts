import { readFileSync, writeFileSync } from 'node:fs'
import { loadavg } from 'node:os'
import type { Connection, RowDataPacket } from 'mysql2/promise'

/** The median of a non-empty list (mean of the middle two for an even count). */
export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN
  const sorted = [...values].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
}

/** Milliseconds since `start` (a `performance.now()` reading). */
export function since(start: number): number {
  return performance.now() - start
}

/** `VmHWM` (peak resident set) of this process in bytes, from /proc; undefined where there is no /proc. */
function readPeakRss(): number | undefined {
  try {
    const match = /^VmHWM:\s+(\d+)\s+kB/m.exec(readFileSync('/proc/self/status', 'utf8'))
    return match === null ? undefined : Number(match[1]) * 1024
  } catch {
    return undefined
  }
}

/** Resets `VmHWM` to the current RSS (Linux: `echo 5 > /proc/self/clear_refs`); false when not allowed. */
function resetPeakRss(): boolean {
  try {
    writeFileSync('/proc/self/clear_refs', '5')
    return true
  } catch {
    return false
  }
}

/**
 * Peak RSS over a phase: `process.memoryUsage.rss()` sampled every `intervalMs` plus the kernel's `VmHWM` (reset at
 * the start when allowed), so a peak between samples or while the event loop is busy is not missed.
 */
export class RssSampler {
  #peak = 0
  #timer: NodeJS.Timeout | undefined
  #hwmReset = false

  start(intervalMs = 100): this {
    this.#hwmReset = resetPeakRss()
    this.#sample()
    this.#timer = setInterval(() => this.#sample(), intervalMs)
    this.#timer.unref()
    return this
  }

  #sample(): void {
    this.#peak = Math.max(this.#peak, process.memoryUsage.rss())
  }

  /** Stops sampling and returns the peak in bytes. */
  stop(): number {
    if (this.#timer !== undefined) clearInterval(this.#timer)
    this.#timer = undefined
    this.#sample()
    const hwm = this.#hwmReset ? readPeakRss() : undefined
    return Math.max(this.#peak, hwm ?? 0)
  }
}

/**
 * Bytes the server has written to its binlog so far. MariaDB counts them (`Binlog_bytes_written`); elsewhere the sum
 * of `SHOW BINARY LOGS` sizes (correct as long as no file is purged between two readings).
 */
export async function binlogBytesWritten(connection: Pick<Connection, 'query'>): Promise<number> {
  const [status] = await connection.query<RowDataPacket[]>("SHOW GLOBAL STATUS LIKE 'Binlog_bytes_written'")
  if (status[0] !== undefined) return Number(status[0].Value)
  const [logs] = await connection.query<RowDataPacket[]>('SHOW BINARY LOGS')
  return logs.reduce((sum, row) => sum + Number(row.File_size), 0)
}

/** Polls `condition` every `intervalMs` until it holds; resolves with the `performance.now()` it first held. */
export async function waitUntil(
  condition: () => boolean,
  options: { intervalMs?: number; timeoutMs?: number; what?: string } = {},
): Promise<number> {
  const deadline = performance.now() + (options.timeoutMs ?? 600_000)
  for (;;) {
    if (condition()) return performance.now()
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${options.what ?? 'a condition'}`)
    await new Promise((resolve) => setTimeout(resolve, options.intervalMs ?? 10))
  }
}

/** `count` distinct random integers in [1, max]. */
export function randomIds(count: number, max: number, random: () => number = Math.random): number[] {
  if (count > max) throw new RangeError(`cannot pick ${count} distinct ids out of ${max}`)
  const ids = new Set<number>()
  while (ids.size < count) ids.add(1 + Math.floor(random() * max))
  return [...ids]
}

export const MiB = 1024 * 1024

/** The range of a figure's number over the repeats of one run. */
export interface Spread {
  min: number
  max: number
  /** How many measurements. */
  runs: number
}

/** min, max and count of a non-empty list. */
export function spreadOf(values: readonly number[]): Spread {
  return { min: Math.min(...values), max: Math.max(...values), runs: values.length }
}

/** Element-wise a[i] / b[i] (pairs measured back to back). */
export function pairRatios(a: readonly number[], b: readonly number[]): number[] {
  if (a.length !== b.length) throw new RangeError(`pairRatios: ${a.length} values against ${b.length} baselines`)
  return a.map((x, i) => x / b[i]!)
}

/** The 1-minute load average over a run: sampled every `intervalMs`, summarised as start, end, median and max. */
export class LoadSampler {
  readonly #samples: number[] = []
  #timer: NodeJS.Timeout | undefined

  start(intervalMs = 5_000): this {
    this.#sample()
    this.#timer = setInterval(() => this.#sample(), intervalMs)
    this.#timer.unref()
    return this
  }

  #sample(): void {
    this.#samples.push(loadavg()[0]!)
  }

  stop(): { start: number; end: number; median: number; max: number } {
    if (this.#timer !== undefined) clearInterval(this.#timer)
    this.#sample()
    return {
      start: this.#samples[0]!,
      end: this.#samples.at(-1)!,
      median: median(this.#samples),
      max: Math.max(...this.#samples),
    }
  }
}

/** CPU seconds (user + system) a process has used, from /proc (clock ticks of 1/100 s); undefined without /proc. */
function processCpuSeconds(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    // The command name may hold spaces: the fields after it start past its closing parenthesis.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return (Number(fields[11]) + Number(fields[12])) / 100
  } catch {
    return undefined
  }
}

/** CPU seconds used between `start()` and `stop()`: this process (the whole local cluster) and the server. */
export class CpuMeter {
  readonly #serverPid: number | undefined
  #node = process.cpuUsage()
  #server: number | undefined

  constructor(serverPid: number | undefined) {
    this.#serverPid = serverPid
  }

  start(): this {
    this.#node = process.cpuUsage()
    this.#server = this.#serverPid === undefined ? undefined : processCpuSeconds(this.#serverPid)
    return this
  }

  stop(): { node: number; server: number | undefined } {
    const node = process.cpuUsage(this.#node)
    const serverNow = this.#serverPid === undefined ? undefined : processCpuSeconds(this.#serverPid)
    return {
      node: (node.user + node.system) / 1e6,
      server: serverNow === undefined || this.#server === undefined ? undefined : serverNow - this.#server,
    }
  }
}
