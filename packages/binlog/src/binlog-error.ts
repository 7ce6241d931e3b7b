/**
 * Why a binlog could not be read: `CaptureFault` for anything that cannot be captured truthfully (an event type,
 * a server setting, a corrupt event: retrying hits it again) and `InvalidParameterValue` for a bad option.
 * The codes are backtrack's error codes, so a caller can turn one into its own error without a lookup table.
 */
export type BinlogErrorCode = 'CaptureFault' | 'InvalidParameterValue'

/** The one error class of this package. Transport failures (connection lost, a purged file) stay mysql2 `Error`s. */
export class BinlogError extends Error {
  override readonly name = 'BinlogError'
  readonly code: BinlogErrorCode

  constructor(code: BinlogErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.code = code
  }

  static is(error: unknown, code?: BinlogErrorCode): error is BinlogError {
    return error instanceof BinlogError && (code === undefined || error.code === code)
  }
}
