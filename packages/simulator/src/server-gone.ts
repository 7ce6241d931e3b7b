/** mysql2 and socket error codes that mean the connection to the server is gone, not that a statement failed. */
const GONE_CODES = new Set([
  'PROTOCOL_CONNECTION_LOST',
  'PROTOCOL_SEQUENCE_TIMEOUT',
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTCONN',
  'ER_SERVER_SHUTDOWN',
  'ER_CONNECTION_KILLED',
  'ER_SERVER_GONE_ERROR',
  'CR_SERVER_LOST',
  'CR_SERVER_GONE_ERROR',
])

/**
 * Whether `error` says the server went away (killed, restarting, network) rather than that it refused a statement:
 * the first is worth waiting out and doing again once the server is back; the second would only fail again.
 */
export function isServerGone(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return false
  const { code, fatal, message } = error as { code?: unknown; fatal?: unknown; message?: unknown }
  if (fatal === true) return true
  if (typeof code === 'string' && GONE_CODES.has(code)) return true
  return typeof message === 'string' && /connection is in closed state|Pool is closed/i.test(message)
}
