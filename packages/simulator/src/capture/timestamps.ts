/**
 * Gives each captured transaction its commit time in microseconds. MariaDB's binlog says only the whole second;
 * the stamp stays strictly inside that second, after its first microsecond (so it never contradicts the server's
 * clock, and a mark on a whole second, as an RDS client takes on MariaDB, separates that second's commits from
 * the earlier ones), uses the time the capture saw the commit when that falls inside the second, and is strictly
 * increasing in LSN order. MySQL 8 sends the
 * commit time in microseconds, which is used as it is (kept increasing).
 */
export class CommitStamper {
  #last: number
  #floor = 0

  constructor(lastStamp: number) {
    this.#last = lastStamp
  }

  /** Every later stamp will be after `micros` (used by `mark()`). */
  raiseFloor(micros: number): void {
    this.#floor = Math.max(this.#floor, micros)
  }

  get floor(): number {
    return this.#floor
  }

  get last(): number {
    return this.#last
  }

  stamp(headerSeconds: number, seenMicros: number, exactMicros?: number): number {
    let stamp: number
    if (exactMicros !== undefined) {
      stamp = exactMicros
    } else {
      const start = headerSeconds * 1_000_000
      const end = start + 999_999
      // A capture that lags past the second keeps its stamps in the second's last millisecond, in order.
      stamp = seenMicros <= start ? start + 1 : seenMicros > end ? start + 999_000 : seenMicros
    }
    stamp = Math.max(stamp, this.#last + 1, this.#floor + 1)
    this.#last = stamp
    return stamp
  }
}
