/** Where the simulator reads the time: microseconds since the epoch. Injectable so tests can be deterministic. */
export interface Clock {
  nowMicros(): number
}

/** The machine's clock, in microseconds (millisecond wall time refined by the monotonic clock). */
export const systemClock: Clock = (() => {
  const originMs = Date.now()
  const originHr = process.hrtime.bigint()
  return {
    nowMicros() {
      return originMs * 1000 + Number((process.hrtime.bigint() - originHr) / 1000n)
    },
  }
})()
