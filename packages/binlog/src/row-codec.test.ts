import { describe, expect, it } from 'vitest'
import { CellCursor, RowWriter, encodeCells, readCells } from './row-codec.js'

describe('row codec', () => {
  it('round-trips NULLs, empty values, zero bytes and long values', () => {
    const cells = [
      null,
      Buffer.alloc(0),
      Buffer.from([0, 0, 255]),
      Buffer.alloc(127, 1),
      Buffer.alloc(128, 2),
      Buffer.alloc(70_000, 3),
      Buffer.from('😀 ünïcode', 'utf8'),
      null,
    ]
    const decoded = readCells(encodeCells(cells))
    expect(decoded).toEqual(cells)
  })

  it('writes text cells as UTF-8', () => {
    const row = new RowWriter(1).text('-9223372036854775808').null().text('é').finish()
    expect(readCells(row).map((cell) => cell?.toString('utf8') ?? null)).toEqual(['-9223372036854775808', null, 'é'])
  })

  it('walks cells without copying them, and refuses a cell that runs past the end', () => {
    const row = encodeCells([Buffer.from('ab'), null, Buffer.alloc(0)])
    const cursor = new CellCursor().reset(row)
    const seen: (string | null)[] = []
    while (cursor.next()) seen.push(cursor.isNull ? null : row.subarray(cursor.start, cursor.end).toString())
    expect(seen).toEqual(['ab', null, ''])
    expect(() => readCells(row.subarray(0, 2))).toThrow(/runs past the end/)
  })

  it('walks one image of several laid end to end, and refuses a cell that runs into the next', () => {
    const first = encodeCells([Buffer.from('ab'), null])
    const second = encodeCells([Buffer.from('cde')])
    const both = Buffer.concat([first, second])
    const cells = (start: number, end: number) => {
      const cursor = new CellCursor().reset(both, start, end)
      const seen: (string | null)[] = []
      while (cursor.next()) seen.push(cursor.isNull ? null : both.subarray(cursor.start, cursor.end).toString())
      return seen
    }
    expect(cells(0, first.length)).toEqual(['ab', null])
    expect(cells(first.length, both.length)).toEqual(['cde'])
    expect(() => cells(0, 2)).toThrow(/runs past the end/)
  })
})
