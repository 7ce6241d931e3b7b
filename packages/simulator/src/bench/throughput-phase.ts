import mysql from 'mysql2/promise'
import type { ServerConnectionOptions } from '@backtrack/mysql-server'
import { DATABASE, type BenchPhase } from './bench-context.js'
import { logBytesFigure, throughputFigures, type ThroughputRuns } from './figures.js'
import { growth, logState } from './log-growth.js'
import { since } from './measure.js'
import { parseSysbenchRun, runSysbench, sysbenchArgs } from '@backtrack/core'

type Variant = 'endpoint' | 'plain'

/**
 * Figure 2 (and 5b): what an application pays. `sysbench oltp_write_only` through the cluster's SQL endpoint (the
 * writer's endpoint is the private server's own port, capture running: DECISIONS §1) against a plain server of the
 * same build with the same binlog settings and an equal table. Each round runs both, in a rotating order, so a
 * machine that warms up or slows down favours neither.
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
      plain: plain.connectionOptions('app'),
    }
    const variants: Variant[] = ['endpoint', 'plain']
    context.log(
      `2. sysbench oltp_write_only --threads=${sizes.threads}: ${sizes.warmupSeconds} s warm-up on each server, then ` +
        `${sizes.tpsRounds} rounds of ${sizes.runSeconds} s runs (${variants.join(', ')}, rotating)`,
    )
    const measure = async (variant: Variant, seconds: number) =>
      parseSysbenchRun(await runSysbench(sysbenchArgs({ ...bench(targets[variant]), time: seconds }, 'run')))
    await measure('endpoint', sizes.warmupSeconds)
    await measure('plain', sizes.warmupSeconds)
    await context.catchUp()
    const admin = await context.admin()
    const before = await logState(context.engine, admin)
    const tps: Record<Variant, number[]> = { endpoint: [], plain: [] }
    for (let round = 0; round < sizes.tpsRounds; round++) {
      const order = variants.map((_, i) => variants[(i + round) % variants.length]!)
      for (const variant of order) tps[variant].push((await measure(variant, sizes.runSeconds)).tps)
      context.log(`   round ${round + 1}: ${variants.map((v) => `${v} ${tps[v].at(-1)}`).join(', ')} tps`)
    }
    const ended = performance.now()
    await context.catchUp()
    const lagMillis = since(ended)
    const after = await logState(context.engine, admin)
    const runs: ThroughputRuns = { endpoint: tps.endpoint, plain: tps.plain }
    context.figures.push(
      throughputFigures(
        runs,
        sizes.threads,
        `capture lag after the last run ${(lagMillis / 1000).toFixed(2)} s; the SQL endpoint is the server's own port`,
      ),
      logBytesFigure('5.oltp', growth(`oltp_write_only, ${sizes.tpsRounds} rounds`, before, after)),
    )
  },
}
