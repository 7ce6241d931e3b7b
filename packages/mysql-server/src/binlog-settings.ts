/** The binlog the capture reads: every row change as a whole row, with column names and keys. */
export const BINLOG_SETTINGS = {
  binlog_format: 'ROW',
  binlog_row_image: 'FULL',
  binlog_row_metadata: 'FULL',
} as const

/** `BINLOG_SETTINGS` as command-line options (`--binlog-format=ROW ...`). */
export const BINLOG_FLAGS = Object.entries(BINLOG_SETTINGS).map(
  ([name, value]) => `--${name.replaceAll('_', '-')}=${value}`,
)

/**
 * The options every server this package starts gets, whatever its source: the row binlog (base name `logBin`),
 * a server id, UTC (TIMESTAMPs are captured as UTC text) and LOAD DATA LOCAL (rewinds load rows with it).
 */
export function captureServerArgs(logBin: string, serverId: number): string[] {
  return [
    `--log-bin=${logBin}`,
    ...BINLOG_FLAGS,
    `--server-id=${serverId}`,
    '--default-time-zone=+00:00',
    '--max-binlog-size=256M',
    '--local-infile=ON',
  ]
}
