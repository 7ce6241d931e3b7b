import { statfsSync } from 'node:fs'
import { dirname } from 'node:path'
import { BacktrackError } from '@backtrack/core'
import { BinlogError, type BinlogPosition } from '@backtrack/binlog'
import { formatPosition } from './binlog-position.js'

/** What a fault's message names: where the capture stopped and which file it writes. */
export interface FaultContext {
  /** The last binlog position committed to the page log: everything before it is recorded. */
  committed: BinlogPosition
  pageLogPath: string
}

const MIB = 1024 * 1024

/** A better-sqlite3 `SqliteError`: the page log's file refused a read or write. */
function isSqliteError(error: unknown): error is Error & { code: string } {
  return (
    error instanceof Error && error.name === 'SqliteError' && typeof (error as { code?: unknown }).code === 'string'
  )
}

/** Bytes free for unprivileged writes on the file system that holds `path` (undefined when it cannot be read). */
export function freeBytes(path: string): number | undefined {
  try {
    const stats = statfsSync(path)
    return stats.bavail * stats.bsize
  } catch {
    return undefined
  }
}

/**
 * Whether `error` is the page log's file system running full. SQLite turns ENOSPC into SQLITE_FULL for the
 * database and its WAL; growing the WAL index (`-shm`) on a full disk surfaces as an I/O error instead.
 */
export function isDiskFull(error: unknown, pageLogPath: string): boolean {
  if (!isSqliteError(error)) return false
  if (error.code === 'SQLITE_FULL') return true
  return error.code.startsWith('SQLITE_IOERR') && (freeBytes(dirname(pageLogPath)) ?? Infinity) < MIB
}

/**
 * The server no longer has the binlog file the capture reads next: error 1236 (ER_MASTER_FATAL_ERROR_READING_BINLOG) on
 * COM_BINLOG_DUMP, worded by MariaDB and MySQL as below; 1236 also covers a binlog the server cannot read.
 */
function isBinlogGone(error: unknown): boolean {
  const { errno, message } = (error ?? {}) as { errno?: unknown; message?: unknown }
  return errno === 1236 && /could not find first log file|purged required binary logs/i.test(String(message))
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
  if (isDiskFull(error, context.pageLogPath)) {
    return new BacktrackError(
      'CaptureFault',
      `the page log's disk is full (${(error as { code: string }).code} writing ${context.pageLogPath}): the capture stopped after binlog position ${at}. ` +
        `Free space in ${dirname(context.pageLogPath)}: the capture resumes from there by itself, and nothing committed is lost (the server keeps its binlogs until the capture has read them).`,
      { cause: error },
    )
  }
  if (isSqliteError(error)) {
    return new BacktrackError(
      'CaptureFault',
      `the page log (${context.pageLogPath}) could not be written: ${message} (${error.code}); the capture stopped after binlog position ${at}. ` +
        'Fix the cause and start the cluster again: the capture resumes from there with nothing lost (the server keeps its binlogs until the capture has read them).',
      { cause: error },
    )
  }
  if (isBinlogGone(error)) {
    return new BacktrackError(
      'CaptureFault',
      `binlog file ${context.committed.file}, which the capture reads next (it stopped at ${at}), is no longer on the server (purged, or the binlogs were reset): ` +
        `the server said "${message}". What was written after that position cannot be captured, so the cluster cannot backtrack (the page log would have a gap). ` +
        `To go on, stop the cluster, move the folder ${dirname(context.pageLogPath)} aside and start it again: it takes a new base image of the current data (the history before it is lost). ` +
        'Leave the server its binlogs until the capture has read them; the capture purges them itself.',
      { cause: error },
    )
  }
  return new BacktrackError('CaptureFault', `binlog capture stopped: ${message}`, { cause: error })
}
