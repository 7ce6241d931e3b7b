import { describe, expect, it } from 'vitest'
import { encodeCells } from '@backtrack/binlog'
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
    expect([...keys].sort(Buffer.compare)).toEqual(keys)
    expect(keys.map((key) => keyCells(key)[0]!.toString())).toEqual(ids)
  })

  it('keeps other keys as their cells', () => {
    const key = rowKey(row('abc'), schema('varchar'))
    expect(key).toEqual(encodeCells([Buffer.from('abc')]))
    expect(keyCells(key)[0]!.toString()).toBe('abc')
  })
})
