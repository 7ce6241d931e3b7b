import { describe, expect, it } from 'vitest'
import { BacktrackError } from './errors.js'
import type { DBClusterBacktrack } from './types.js'
import {
  normalizeClusterIdentifier,
  pageBacktracks,
  pageItems,
  validateBacktrackIdentifier,
  validateBacktrackWindow,
} from './validation.js'
import { formatRdsTime, parseRdsTime } from './time.js'

function record(i: number, status: DBClusterBacktrack['Status'] = 'completed'): DBClusterBacktrack {
  return {
    DBClusterIdentifier: 'c',
    BacktrackIdentifier: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`,
    BacktrackTo: new Date(i * 1000),
    BacktrackRequestCreationTime: new Date(i * 2000),
    Status: status,
  }
}

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn()
  } catch (error) {
    return error instanceof BacktrackError ? error.code : 'not a BacktrackError'
  }
  return undefined
}

describe('validation', () => {
  it('lower-cases cluster identifiers and rejects bad ones', () => {
    expect(normalizeClusterIdentifier('LabStack-Cluster')).toBe('labstack-cluster')
    for (const bad of ['1abc', 'a--b', 'a-', '', 'a_b', 'x'.repeat(64)]) {
      expect(codeOf(() => normalizeClusterIdentifier(bad))).toBe('InvalidParameterValue')
    }
  })

  it('accepts windows of 0..259200 seconds only', () => {
    expect(validateBacktrackWindow(0)).toBe(0)
    expect(validateBacktrackWindow(259200)).toBe(259200)
    expect(codeOf(() => validateBacktrackWindow(-1))).toBe('InvalidParameterValue')
    expect(codeOf(() => validateBacktrackWindow(259201))).toBe('InvalidParameterValue')
    expect(codeOf(() => validateBacktrackWindow(1.5))).toBe('InvalidParameterValue')
  })

  it('requires UUID backtrack identifiers', () => {
    expect(codeOf(() => validateBacktrackIdentifier('not-a-uuid'))).toBe('InvalidParameterValue')
    expect(validateBacktrackIdentifier('A5507CBC-7815-4BA8-AC23-68FAAA0FCEA2')).toBe(
      'a5507cbc-7815-4ba8-ac23-68faaa0fcea2',
    )
  })
})

describe('pageBacktracks', () => {
  const all = Array.from({ length: 45 }, (_, i) => record(45 - i, i % 3 === 0 ? 'failed' : 'completed'))

  it('pages with MaxRecords and Marker until every record was seen once', () => {
    const seen: string[] = []
    let marker: string | undefined
    let pages = 0
    do {
      const page = pageBacktracks(all, { maxRecords: 20, marker })
      seen.push(...page.backtracks.map((b) => b.BacktrackIdentifier))
      marker = page.marker
      pages++
    } while (marker !== undefined)
    expect(pages).toBe(3)
    expect(seen).toEqual(all.map((b) => b.BacktrackIdentifier))
  })

  it('filters by status in any case and by id', () => {
    const failed = pageBacktracks(all, { filters: [{ name: 'db-cluster-backtrack-status', values: ['FAILED'] }] })
    expect(failed.backtracks).toHaveLength(15)
    expect(failed.backtracks.every((b) => b.Status === 'failed')).toBe(true)
    const one = all[3]!.BacktrackIdentifier
    expect(pageBacktracks(all, { backtrackIdentifier: one }).backtracks.map((b) => b.BacktrackIdentifier)).toEqual([
      one,
    ])
  })

  it('rejects out-of-range MaxRecords, unknown filters and bad markers', () => {
    expect(codeOf(() => pageBacktracks(all, { maxRecords: 3 }))).toBe('InvalidParameterValue')
    expect(codeOf(() => pageBacktracks(all, { maxRecords: 101 }))).toBe('InvalidParameterValue')
    expect(codeOf(() => pageBacktracks(all, { filters: [{ name: 'engine' as never, values: ['x'] }] }))).toBe(
      'InvalidParameterValue',
    )
    expect(
      codeOf(() => pageBacktracks(all, { filters: [{ name: 'db-cluster-backtrack-status', values: ['done'] }] })),
    ).toBe('InvalidParameterValue')
    expect(codeOf(() => pageBacktracks(all, { marker: '!!!' }))).toBe('InvalidParameterValue')
  })

  it('reads a marker one way for every list (backtracks, clusters, events): only the offset it wrote', () => {
    const own = pageItems([1, 2, 3], 2, undefined).marker
    expect(pageItems([1, 2, 3], 2, own)).toEqual({ page: [3] })
    const forged = Buffer.from('20abc', 'utf8').toString('base64url')
    expect(codeOf(() => pageItems([1, 2, 3], 2, forged))).toBe('InvalidParameterValue')
    expect(codeOf(() => pageBacktracks(all, { marker: forged }))).toBe('InvalidParameterValue')
    expect(codeOf(() => pageBacktracks(all, { marker: Buffer.from('-1').toString('base64url') }))).toBe(
      'InvalidParameterValue',
    )
  })
})

describe('RDS time', () => {
  it('formats with Z and keeps milliseconds only when present', () => {
    expect(formatRdsTime(new Date('2026-11-24T00:10:00.000Z'))).toBe('2026-11-24T00:10:00Z')
    expect(formatRdsTime(new Date('2026-11-24T00:10:00.253Z'))).toBe('2026-11-24T00:10:00.253Z')
  })

  it('parses CLI seconds, SDK milliseconds, offsets and epoch seconds', () => {
    expect(parseRdsTime('2026-11-24T00:10:00Z', 'BacktrackTo').getTime()).toBe(Date.UTC(2026, 10, 24, 0, 10))
    expect(parseRdsTime('2026-11-24T00:10:00.253Z', 'BacktrackTo').getTime()).toBe(
      Date.UTC(2026, 10, 24, 0, 10, 0, 253),
    )
    expect(parseRdsTime('2026-11-24T01:10:00+01:00', 'BacktrackTo').getTime()).toBe(Date.UTC(2026, 10, 24, 0, 10))
    expect(parseRdsTime('1521453600', 'BacktrackTo').getTime()).toBe(1521453600000)
    expect(codeOf(() => parseRdsTime('yesterday', 'BacktrackTo'))).toBe('InvalidParameterValue')
    expect(codeOf(() => parseRdsTime('2026-11-24 00:10:00', 'BacktrackTo'))).toBe('InvalidParameterValue')
  })
})
