import { describe, expect, it } from 'vitest'
import { BacktrackError, type DBCluster } from '@backtrack/core'
import { waitUntilAvailable } from './wait-available.js'

/** The one call it makes, answered from a list of statuses (the last one repeats). */
function cluster(statuses: string[]) {
  let calls = 0
  return {
    clusterIdentifier: 'lab',
    calls: () => calls,
    describeCluster: async () => ({ Status: statuses[Math.min(calls++, statuses.length - 1)] }) as DBCluster,
  }
}

describe('waitUntilAvailable', () => {
  it('returns the status once the cluster is no longer backtracking', async () => {
    const engine = cluster(['backtracking', 'backtracking', 'available'])
    expect(await waitUntilAvailable(engine, { pollMs: 1, timeoutMs: 5_000 })).toBe('available')
    expect(engine.calls()).toBe(3)
  })

  it('fails with ServiceUnavailable, not "available", when the cluster is still backtracking at the deadline', async () => {
    const error = await waitUntilAvailable(cluster(['backtracking']), { pollMs: 1, timeoutMs: 30 }).catch(
      (caught: unknown) => caught,
    )
    expect(BacktrackError.is(error, 'ServiceUnavailable')).toBe(true)
    expect((error as Error).message).toMatch(/still backtracking after 0 s/)
  })
})
