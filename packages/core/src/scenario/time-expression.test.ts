import { describe, expect, it } from 'vitest'
import { BacktrackError } from '../errors.js'
import { splitStatements } from './split-statements.js'
import { formatTimeExpression, parseDuration, parseTimeExpression, resolveTimeExpression } from './time-expression.js'

const NOW = new Date('2026-11-24T00:10:00.000Z')
const context = {
  now: async () => NOW,
  marker: (name: string) => (name === 'before-drop' ? new Date('2026-11-24T00:05:00.250Z') : undefined),
  markerNames: () => ['before-drop'],
}

describe('time expressions', () => {
  it('parses durations', () => {
    expect(parseDuration('500ms')).toBe(500)
    expect(parseDuration('90s')).toBe(90_000)
    expect(parseDuration('90')).toBe(90_000)
    expect(parseDuration('5m')).toBe(300_000)
    expect(parseDuration('1.5h')).toBe(5_400_000)
    expect(() => parseDuration('soon')).toThrow(BacktrackError)
  })

  it('resolves ISO-8601, MySQL datetimes (UTC), relative times and markers with offsets', async () => {
    const at = async (text: string) => (await resolveTimeExpression(parseTimeExpression(text), context)).toISOString()
    expect(await at('2026-11-24T00:01:02Z')).toBe('2026-11-24T00:01:02.000Z')
    expect(await at('2026-11-24T01:01:02.5+01:00')).toBe('2026-11-24T00:01:02.500Z')
    expect(await at('2026-11-24 00:01:02')).toBe('2026-11-24T00:01:02.000Z')
    expect(await at('-90s')).toBe('2026-11-24T00:08:30.000Z')
    expect(await at('-5m')).toBe('2026-11-24T00:05:00.000Z')
    expect(await at('before-drop')).toBe('2026-11-24T00:05:00.250Z')
    expect(await at('before-drop - 1ms')).toBe('2026-11-24T00:05:00.249Z')
    expect(await at('before-drop+2s')).toBe('2026-11-24T00:05:02.250Z')
  })

  it('names unknown markers and the known ones', async () => {
    await expect(resolveTimeExpression(parseTimeExpression('after-drop'), context)).rejects.toThrow(
      'Unknown marker "after-drop". Known markers: before-drop.',
    )
  })

  it('rejects what is no time, with the accepted forms', () => {
    expect(() => parseTimeExpression('2026-13-45T99:00:00Z')).toThrow(/ISO-8601/)
    expect(() => parseTimeExpression('yesterday at noon')).toThrow(/relative to now \(-90s, -5m\)/)
    expect(() => parseTimeExpression('-soon')).toThrow(/Invalid time "-soon"/)
  })

  it('formats expressions back', () => {
    expect(formatTimeExpression(parseTimeExpression('after-drop + 1.5s'))).toBe('after-drop + 1.5s')
    expect(formatTimeExpression(parseTimeExpression('-90s'))).toBe('-90s')
  })
})

describe('splitStatements', () => {
  it('splits at semicolons outside quotes and comments', () => {
    expect(splitStatements('SELECT \';\'; -- a; comment\nSELECT `a;b` FROM t; /* ; */ SELECT "x\\";";')).toEqual([
      "SELECT ';'",
      '-- a; comment\nSELECT `a;b` FROM t',
      '/* ; */ SELECT "x\\";"',
    ])
  })
})
