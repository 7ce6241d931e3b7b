import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { tempDir } from '@backtrack/mysql-server/testing'
import { ClusterMetrics, sampleOf } from './cluster-metrics.js'

const T = Date.parse('2026-11-24T12:00:00Z')
const at = (ms: number) => new Date(T + ms)

describe('sampleOf', () => {
  const base = { created: 0, stored: 10, targetWindowSeconds: 3600 }

  it('reports how far back the log reaches, at most the target, and no alert for a young cluster', () => {
    const young = sampleOf({
      ...base,
      now: at(0),
      clusterCreateTime: at(-600_000),
      earliestBacktrackTime: at(-600_000),
    })
    expect(young).toMatchObject({ windowActualMinutes: 10, alert: 0 })
    const old = sampleOf({
      ...base,
      now: at(0),
      clusterCreateTime: at(-86_400_000),
      earliestBacktrackTime: at(-7_200_000),
    })
    expect(old).toMatchObject({ windowActualMinutes: 60, alert: 0 })
  })

  it('alerts when the log reaches back less far than the target although the cluster is old enough', () => {
    const short = sampleOf({
      ...base,
      now: at(0),
      clusterCreateTime: at(-86_400_000),
      earliestBacktrackTime: at(-1_800_000),
    })
    expect(short).toMatchObject({ windowActualMinutes: 30, alert: 1 })
  })

  it('reports nothing to reach for a cluster whose backtracking is disabled', () => {
    expect(sampleOf({ ...base, targetWindowSeconds: 0, now: at(0), clusterCreateTime: at(-1000) })).toMatchObject({
      windowActualMinutes: 0,
      alert: 0,
    })
  })
})

describe('ClusterMetrics', () => {
  it('answers points in a range, the creation rate summed over five minutes, and keeps them across restarts', () => {
    using dir = tempDir('backtrack-metrics-')
    const file = join(dir.path, 'metrics.jsonl')
    const metrics = new ClusterMetrics(file)
    for (let minute = 0; minute < 8; minute++) {
      metrics.add({ t: T + minute * 60_000, created: 10, stored: 100 + minute, windowActualMinutes: minute, alert: 0 })
    }
    const rates = metrics.points('BacktrackChangeRecordsCreationRate', at(0), at(8 * 60_000)).map((p) => p.value)
    expect(rates).toEqual([10, 20, 30, 40, 50, 50, 50, 50])
    const reloaded = new ClusterMetrics(file)
    expect(reloaded.points('BacktrackChangeRecordsStored', at(120_000), at(240_000))).toEqual([
      { timestamp: at(120_000), value: 102 },
      { timestamp: at(180_000), value: 103 },
    ])
    expect(reloaded.last?.windowActualMinutes).toBe(7)
  })
})
