/**
 * A value of a driver's row as text: strings and numbers as they are, bytes as UTF-8, dates in ISO form, anything
 * else (a JSON column the driver parsed) as JSON. The caller decides how NULL reads.
 */
export function sqlValueText(value: unknown): string {
  if (typeof value === 'string') return value
  if (typeof value === 'number' || typeof value === 'bigint' || typeof value === 'boolean') return String(value)
  if (Buffer.isBuffer(value)) return value.toString('utf8')
  if (value instanceof Date) return value.toISOString()
  return JSON.stringify(value)
}
