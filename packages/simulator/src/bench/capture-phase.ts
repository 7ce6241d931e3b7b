import { DATABASE, type BenchPhase } from './bench-context.js'
import { captureFigures, logBytesFigure, rssFigure, type CaptureKeepUp } from './figures.js'
import { growth, logState } from './log-growth.js'
import { RssSampler, waitUntil } from './measure.js'
import { runSysbench, sysbenchArgs } from '@backtrack/core'

/**
 * Figure 1 (and 5a, 6a): `sysbench prepare` of sbtest1 on the cluster's server with capture running, and how long
 * after it returns the log holds every row. Later phases use the table it leaves.
 */
export const capturePhase: BenchPhase = {
  name: 'capture',
  async run(context) {
    const { sizes, engine } = context
    context.log(`1. sysbench prepare of ${sizes.tableSize} rows with capture running`)
    const admin = await context.admin()
    const rss = new RssSampler().start()
    const before = await logState(engine, admin)
    let lastRowAt: number | undefined
    const rowsDone = () => engine.pageLog.changeRecords - before.changeRecords >= sizes.tableSize
    const poll = setInterval(() => {
      if (lastRowAt === undefined && rowsDone()) lastRowAt = performance.now()
    }, 5)
    const started = performance.now()
    try {
      await runSysbench(
        sysbenchArgs(
          {
            connection: context.server.connectionOptions('app'),
            database: DATABASE,
            tables: 1,
            tableSize: sizes.tableSize,
            threads: 1,
          },
          'prepare',
        ),
      )
    } finally {
      clearInterval(poll)
    }
    const prepared = performance.now()
    const lastRowWait = lastRowAt ?? (await waitUntil(rowsDone, { what: 'the last prepared row in the log' }))
    await context.catchUp()
    const caughtUp = performance.now()
    const peak = rss.stop()
    const after = await logState(engine, admin)
    const keepUp: CaptureKeepUp = {
      rows: sizes.tableSize,
      prepareMillis: prepared - started,
      lastRowLagMillis: Math.max(0, lastRowWait - prepared),
      catchUpLagMillis: caughtUp - prepared,
    }
    context.figures.push(...captureFigures(keepUp))
    context.log(
      `   prepare ${(keepUp.prepareMillis / 1000).toFixed(1)} s, lag ${(keepUp.catchUpLagMillis / 1000).toFixed(2)} s`,
    )
    const prepareGrowth = growth('sysbench prepare', before, after)
    context.figures.push(
      logBytesFigure(
        '5.prepare',
        prepareGrowth,
        prepareGrowth.changeRecords > sizes.tableSize
          ? `${prepareGrowth.changeRecords.toLocaleString('en-US')} change records for ${sizes.tableSize.toLocaleString('en-US')} inserted rows`
          : undefined,
      ),
      rssFigure('6.capture', 'figure 1 (capture of prepare)', peak),
    )
  },
}
