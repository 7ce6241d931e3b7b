import { describe, expect, it } from 'vitest'
import type { BacktrackEngine } from '../backtrack-engine.js'
import { BacktrackError } from '../errors.js'

/** What a conformance run needs besides the engine: a way to run SQL on the cluster. */
export interface ConformanceContext {
  engine: BacktrackEngine
  /** Runs one statement on the cluster's SQL endpoint and returns its rows. */
  sql(statement: string): Promise<Record<string, unknown>[]>
}

export interface ConformanceOptions {
  /** Why the suite cannot run here; it is then skipped with this reason. */
  skipReason?: string
}

/**
 * The behaviour every `BacktrackEngine` must show. Run it once per engine:
 * `runEngineConformance('simulator', async () => ({ engine, sql }))`.
 */
export function runEngineConformance(
  name: string,
  makeContext: () => Promise<ConformanceContext>,
  options: ConformanceOptions = {},
): void {
  const suite = options.skipReason === undefined ? describe : describe.skip
  suite(`engine conformance: ${name}${options.skipReason ? ` (skipped: ${options.skipReason})` : ''}`, () => {
    it('describes an available cluster with a backtrack window', async () => {
      const { engine } = await makeContext()
      const cluster = await engine.describeCluster()
      expect(cluster.DBClusterIdentifier).toBe(engine.clusterIdentifier)
      expect(cluster.Status).toBe('available')
      expect(cluster.BacktrackWindow).toBeGreaterThan(0)
    })

    it('refuses a backtrack into the future with InvalidParameterValue', async () => {
      const { engine } = await makeContext()
      const future = new Date((await engine.now()).getTime() + 3_600_000)
      await expect(engine.backtrack({ backtrackTo: future })).rejects.toSatisfy((error) =>
        BacktrackError.is(error, 'InvalidParameterValue'),
      )
    })
  })
}
