import mysql from 'mysql2/promise'
import type { ServerConnectionOptions } from '@backtrack/mysql-server'
import { DATABASE, type BenchPhase } from './bench-context.js'
import {
  clusterCpuFigure,
  logBytesFigure,
  pausedCaptureFigure,
  throughputFigures,
  type ThroughputRuns,
} from './figures.js'
import { growth, logState } from './log-growth.js'
import { since } from './measure.js'
import { parseSysbenchRun, runSysbench, sysbenchArgs } from '@backtrack/core'

type Variant = 'endpoint' | 'paused' | 'plain'

/**
 * Figure 2 (and 5b): what an application pays. `sysbench oltp_write_only` through the cluster's SQL endpoint (the
 * writer's endpoint is the private server's own port, capture running: DECISIONS §1) against a plain server of the
 * same build with the same binlog settings and an equal table, and (figure 2c) through the endpoint with the capture
 * paused: the cluster's server alone. Each round runs the plain server after each run on the cluster (endpoint,
 * plain, paused, plain; the two cluster runs swap places every round), so both tables age alike (a table's TPS moves
 * as its pages split in its first few hundred thousand transactions) and a machine that warms up or slows down
 * favours none. Each cluster run is paired with the plain run after it.
 *
 * The capture appends row versions and merges them into the page log's B-tree when the load stops (PageLog): after
 * each endpoint run the bench waits for that merge, so it does not land in the next run of either server, and
 * reports its CPU next to what the cluster's process spent during the runs (figure 2b).
 */
export const throughputPhase: BenchPhase = {
  name: 'tps',
  async run(context) {
    const { sizes } = context
    const plain = await context.plainServer()
    context.log(`2. plain server: sysbench prepare of ${sizes.tableSize} rows (the baseline's equal table)`)
    const setup = await mysql.createConnection(plain.connectionOptions('admin'))
    await setup.query(`CREATE DATABASE IF NOT EXISTS ${DATABASE}`).finally(() => setup.end())
    const bench = (connection: ServerConnectionOptions) => ({
      connection,
      database: DATABASE,
      tables: 1,
      tableSize: sizes.tableSize,
      threads: sizes.threads,
    })
    await runSysbench(sysbenchArgs({ ...bench(plain.connectionOptions('app')), threads: 1 }, 'prepare'))
    const targets: Record<Variant, ServerConnectionOptions> = {
      endpoint: context.endpointOptions(),
      paused: context.endpointOptions(),
      plain: plain.connectionOptions('app'),
    }
    context.log(
      `2. sysbench oltp_write_only --threads=${sizes.threads}: ${sizes.warmupSeconds} s warm-up on each server, then ` +
        `${sizes.tpsRounds} rounds of ${sizes.runSeconds} s runs (endpoint, plain, paused, plain; cluster runs swapping)`,
    )
    const cpu = { duringMicros: 0, mergeMicros: 0, transactions: 0 }
    const cpuMicros = () => {
      const usage = process.cpuUsage()
      return usage.user + usage.system
    }
    const measure = async (variant: Variant, seconds: number, counted = true) => {
      if (variant === 'paused') context.engine.capture.pause()
      const cpuBefore = cpuMicros()
      const result = parseSysbenchRun(
        await runSysbench(sysbenchArgs({ ...bench(targets[variant]), time: seconds }, 'run')),
      )
      if (variant === 'plain') return result
      const cpuAfter = cpuMicros()
      if (variant === 'paused') context.engine.capture.resume()
      // The capture catches up and merges before the next run, outside every measured one.
      await context.catchUp()
      context.engine.capture.settle()
      if (variant === 'endpoint' && counted) {
        cpu.duringMicros += cpuAfter - cpuBefore
        cpu.mergeMicros += cpuMicros() - cpuAfter
        cpu.transactions += result.transactions
      }
      return result
    }
    await measure('endpoint', sizes.warmupSeconds, false)
    await measure('plain', sizes.warmupSeconds)
    await context.catchUp()
    const admin = await context.admin()
    const before = await logState(context.engine, admin)
    const tps: Record<Variant, number[]> = { endpoint: [], paused: [], plain: [] }
    const plainAfter: Record<'endpoint' | 'paused', number[]> = { endpoint: [], paused: [] }
    for (let round = 0; round < sizes.tpsRounds; round++) {
      const cluster: ('endpoint' | 'paused')[] = round % 2 === 0 ? ['endpoint', 'paused'] : ['paused', 'endpoint']
      for (const variant of cluster) {
        tps[variant].push((await measure(variant, sizes.runSeconds)).tps)
        plainAfter[variant].push((await measure('plain', sizes.runSeconds)).tps)
      }
      context.log(
        `   round ${round + 1}: ${cluster.map((v) => `${v} ${tps[v].at(-1)}, plain ${plainAfter[v].at(-1)}`).join('; ')} tps`,
      )
    }
    const ended = performance.now()
    await context.catchUp()
    const lagMillis = since(ended)
    const after = await logState(context.engine, admin)
    const runs: ThroughputRuns = {
      endpoint: tps.endpoint,
      plain: plainAfter.endpoint,
      paused: { tps: tps.paused, plain: plainAfter.paused },
    }
    context.figures.push(
      throughputFigures(
        runs,
        sizes.threads,
        `capture lag after the last run ${(lagMillis / 1000).toFixed(2)} s; the SQL endpoint is the server's own port`,
      ),
      clusterCpuFigure(cpu),
      ...[pausedCaptureFigure(runs, sizes.threads)].filter((figure) => figure !== undefined),
      logBytesFigure('5.oltp', growth(`oltp_write_only, ${sizes.tpsRounds} rounds`, before, after)),
    )
  },
}
