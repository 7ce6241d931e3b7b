import type { BinlogPosition } from '@backtrack/binlog'

/** Orders binlog positions: by the file's sequence number (`binlog.000012`), then the offset. */
export function comparePositions(a: BinlogPosition, b: BinlogPosition): number {
  const seq = (file: string) => Number(/(\d+)$/.exec(file)?.[1] ?? 0)
  return seq(a.file) - seq(b.file) || a.position - b.position
}

export function formatPosition(position: BinlogPosition): string {
  return `${position.file}:${position.position}`
}
