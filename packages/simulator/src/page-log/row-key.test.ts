import { describe, expect, it } from 'vitest'
import { encodeCells, readCells } from '@backtrack/binlog'
import type { TableSchema } from './page-log.js'
import { keyCells, rowKey } from './row-key.js'

const schema = (dataType: string): TableSchema => ({
  createSql: '',
  columns: [
    { name: 'id', kind: 'number', generated: false, dataType },
    { name: 'v', kind: 'string', generated: false, dataType: 'varchar' },
  ],
  keyColumns: [0],
  foreignKeys: [],
})
const row = (id: string) => encodeCells([Buffer.from(id), Buffer.from('x')])

describe('rowKey', () => {
  it('orders integer keys numerically, across the whole signed and unsigned BIGINT range', () => {
    const ids = [
      '-9223372036854775808',
      '-10',
      '-9',
      '0',
      '9',
      '10',
      '100',
      '9223372036854775807',
      '18446744073709551615',
    ]
    const keys = ids.map((id) => rowKey(row(id), schema('bigint')))
    expect([...keys].sort((a, b) => Buffer.compare(a, b))).toEqual(keys)
    expect(keys.map((key) => keyCells(key)[0]!.toString())).toEqual(ids)
  })

  it('keeps other keys as their cells', () => {
    const key = rowKey(row('abc'), schema('varchar'))
    expect(key).toEqual(encodeCells([Buffer.from('abc')]))
    expect(keyCells(key)[0]!.toString()).toBe('abc')
  })
})

/** The first implementation (cells decoded and re-encoded, a BigInt per key): rowKey must give the same bytes. */
function referenceRowKey(image: Buffer, schema: TableSchema): Buffer {
  if (schema.keyColumns.length === 0) return image
  const cells = readCells(image)
  const keyCells = schema.keyColumns.map((index) => cells[index] ?? null)
  const encoded = encodeCells(keyCells)
  const first = keyCells[0]
  const integer = ['tinyint', 'smallint', 'mediumint', 'int', 'integer', 'bigint']
  if (first === null || first === undefined || !integer.includes(schema.columns[schema.keyColumns[0]!]!.dataType)) {
    return encoded
  }
  const prefix = Buffer.alloc(10)
  const value = BigInt(first.toString('latin1')) + 2n ** 63n
  prefix.writeUInt8(Number(value >> 64n), 1)
  prefix.writeBigUInt64BE(value & 0xffff_ffff_ffff_ffffn, 2)
  return Buffer.concat([prefix, encoded])
}

describe('rowKey matches the cells decoded and re-encoded', () => {
  const column = (name: string, dataType: string): TableSchema['columns'][number] => ({
    name,
    kind: dataType === 'varchar' ? 'string' : 'number',
    generated: false,
    dataType,
  })
  const wide: TableSchema = {
    createSql: '',
    columns: [column('a', 'bigint'), column('b', 'varchar'), column('c', 'int'), column('d', 'varchar')],
    keyColumns: [2, 0],
    foreignKeys: [],
  }

  it('for integers at the 15/16-digit boundary, negative ones and the extremes', () => {
    const ids = ['0', '-1', '1', '999999999999999', '-999999999999999', '1000000000000000', '-1000000000000000']
    ids.push('4294967295', '4294967296', '-4294967296', '-4294967297', '9007199254740993', '-9223372036854775808')
    for (const id of ids) {
      expect(rowKey(row(id), schema('bigint')), id).toEqual(referenceRowKey(row(id), schema('bigint')))
    }
  })

  it('for keys over several columns in another order than the table, NULL cells and cells past the end', () => {
    const images = [
      encodeCells([Buffer.from('12'), Buffer.from('x'), Buffer.from('-7'), Buffer.from('tail')]),
      encodeCells([Buffer.from('12'), null, null, Buffer.from('y')]),
      encodeCells([Buffer.from('5'), Buffer.alloc(300, 0x61)]),
      encodeCells([null, Buffer.from('b'), Buffer.from('3')]),
    ]
    for (const image of images) expect(rowKey(image, wide)).toEqual(referenceRowKey(image, wide))
    const byString = { ...wide, keyColumns: [1, 3] }
    for (const image of images) expect(rowKey(image, byString)).toEqual(referenceRowKey(image, byString))
  })

  it('for random rows', () => {
    let seed = 7
    const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31
    for (let i = 0; i < 2000; i++) {
      const digits = 1 + Math.floor(random() * 18)
      const id = (random() < 0.3 ? '-' : '') + String(1 + Math.floor(random() * 9)) + '7'.repeat(digits - 1)
      const image = encodeCells([
        Buffer.from(id),
        random() < 0.2 ? null : Buffer.alloc(Math.floor(random() * 200), 0x62),
        Buffer.from(String(Math.floor(random() * 1e6))),
        Buffer.from('d'),
      ])
      expect(rowKey(image, wide)).toEqual(referenceRowKey(image, wide))
      expect(rowKey(image, schema('bigint'))).toEqual(referenceRowKey(image, schema('bigint')))
    }
  })
})
