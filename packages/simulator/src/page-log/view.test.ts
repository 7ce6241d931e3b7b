import { describe, expect, it } from 'vitest'
import { backtracksThrough, happened, symmetricDifference, viewAt } from './view.js'

describe('viewAt', () => {
  it('is (0, x] without backtracks', () => {
    expect(viewAt(10, [])).toEqual([{ lo: 0, hi: 10 }])
    expect(viewAt(0, [])).toEqual([])
  })

  it('reads through a backtrack to its target, and through nested ones', () => {
    // 1..10 written, backtrack at 11 to state 4, 12..15 written, backtrack at 16 to state 13.
    const events = [
      { lsn: 11, targetLsn: 4 },
      { lsn: 16, targetLsn: 13 },
    ]
    expect(viewAt(15, events)).toEqual([
      { lo: 11, hi: 15 },
      { lo: 0, hi: 4 },
    ])
    expect(viewAt(20, events)).toEqual([
      { lo: 16, hi: 20 },
      { lo: 11, hi: 13 },
      { lo: 0, hi: 4 },
    ])
    // A time inside the undone stretch still sees what the cluster held then.
    expect(viewAt(8, events)).toEqual([{ lo: 0, hi: 8 }])
    expect(happened(6, viewAt(20, events))).toBe(false)
    expect(happened(12, viewAt(20, events))).toBe(true)
  })

  it('names the backtracks a state reads through', () => {
    const events = [
      { lsn: 11, targetLsn: 4 },
      { lsn: 16, targetLsn: 13 },
      { lsn: 18, targetLsn: 8 }, // back into the stretch the first one undid: neither earlier one is history now
    ]
    expect(backtracksThrough(17, events).map((event) => event.lsn)).toEqual([16, 11])
    expect(backtracksThrough(16, events).map((event) => event.lsn)).toEqual([16, 11])
    expect(backtracksThrough(18, events).map((event) => event.lsn)).toEqual([18])
    expect(backtracksThrough(10, events)).toEqual([])
  })
})

describe('symmetricDifference', () => {
  it('is the stretch a rewind must undo or redo', () => {
    const events = [{ lsn: 11, targetLsn: 4 }]
    expect(symmetricDifference(viewAt(10, []), viewAt(4, []))).toEqual([{ lo: 4, hi: 10 }])
    // From "after a backtrack to 4, then 12..15" back to 8 (inside the undone stretch).
    expect(symmetricDifference(viewAt(15, events), viewAt(8, events))).toEqual([
      { lo: 4, hi: 8 },
      { lo: 11, hi: 15 },
    ])
    expect(symmetricDifference(viewAt(7, []), viewAt(7, []))).toEqual([])
  })
})
