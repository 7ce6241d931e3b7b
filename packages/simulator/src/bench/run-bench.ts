import { mkdtempSync, rmSync } from 'node:fs'
import { cpus, tmpdir } from 'node:os'
import { join } from 'node:path'
import { BenchContext, type BenchPhase } from './bench-context.js'
import { capturePhase } from './capture-phase.js'
import { dmlUndoPhase } from './dml-undo-phase.js'
import { dropUndoPhase } from './drop-undo-phase.js'
import { LoadSampler, since } from './measure.js'
import type { BenchSizes } from './options.js'
import type { BenchReport } from './report.js'
import { rewindPhase } from './rewind-phase.js'
import { RESET_QUICK_SIZES, RESET_SIZES, runTestResetBench } from './test-reset-bench.js'
import { throughputPhase } from './throughput-phase.js'

/** Figure 7, test resets against a dump reload, on a local cluster of its own (test-reset-bench.ts). */
const resetPhase: BenchPhase = {
  name: 'reset',
  async run(context) {
    const resets = await runTestResetBench({
      sizes: context.quick ? RESET_QUICK_SIZES : RESET_SIZES,
      workDir: context.dir,
      log: context.log,
    })
    context.figures.push(...resets.figures)
    context.checks.push(...resets.checks)
  },
}

/**
 * The bench's phases in the order they run. `capture` comes first: it prepares the table the others use. A new
 * measurement is a new phase here (a `BenchPhase` adding figures and checks to the context).
 */
const BENCH_PHASES: readonly BenchPhase[] = [
  capturePhase,
  throughputPhase,
  dropUndoPhase,
  rewindPhase,
  resetPhase,
  dmlUndoPhase,
]

export interface BenchRunOptions {
  sizes: BenchSizes
  mode: 'full' | 'quick'
  workDir?: string
  /** Only these phases (names); `capture` always runs. Default: all. */
  only?: readonly string[]
  /** Progress lines (stderr in the CLI). */
  log?: (message: string) => void
  /** Called with a function that tears down what the run started, for signal handlers. */
  onCleanup?: (cleanup: () => Promise<void>) => void
}

/** The figure's leading number (`3.dropUndo` → 3, `2b.clusterCpu` → 2: a NaN would scramble the sort), for ordering. */
const figureNumber = (id: string) => Number.parseInt(id, 10)

/** Runs every phase on a local cluster and a plain server of its own and returns the report; always cleans up. */
export async function runBench(options: BenchRunOptions): Promise<BenchReport> {
  const { sizes } = options
  const log = options.log ?? (() => undefined)
  const started = performance.now()
  const load = new LoadSampler().start()
  const dir = mkdtempSync(join(options.workDir ?? tmpdir(), 'backtrack-bench-'))
  const context = new BenchContext({ sizes, quick: options.mode === 'quick', dir, log })
  const cleanup = async () => {
    await context.close()
    rmSync(dir, { recursive: true, force: true })
  }
  options.onCleanup?.(cleanup)
  try {
    log(`starting a local cluster in ${join(dir, 'cluster')}`)
    const cluster = await context.startCluster()
    const phases = BENCH_PHASES.filter(
      (phase) => phase === capturePhase || options.only === undefined || options.only.includes(phase.name),
    )
    for (const phase of phases) await phase.run(context)
    return {
      date: new Date().toISOString(),
      mode: options.mode,
      machine: {
        cpus: cpus().length,
        node: process.version,
        server: `${cluster.node.server.flavor} ${cluster.node.server.version}`,
        loadAverage: load.stop(),
      },
      sizes: { ...sizes },
      figures: [...context.figures].sort((a, b) => figureNumber(a.id) - figureNumber(b.id)),
      checks: context.checks,
      totalSeconds: since(started) / 1000,
    }
  } finally {
    log('cleaning up')
    await cleanup()
  }
}
