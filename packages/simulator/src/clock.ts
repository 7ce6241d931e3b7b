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

/** A clock that moves only when told to. */
export class ManualClock implements Clock {
  #micros: number

  constructor(start: Date | number = Date.UTC(2026, 0, 1)) {
    this.#micros = (typeof start === 'number' ? start : start.getTime()) * 1000
  }

  nowMicros(): number {
    return this.#micros
  }

  advance(ms: number): this {
    this.#micros += Math.round(ms * 1000)
    return this
  }

  set(date: Date): this {
    this.#micros = date.getTime() * 1000
    return this
  }
}
