/**
 * A view is the history a state is made of: disjoint LSN ranges (lo, hi], newest first. Without backtracks the
 * state as of LSN x is the single range (0, x]. A backtrack recorded at LSN b that made the state equal to the
 * state as of LSN t splits it: view(x) = (b, x] followed by view(t). An event "happened" in a view when its LSN
 * lies in one of the ranges, and a key's value is its newest version inside the ranges.
 */
export interface LsnRange {
  /** Exclusive lower bound. */
  lo: number
  /** Inclusive upper bound. */
  hi: number
}

export type View = readonly LsnRange[]

/** The backtrack events of a log, as (lsn of the event, lsn whose state it restored). */
export interface BacktrackEvent {
  lsn: number
  targetLsn: number
}

/** Builds view(x) from the backtrack events (any order). */
export function viewAt(lsn: number, backtracks: readonly BacktrackEvent[]): View {
  const sorted = [...backtracks].sort((a, b) => b.lsn - a.lsn)
  const ranges: LsnRange[] = []
  let hi = lsn
  for (;;) {
    const event = sorted.find((b) => b.lsn <= hi)
    if (event === undefined) {
      if (hi > 0) ranges.push({ lo: 0, hi })
      return ranges
    }
    if (hi > event.lsn) ranges.push({ lo: event.lsn, hi })
    hi = event.targetLsn
  }
}

/** The backtrack events view(lsn) reads through, newest first: the backtracks that are part of that state's history. */
export function backtracksThrough(lsn: number, backtracks: readonly BacktrackEvent[]): BacktrackEvent[] {
  const sorted = [...backtracks].sort((a, b) => b.lsn - a.lsn)
  const through: BacktrackEvent[] = []
  let hi = lsn
  for (;;) {
    const event = sorted.find((b) => b.lsn <= hi)
    if (event === undefined) return through
    through.push(event)
    hi = event.targetLsn
  }
}

export function happened(lsn: number, view: View): boolean {
  return view.some((range) => lsn > range.lo && lsn <= range.hi)
}

/** The LSN ranges covered by exactly one of the two views: where their states can differ. */
export function symmetricDifference(a: View, b: View): LsnRange[] {
  const points = new Set<number>()
  for (const range of [...a, ...b]) points.add(range.lo).add(range.hi)
  const sorted = [...points].sort((x, y) => x - y)
  const out: LsnRange[] = []
  for (let i = 0; i + 1 < sorted.length; i++) {
    const lo = sorted[i]!
    const hi = sorted[i + 1]!
    const probe = hi // (lo, hi] is wholly in or out of each range, so its top point decides
    if (happened(probe, a) !== happened(probe, b)) {
      const last = out.at(-1)
      if (last !== undefined && last.hi === lo) last.hi = hi
      else out.push({ lo, hi })
    }
  }
  return out
}

/** SQL condition over `column` matching the view's ranges, with its parameters. */
export function rangeCondition(column: string, ranges: readonly LsnRange[]): { sql: string; params: number[] } {
  if (ranges.length === 0) return { sql: '0', params: [] }
  return {
    sql: `(${ranges.map(() => `(${column} > ? AND ${column} <= ?)`).join(' OR ')})`,
    params: ranges.flatMap((range) => [range.lo, range.hi]),
  }
}
