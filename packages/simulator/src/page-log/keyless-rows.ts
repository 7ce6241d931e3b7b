import { encodeCells, readCells } from '@backtrack/binlog'
import type { TableSchema } from './page-log.js'

// A table without a key can hold the same row many times. The log keeps each distinct row once, under the row
// itself, with how many times it occurs as one more cell at the end of the stored image.

/** The stored image of a keyless row that occurs `n` times. */
export function withCount(image: Buffer, n: number): Buffer {
  return Buffer.concat([image, encodeCells([Buffer.from(String(n))])])
}

/** How many times a stored keyless row occurs. */
export function countOf(stored: Buffer): number {
  const cells = readCells(stored)
  return Number(cells.at(-1)!.toString())
}

/** Rows of a table as they must be loaded: keyed rows as they are, keyless rows repeated by their count. */
export function* expandCounts(rows: Iterable<{ image: Buffer }>, schema: TableSchema): Generator<Buffer> {
  if (schema.keyColumns.length > 0) {
    for (const row of rows) yield row.image
    return
  }
  for (const row of rows) {
    const cells = readCells(row.image)
    const n = Number(cells.pop()!.toString())
    const image = encodeCells(cells)
    for (let i = 0; i < n; i++) yield image
  }
}
