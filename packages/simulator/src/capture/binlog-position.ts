import type { BinlogPosition } from '@backtrack/binlog'
import { BacktrackError } from '@backtrack/core'
import type { Connection, RowDataPacket } from 'mysql2/promise'

/** Orders binlog positions: by the file's sequence number (`binlog.000012`), then the offset. */
export function comparePositions(a: BinlogPosition, b: BinlogPosition): number {
  const seq = (file: string) => Number(/(\d+)$/.exec(file)?.[1] ?? 0)
  return seq(a.file) - seq(b.file) || a.position - b.position
}

export function formatPosition(position: BinlogPosition): string {
  return `${position.file}:${position.position}`
}

/** The server's current binlog end. */
export async function serverBinlogPosition(connection: Connection): Promise<BinlogPosition> {
  const [rows] = await connection.query<RowDataPacket[]>('SHOW MASTER STATUS')
  const row = rows[0]
  if (row === undefined) {
    throw new BacktrackError(
      'ServerConfigurationFault',
      'binary logging is off on the server (SHOW MASTER STATUS is empty): start it with --log-bin',
    )
  }
  return { file: String(row.File), position: Number(row.Position) }
}
