import { BacktrackError } from '@backtrack/core'
import { BinlogError, type BinlogPosition } from '@backtrack/binlog'
import { formatPosition } from './binlog-position.js'

/** What a fault's message names: where the capture stopped and which file it writes. */
export interface FaultContext {
  /** The last binlog position committed to the page log: everything before it is recorded. */
  committed: BinlogPosition
  pageLogPath: string
}

/** A better-sqlite3 `SqliteError`: the page log's file refused a read or write. */
function isSqliteError(error: unknown): error is Error & { code: string } {
  return (
    error instanceof Error && error.name === 'SqliteError' && typeof (error as { code?: unknown }).code === 'string'
  )
}

/**
 * `error`, which stopped the capture, as the `CaptureFault` users see in status, events and the log: what happened,
 * where the capture stopped, and what to do.
 */
export function captureFault(error: unknown, context: FaultContext): BacktrackError {
  if (BacktrackError.is(error)) return error
  if (BinlogError.is(error)) return new BacktrackError(error.code, error.message, { cause: error })
  const at = formatPosition(context.committed)
  const message = (error as Error).message
  if (isSqliteError(error)) {
    return new BacktrackError(
      'CaptureFault',
      `the page log (${context.pageLogPath}) could not be written: ${message} (${error.code}); the capture stopped after binlog position ${at}. ` +
        'Fix the cause and start the cluster again: the capture resumes from there with nothing lost (the server keeps its binlogs until the capture has read them).',
      { cause: error },
    )
  }
  return new BacktrackError('CaptureFault', `binlog capture stopped: ${message}`, { cause: error })
}
