import { BacktrackError } from '../errors.js'
import { parseRdsTime } from '../time.js'

/**
 * A point in time as people write it: an absolute time, a time relative to now (`-90s`), or a named marker with an
 * optional offset (`before-drop`, `after-drop + 1s`).
 */
export type TimeExpression =
  | { kind: 'absolute'; at: Date }
  | { kind: 'relative'; offsetMs: number }
  | { kind: 'marker'; name: string; offsetMs: number }

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, min: 60_000, h: 3_600_000, d: 86_400_000 }
const DURATION = /^(\d+(?:\.\d+)?)\s*(ms|s|m|min|h|d)?$/
const MARKER = /^([A-Za-z_][\w.-]*?)\s*(?:([+-])\s*(\d+(?:\.\d+)?\s*(?:ms|s|m|min|h|d)?))?$/
// `SELECT current_timestamp()` prints this; Aurora's server time zone is UTC.
const MYSQL_DATETIME = /^(\d{4}-\d{2}-\d{2})[ T](\d{2}:\d{2}:\d{2}(?:\.\d{1,6})?)$/

/** Parses `500ms`, `90s`, `5m`, `1.5h`, `2d` (a bare number is seconds) into milliseconds. */
export function parseDuration(text: string): number {
  const match = DURATION.exec(text.trim())
  if (match === null) {
    throw new BacktrackError(
      'InvalidParameterValue',
      `Invalid duration "${text}": expected a number with a unit, such as 500ms, 90s, 5m, 1h.`,
    )
  }
  return Math.round(Number(match[1]) * UNITS[match[2] ?? 's']!)
}

/**
 * Parses a time: ISO-8601 with a zone (`2026-11-24T00:10:00Z`), a MySQL datetime read as UTC
 * (`2026-11-24 00:10:00`, what `SELECT current_timestamp()` prints on Aurora), relative to now (`-90s`, `-5m`), or a
 * marker name with an optional offset (`after-drop`, `before-drop - 1ms`).
 */
export function parseTimeExpression(text: string): TimeExpression {
  const trimmed = text.trim()
  if (/^-\s*\d/.test(trimmed)) return { kind: 'relative', offsetMs: -parseDuration(trimmed.slice(1)) }
  const datetime = MYSQL_DATETIME.exec(trimmed)
  if (datetime !== null) return { kind: 'absolute', at: new Date(`${datetime[1]}T${datetime[2]}Z`) }
  if (/^\d{4}-\d{2}-\d{2}T/.test(trimmed) || /^\d+(\.\d+)?$/.test(trimmed)) {
    return { kind: 'absolute', at: parseRdsTime(trimmed, 'the time') }
  }
  const marker = MARKER.exec(trimmed)
  if (marker !== null) {
    const offset = marker[3] === undefined ? 0 : parseDuration(marker[3])
    return { kind: 'marker', name: marker[1]!, offsetMs: marker[2] === '-' ? -offset : offset }
  }
  throw new BacktrackError(
    'InvalidParameterValue',
    `Invalid time "${text}": use an ISO-8601 time (2026-11-24T00:10:00Z), a time relative to now (-90s, -5m), ` +
      'or a marker name with an optional offset (before-drop, after-drop + 1s).',
  )
}

/** What resolving a time expression needs: the cluster's clock and the markers known so far. */
export interface TimeContext {
  now(): Promise<Date>
  marker(name: string): Promise<Date | undefined> | Date | undefined
  /** Marker names, for the error when one is unknown. */
  markerNames?(): Promise<string[]> | string[]
}

/** Turns a time expression into a time, using the cluster's clock for relative times. */
export async function resolveTimeExpression(expression: TimeExpression, context: TimeContext): Promise<Date> {
  switch (expression.kind) {
    case 'absolute':
      return expression.at
    case 'relative':
      return new Date((await context.now()).getTime() + expression.offsetMs)
    case 'marker': {
      const at = await context.marker(expression.name)
      if (at === undefined) {
        const known = (await context.markerNames?.()) ?? []
        throw new BacktrackError(
          'InvalidParameterValue',
          `Unknown marker "${expression.name}". ` +
            (known.length === 0
              ? 'No markers exist yet: create one with `backtrack mark --name <name>` or a `mark` step.'
              : `Known markers: ${known.join(', ')}.`),
        )
      }
      return new Date(at.getTime() + expression.offsetMs)
    }
  }
}

/** The expression as it would be written back (`after-drop + 1s`). */
export function formatTimeExpression(expression: TimeExpression): string {
  switch (expression.kind) {
    case 'absolute':
      return expression.at.toISOString()
    case 'relative':
      return `-${formatDuration(-expression.offsetMs)}`
    case 'marker':
      return expression.offsetMs === 0
        ? expression.name
        : `${expression.name} ${expression.offsetMs < 0 ? '-' : '+'} ${formatDuration(Math.abs(expression.offsetMs))}`
  }
}

/** `1500` → `1.5s`, `90000` → `90s`, `250` → `250ms`. */
function formatDuration(ms: number): string {
  if (ms < 1000) return `${ms}ms`
  return `${Number((ms / 1000).toFixed(3))}s`
}
