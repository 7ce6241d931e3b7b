import { describe, expect, it } from 'vitest'
import { encodeCells } from '@backtrack/binlog'
import { loadDataChunks, loadDataChunksFromBatches, loadDataColumns, loadDataLines } from './load-data.js'

async function text(rows: Buffer[], columns: number): Promise<string> {
  const chunks: Buffer[] = []
  for await (const chunk of loadDataLines(rows, columns)) chunks.push(Buffer.from(chunk))
  return Buffer.concat(chunks).toString('latin1')
}

describe('LOAD DATA writer', () => {
  it('escapes backslash, tab, newline and NUL, and writes \\N for NULL', async () => {
    const rows = [
      encodeCells([Buffer.from('a\\b\tc\nd\0e\r'), null, Buffer.alloc(0), Buffer.from('\\N')]),
      encodeCells([null, null, null, null]),
    ]
    expect(await text(rows, 4)).toBe('a\\\\b\\tc\\nd\\0e\r\t\\N\t\t\\\\N\n\\N\t\\N\t\\N\t\\N\n')
  })

  it('streams in bounded chunks and handles values larger than a chunk', async () => {
    const big = Buffer.alloc(200_000, 0x5c) // all backslashes: doubles in size
    const rows = Array.from({ length: 1000 }, (_, i) => encodeCells([Buffer.from(String(i)), i === 500 ? big : null]))
    let total = 0
    let largest = 0
    for await (const chunk of loadDataLines(rows, 2)) {
      total += chunk.length
      largest = Math.max(largest, chunk.length)
    }
    expect(largest).toBeLessThanOrEqual(400_010)
    expect(total).toBe(rows.reduce((n, _r, i) => n + String(i).length + 1 + (i === 500 ? 400_000 : 2) + 1, 0))
  })

  it('writes the same text from batches of images laid end to end as from the rows, growing its buffer for a large row', () => {
    const rows = [
      encodeCells([Buffer.from('1'), Buffer.from('a\tb')]),
      encodeCells([Buffer.from('2'), Buffer.alloc(10_000, 0x5c)]),
      encodeCells([Buffer.from('3'), null]),
    ]
    const batch = (images: Buffer[]) => {
      let end = 0
      return { images: Buffer.concat(images), ends: Int32Array.from(images, (image) => (end += image.length)) }
    }
    const join = (chunks: Iterable<Buffer>) => Buffer.concat([...chunks].map((chunk) => Buffer.from(chunk)))
    expect(join(loadDataChunksFromBatches([batch(rows.slice(0, 2)), batch(rows.slice(2))], 2))).toEqual(
      join(loadDataChunks(rows, 2)),
    )
    // An image that ends before its last cell does is refused, not read into the next one.
    const short = {
      images: Buffer.concat(rows),
      ends: Int32Array.from([rows[0]!.length - 1, Buffer.concat(rows).length]),
    }
    expect(() => [...loadDataChunksFromBatches([short], 2)]).toThrow(/runs past the end|cells but the table has/)
  })

  it('refuses rows whose cell count does not match the columns', async () => {
    await expect(text([encodeCells([null])], 2)).rejects.toThrow(/1 cells but the table has 2 columns/)
  })

  it('routes BIT/ENUM/SET through CAST, JSON through CONVERT, and skips generated columns', () => {
    expect(
      loadDataColumns([
        { name: 'id', kind: 'number' },
        { name: 'b`it', kind: 'bit' },
        { name: 'e', kind: 'enum' },
        { name: 's', kind: 'set' },
        { name: 'j', kind: 'json' },
        { name: 'g', kind: 'number', generated: true },
        { name: 'p', kind: 'geometry' },
      ]),
    ).toEqual({
      list: '`id`, @bt_v1, @bt_v2, @bt_v3, @bt_v4, @bt_skip, `p`',
      set:
        ' SET `b``it` = CAST(@bt_v1 AS UNSIGNED), `e` = CAST(@bt_v2 AS UNSIGNED), `s` = CAST(@bt_v3 AS UNSIGNED), ' +
        '`j` = CONVERT(@bt_v4 USING utf8mb4)',
    })
  })
})
