import { encodeCells, readCells, type Cell, type TableMap } from '@backtrack/binlog'
import { countOf, withCount } from '../page-log/keyless-rows.js'
import type { PageLog, TableIncarnation } from '../page-log/page-log.js'
import { rowKey } from '../page-log/row-key.js'
import { alignToSchema, identityMap } from './table-map.js'

/** What the cascades need from the capture. */
export interface CascadeContext {
  readonly log: PageLog
  /** Every table the capture knows (the children a parent change may reach). */
  tables(): Iterable<TableIncarnation>
  /** The captured table a TABLE_MAP names; undefined for the server's own tables. */
  tableFor(map: TableMap): TableIncarnation | undefined
  /** The LSN of the open transaction. */
  lsn(): number
  /** Counts one derived row change in the open transaction. */
  countChange(): void
}

/**
 * Rows changed by ON DELETE/UPDATE CASCADE or SET NULL are changed inside InnoDB and never reach the row
 * binlog; derive them from the parent change and the foreign keys, against the child rows the log holds.
 */
export async function applyForeignKeyCascades(
  context: CascadeContext,
  map: TableMap,
  changes: { before: Buffer; after: Buffer | null }[],
): Promise<void> {
  const parent = context.tableFor(map)
  if (parent === undefined) return
  for (const child of context.tables()) {
    for (const fk of child.schema.foreignKeys) {
      if (fk.parentDatabase !== parent.database || fk.parentTable !== parent.name) continue
      const parentIndexes = fk.parentColumns.map((name) => parent.schema.columns.findIndex((c) => c.name === name))
      const childIndexes = fk.columns.map((name) => child.schema.columns.findIndex((c) => c.name === name))
      const removed = new Map<string, Cell[] | null>()
      for (const { before, after } of changes) {
        const old = readCells(alignToSchema(before, map, parent.schema))
        const oldKey = parentIndexes.map((i) => old[i] ?? null)
        if (oldKey.some((cell) => cell === null)) continue
        if (after === null) {
          if (fk.onDelete === 'CASCADE' || fk.onDelete === 'SET NULL')
            removed.set(encodeCells(oldKey).toString('latin1'), null)
        } else {
          const next = readCells(alignToSchema(after, map, parent.schema))
          const newKey = parentIndexes.map((i) => next[i] ?? null)
          if (encodeCells(newKey).equals(encodeCells(oldKey))) continue
          if (fk.onUpdate === 'CASCADE') removed.set(encodeCells(oldKey).toString('latin1'), newKey)
          else if (fk.onUpdate === 'SET NULL') removed.set(encodeCells(oldKey).toString('latin1'), null)
        }
      }
      if (removed.size === 0) continue
      const action = changes[0]!.after === null ? fk.onDelete : fk.onUpdate
      const lsn = context.lsn()
      const derived: { before: Buffer; after: Buffer | null }[] = []
      // Collect first: the log cannot be written while one of its cursors is open.
      const affected: { key: Buffer; image: Buffer; fkValue: string }[] = []
      for (const { key, image } of context.log.rowsIn(child.id, context.log.headView())) {
        const cells = readCells(image)
        const fkValue = encodeCells(childIndexes.map((i) => cells[i] ?? null)).toString('latin1')
        if (removed.has(fkValue)) affected.push({ key, image, fkValue })
      }
      // A keyless child stores each distinct row once under the row itself, with its count as an extra last cell:
      // the changed row moves to a new key with all its copies, and adds to a row that already looks like it.
      const keyless = child.schema.keyColumns.length === 0
      const counts = new Map<string, { row: Buffer; delta: number }>()
      const count = (row: Buffer, delta: number) => {
        const entry = counts.get(row.toString('latin1'))
        if (entry === undefined) counts.set(row.toString('latin1'), { row, delta })
        else entry.delta += delta
      }
      for (const { key, image, fkValue } of affected) {
        const row = keyless ? key : image
        const replacement = removed.get(fkValue)
        let next: Buffer | null
        if (action === 'CASCADE' && replacement === null) next = null
        else {
          const updated = readCells(row)
          childIndexes.forEach(
            (index, i) => (updated[index] = replacement === null ? null : (replacement?.[i] ?? null)),
          )
          next = encodeCells(updated)
        }
        derived.push({ before: row, after: next })
        if (keyless) {
          const copies = countOf(image)
          count(row, -copies)
          if (next !== null) count(next, copies)
        } else if (next === null) context.log.putRow(child.id, key, lsn, null)
        else {
          const nextKey = rowKey(next, child.schema)
          if (!nextKey.equals(key)) context.log.putRow(child.id, key, lsn, null)
          context.log.putRow(child.id, nextKey, lsn, next)
        }
        context.countChange()
      }
      for (const { row, delta } of counts.values()) {
        if (delta === 0) continue
        const current = context.log.rowAt(child.id, row, context.log.headView())
        const n = (current === null ? 0 : countOf(current)) + delta
        context.log.putRow(child.id, row, lsn, n > 0 ? withCount(row, n) : null)
      }
      if (derived.length > 0) await applyForeignKeyCascades(context, identityMap(child), derived)
    }
  }
}
