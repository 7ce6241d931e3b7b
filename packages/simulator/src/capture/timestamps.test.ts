import { describe, expect, it } from 'vitest'
import { CommitStamper } from './timestamps.js'

describe('CommitStamper', () => {
  it('uses the time seen when it lies inside the header second', () => {
    const stamper = new CommitStamper(0)
    expect(stamper.stamp(100, 100_250_000)).toBe(100_250_000)
  })

  it('never leaves the header second, and stays ordered when the capture lags', () => {
    const stamper = new CommitStamper(0)
    const a = stamper.stamp(100, 103_000_000)
    const b = stamper.stamp(100, 103_000_100)
    const c = stamper.stamp(101, 103_000_200)
    expect(Math.floor(a / 1e6)).toBe(100)
    expect(Math.floor(b / 1e6)).toBe(100)
    expect(b).toBeGreaterThan(a)
    expect(Math.floor(c / 1e6)).toBe(101)
  })

  it('puts later commits after a raised floor (mark) and keeps MySQL 8 microseconds', () => {
    const stamper = new CommitStamper(0)
    stamper.raiseFloor(100_500_000)
    expect(stamper.stamp(100, 100_400_000)).toBe(100_500_001)
    expect(stamper.stamp(100, 0, 100_700_123)).toBe(100_700_123)
  })

  it('stamps a MariaDB commit strictly after its header second starts, so a whole-second mark separates seconds', () => {
    const stamper = new CommitStamper(0)
    expect(stamper.stamp(100, 99_999_999)).toBe(100_000_001)
    expect(new CommitStamper(0).stamp(100, 100_000_000)).toBe(100_000_001)
    const mark = 100_000_000
    expect(stamper.stamp(100, 99_000_000)).toBeGreaterThan(mark)
  })
})
