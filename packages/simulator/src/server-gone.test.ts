import { describe, expect, it } from 'vitest'
import { isServerGone } from './server-gone.js'

describe('isServerGone', () => {
  it('tells a lost connection from a refused statement', () => {
    expect(
      isServerGone(Object.assign(new Error('Connection lost'), { code: 'PROTOCOL_CONNECTION_LOST', fatal: true })),
    ).toBe(true)
    expect(isServerGone(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' }))).toBe(
      true,
    )
    expect(isServerGone(new Error("Can't add new command when connection is in closed state"))).toBe(true)
    expect(isServerGone(Object.assign(new Error('Duplicate entry'), { code: 'ER_DUP_ENTRY', errno: 1062 }))).toBe(false)
    expect(isServerGone(Object.assign(new Error('database or disk is full'), { code: 'SQLITE_FULL' }))).toBe(false)
    expect(isServerGone(new TypeError('x is undefined'))).toBe(false)
    expect(isServerGone(undefined)).toBe(false)
  })
})
