import { BacktrackError } from './errors.js'
import { formatRdsTime } from './time.js'
import type { DBClusterBacktrack, WaitOptions } from './types.js'

/** Wall-clock time and sleeping, injectable so polling can be tested without waiting. */
export interface PollClock {
  /** Milliseconds since the epoch. */
  now(): number
  /** Resolves after `ms`; rejects with `signal.reason` once `signal` aborts. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>
}

export const systemPollClock: PollClock = {
  now: () => Date.now(),
  sleep: (ms, signal) =>
    new Promise<void>((resolve, reject) => {
      // An aborted wait rejects with the signal's reason, whatever it is, as Node's own APIs do.
      if (signal?.aborted) {
        // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors
        reject(signal.reason)
        return
      }
      const onAbort = (): void => {
        clearTimeout(timer)
        // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors
        reject(signal?.reason)
      }
      const timer = setTimeout(() => {
        signal?.removeEventListener('abort', onAbort)
        resolve()
      }, ms)
      signal?.addEventListener('abort', onAbort, { once: true })
    }),
}

/** How often an engine polls by default: its own cadence, which `WaitOptions.pollMs` overrides. */
export interface PollCadence {
  /** First interval, and the interval again after every status change. Aurora-like default: 2 s. */
  pollMs?: number
  /** The interval doubles up to this. Default 30 s. */
  maxPollMs?: number
}

const DEFAULT_POLL_MS = 2_000
const MAX_POLL_MS = 30_000
const DEFAULT_WAIT_TIMEOUT_MS = 15 * 60_000

/** What `pollBacktrack` asks the engine; only `read` is required. */
export interface BacktrackPoller {
  /** The backtrack's current record (`DescribeDBClusterBacktracks` by id); a request in flight honours `signal`. */
  read(signal?: AbortSignal): Promise<DBClusterBacktrack>
  /** Whether the cluster is still `backtracking`: Aurora reports `completed` before the cluster is available. */
  clusterBusy?(signal?: AbortSignal): Promise<boolean>
  /**
   * Why a `failed` backtrack failed and the state it left the cluster in, when the engine knows (Aurora gives no
   * reason).
   */
  failureReason?(backtrack: DBClusterBacktrack): string | undefined
  clock?: PollClock
  cadence?: PollCadence
}

/**
 * The one `waitForBacktrack` loop of every engine. Polls until the backtrack is `completed` and the cluster has
 * left `backtracking`. The interval doubles from `pollMs` up to `maxPollMs` and drops back to `pollMs` whenever
 * the status changes, because one transition tends to follow another soon (pending can last a minute; applying
 * is often seconds).
 *
 * Rejects with `InternalFailure` when the backtrack `failed` (the cluster is usable again), with
 * `ServiceUnavailable` when `timeoutMs` passes first (the backtrack may still complete), and with `signal.reason`
 * when aborted.
 */
export async function pollBacktrack(poller: BacktrackPoller, options: WaitOptions = {}): Promise<DBClusterBacktrack> {
  const clock = poller.clock ?? systemPollClock
  const pollMs = options.pollMs ?? poller.cadence?.pollMs ?? DEFAULT_POLL_MS
  const maxPollMs = Math.max(pollMs, poller.cadence?.maxPollMs ?? MAX_POLL_MS)
  const timeoutMs = options.timeoutMs ?? DEFAULT_WAIT_TIMEOUT_MS
  const { signal, onProgress } = options
  const started = clock.now()
  let delay = pollMs
  let lastStatus: string | undefined
  for (;;) {
    signal?.throwIfAborted()
    let backtrack: DBClusterBacktrack
    let busy = false
    try {
      backtrack = await poller.read(signal)
      if (backtrack.Status === 'completed' && poller.clusterBusy !== undefined) busy = await poller.clusterBusy(signal)
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
    if (backtrack.Status === 'completed' && !busy) return backtrack
    if (backtrack.Status === 'failed') {
      const reason = poller.failureReason?.(backtrack)
      throw new BacktrackError(
        'InternalFailure',
        `Backtrack ${backtrack.BacktrackIdentifier} of cluster ${backtrack.DBClusterIdentifier} to ` +
          `${formatRdsTime(backtrack.BacktrackTo)} failed` +
          (reason === undefined
            ? '. Aurora gives no reason; the cluster is usable again, so check describe-db-clusters and retry the backtrack.'
            : `: ${reason}.`),
      )
    }
    const remaining = timeoutMs - (clock.now() - started)
    if (remaining <= 0) {
      throw new BacktrackError(
        'ServiceUnavailable',
        `Backtrack ${backtrack.BacktrackIdentifier} of cluster ${backtrack.DBClusterIdentifier} is still ` +
          `${busy ? 'completing (the cluster is backtracking)' : backtrack.Status} after ${Math.round(timeoutMs / 1000)} s; ` +
          'it may yet complete. Check it with ' +
          `describe-db-cluster-backtracks --backtrack-identifier ${backtrack.BacktrackIdentifier}.`,
      )
    }
    await clock.sleep(Math.min(delay, remaining), signal)
    delay = Math.min(delay * 2, maxPollMs)
  }
}
