import { encodeCells, readCells, type TableMap } from '@backtrack/binlog'
import type { TableIncarnation, TableSchema } from '../page-log/page-log.js'

/**
 * Binlog row images list the columns the server logged; the schema may list more (e.g. virtual columns the server
 * leaves out). Reorders by name into the schema's column order, NULL for any the image lacks.
 */
export function alignToSchema(image: Buffer, map: TableMap, schema: TableSchema): Buffer {
  const columns = schema.columns
  if (map.columns.length === columns.length && map.columns.every((c, i) => c.name === columns[i]!.name)) return image
  const cells = readCells(image)
  const byName = new Map(map.columns.map((c, i) => [c.name, cells[i] ?? null]))
  return encodeCells(columns.map((column) => byName.get(column.name) ?? null))
}

/** A TABLE_MAP that matches a captured table's schema column for column (for changes the capture derives). */
export function identityMap(table: TableIncarnation): TableMap {
  return {
    tableId: 0n,
    database: table.database,
    table: table.name,
    columns: table.schema.columns.map((column) => ({
      name: column.name,
      type: 0,
      meta: 0,
      nullable: true,
      unsigned: false,
      kind: column.kind,
    })),
    primaryKey: table.schema.keyColumns,
  }
}
