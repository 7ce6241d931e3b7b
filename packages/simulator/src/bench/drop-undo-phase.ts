import { rmSync } from 'node:fs'
import { join } from 'node:path'
import { backtrackThroughApi } from './api-backtrack.js'
import { DATABASE, type BenchPhase } from './bench-context.js'
import { dropUndoFigures, rssFigure, type DropUndoRun } from './figures.js'
import { LoadDataBaseline } from './load-data-baseline.js'
import { CpuMeter, RssSampler } from './measure.js'
import { describePhases } from './phase-breakdown.js'

const TABLE = 'sbtest1'

/**
 * Figure 3 (and 6b): the lab's `DROP TABLE sbtest1` undone through the RDS endpoint, from BacktrackDBCluster to
 * `available`, against LOAD DATA of the same rows into an empty copy on the same server; repeated, interleaved.
 */
export const dropUndoPhase: BenchPhase = {
  name: 'drop',
  async run(context) {
    const { sizes } = context
    const admin = await context.admin()
    const app = context.sqlClient(context.endpointOptions())
    const original = await app.checksum(TABLE)
    const file = join(context.dir, 'rows.tsv')
    const baseline = new LoadDataBaseline(context.server, admin, DATABASE, TABLE, file)
    context.log(`3. undo DROP TABLE ${TABLE} (${sizes.tableSize} rows) vs LOAD DATA, ${sizes.undoRepeats} times`)
    await baseline.dump()
    const runs: DropUndoRun[] = []
    const mismatches: string[] = []
    const breakdowns: string[] = []
    const rss = new RssSampler().start()
    try {
      for (let i = 0; i < sizes.undoRepeats; i++) {
        let loadMillis = 0
        let loadCpu: ReturnType<CpuMeter['stop']> | undefined
        const load = async () => {
          const cpu = new CpuMeter(context.server.pid).start()
          const loaded = await baseline.time()
          loadCpu = cpu.stop()
          if (loaded.rows !== sizes.tableSize) mismatches.push(`LOAD DATA ${i + 1} loaded ${loaded.rows} rows`)
          loadMillis = loaded.millis
        }
        if (i % 2 === 1) await load()
        const mark = await context.catchUp()
        await app.query(`DROP TABLE ${TABLE}`)
        const undoCpu = new CpuMeter(context.server.pid).start()
        const undo = await backtrackThroughApi(context.rds, context.cluster.clusterIdentifier, mark, {
          pollMillis: sizes.pollMillis,
        })
        const cpu = undoCpu.stop()
        const outcome = context.engine.lastOutcome
        if (outcome?.record.BacktrackIdentifier !== undo.backtrackIdentifier || outcome.applyMillis === undefined) {
          throw new Error(`backtrack ${undo.backtrackIdentifier} finished without an applying time`)
        }
        if (i % 2 === 0) await load()
        const restored = await app.checksum(TABLE)
        const rows = outcome.stats?.rowsRestored ?? 0
        if (restored !== original || rows !== sizes.tableSize) {
          mismatches.push(`run ${i + 1}: checksum ${restored} (original ${original}), ${rows} rows restored`)
        }
        runs.push({
          undoMillis: undo.millis,
          applyMillis: outcome.applyMillis,
          loadMillis,
          ...(cpu.server === undefined || loadCpu?.server === undefined
            ? {}
            : {
                cpu: {
                  undo: { node: cpu.node, server: cpu.server },
                  load: { node: loadCpu.node, server: loadCpu.server },
                },
              }),
        })
        breakdowns.push(describePhases(undo, outcome))
        context.log(
          `   undo ${(undo.millis / 1000).toFixed(2)} s (applying ${(outcome.applyMillis / 1000).toFixed(2)} s), ` +
            `LOAD DATA ${(loadMillis / 1000).toFixed(2)} s`,
        )
      }
    } finally {
      rmSync(file, { force: true })
    }
    const peak = rss.stop()
    context.checks.push({
      id: 'checksum.dropUndo',
      label: `CHECKSUM TABLE ${TABLE} after each undo of the DROP`,
      ok: mismatches.length === 0,
      detail:
        mismatches.length === 0
          ? `${runs.length} undos matched ${original}, ${sizes.tableSize} rows restored each`
          : mismatches.join('; '),
    })
    context.figures.push(
      ...dropUndoFigures(runs, sizes.tableSize, `where the time went: ${breakdowns.join(' | ')}`),
      rssFigure('6.dropUndo', 'figure 3 (undo DROP)', peak),
    )
  },
}
