import { BacktrackError } from './errors.js'

/** ISO-8601 UTC with `Z`, milliseconds kept only when there are any (`2026-11-24T00:10:00Z`). */
export function formatRdsTime(date: Date): string {
  const iso = date.toISOString()
  return iso.endsWith('.000Z') ? `${iso.slice(0, -5)}Z` : iso
}

const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})$/

/**
 * Parses a timestamp as RDS accepts it: ISO-8601 with a zone (whole seconds from the CLI, milliseconds from the
 * SDK) or epoch seconds. `parameter` names it in the error.
 */
export function parseRdsTime(text: string, parameter: string): Date {
  const trimmed = text.trim()
  let date: Date | undefined
  if (/^\d+(\.\d+)?$/.test(trimmed)) date = new Date(Number(trimmed) * 1000)
  else if (ISO.test(trimmed)) date = new Date(trimmed)
  if (date === undefined || Number.isNaN(date.getTime())) {
    throw new BacktrackError(
      'InvalidParameterValue',
      `Invalid value "${text}" for ${parameter}: expected an ISO-8601 time such as 2026-11-24T00:10:00Z.`,
    )
  }
  return date
}
