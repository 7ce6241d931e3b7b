import { BacktrackError, formatRdsTime, type DBClusterBacktrack, type WaitOptions } from '@backtrack/core'
import { systemClock, type Clock } from './clock.js'

export const DEFAULT_POLL_MS = 2_000
export const MAX_POLL_MS = 30_000
export const DEFAULT_WAIT_TIMEOUT_MS = 15 * 60_000

/**
 * Polls one backtrack until it is `completed`. The interval doubles from `pollMs` up to 30 s and drops back to
 * `pollMs` whenever the status changes, because one transition tends to follow another soon (pending can last
 * a minute; applying is often seconds).
 *
 * Rejects with `InternalFailure` when the backtrack `failed` (Aurora gives no reason; the cluster is usable
 * again), with `ServiceUnavailable` when `timeoutMs` passes first (the backtrack may still complete: the
 * cluster is not back yet), and with `signal.reason` when aborted.
 */
export async function pollBacktrack(
  read: () => Promise<DBClusterBacktrack>,
  options: WaitOptions = {},
  clock: Clock = systemClock,
): Promise<DBClusterBacktrack> {
  const pollMs = options.pollMs ?? DEFAULT_POLL_MS
  const timeoutMs = options.timeoutMs ?? DEFAULT_WAIT_TIMEOUT_MS
  const { signal, onProgress } = options
  const started = clock.now()
  let delay = pollMs
  let lastStatus: string | undefined
  for (;;) {
    signal?.throwIfAborted()
    let backtrack: DBClusterBacktrack
    try {
      backtrack = await read()
    } catch (error) {
      // An abort cuts the request short; say why it stopped rather than how the request failed.
      signal?.throwIfAborted()
      throw error
    }
    signal?.throwIfAborted()
    if (backtrack.Status !== lastStatus) {
      lastStatus = backtrack.Status
      delay = pollMs
      onProgress?.(backtrack)
    }
    if (backtrack.Status === 'completed') return backtrack
    if (backtrack.Status === 'failed') {
      throw new BacktrackError(
        'InternalFailure',
        `Backtrack ${backtrack.BacktrackIdentifier} of cluster ${backtrack.DBClusterIdentifier} to ` +
          `${formatRdsTime(backtrack.BacktrackTo)} failed. Aurora gives no reason; the cluster is usable again, ` +
          'so check describe-db-clusters and retry the backtrack.',
      )
    }
    const remaining = timeoutMs - (clock.now() - started)
    if (remaining <= 0) {
      throw new BacktrackError(
        'ServiceUnavailable',
        `Backtrack ${backtrack.BacktrackIdentifier} of cluster ${backtrack.DBClusterIdentifier} is still ` +
          `${backtrack.Status} after ${Math.round(timeoutMs / 1000)} s; it may yet complete. Check it with ` +
          `describe-db-cluster-backtracks --backtrack-identifier ${backtrack.BacktrackIdentifier}.`,
      )
    }
    await clock.sleep(Math.min(delay, remaining), signal)
    delay = Math.min(delay * 2, MAX_POLL_MS)
  }
}
