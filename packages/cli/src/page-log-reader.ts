// Reads a local cluster's page log for find, diff and show: history as it was, without rewinding anything.
import { formatRdsTime, parseTimeExpression, resolveTimeExpression } from '@backtrack/core'
import { PageLog, readCells, type TableIncarnation, type TxnRecord } from '@backtrack/simulator'
import { asUsage } from './target.js'

type View = ReturnType<PageLog['viewAt']>
type LsnRange = View[number]

/** A row decoded into column name → text (null for SQL NULL). */
export type DecodedRow = Record<string, string | null>

export function timeOfMicros(micros: number): string {
  return formatRdsTime(new Date(Math.floor(micros / 1000)))
}

/** A commit time with its microseconds, so it reads apart from the millisecond before it. */
export function commitTimeOf(micros: number): string {
  const iso = new Date(Math.floor(micros / 1000)).toISOString()
  return `${iso.slice(0, -1)}${String(micros % 1000).padStart(3, '0')}Z`
}

function happened(lsn: number, view: View): boolean {
  return view.some((range) => lsn > range.lo && lsn <= range.hi)
}

/** The LSN ranges in exactly one of two views: where their states can differ. */
function symmetricDifference(a: View, b: View): LsnRange[] {
  const points = [...new Set([...a, ...b].flatMap((range) => [range.lo, range.hi]))].sort((x, y) => x - y)
  const out: LsnRange[] = []
  for (let i = 0; i + 1 < points.length; i++) {
    const lo = points[i]!
    const hi = points[i + 1]!
    if (happened(hi, a) === happened(hi, b)) continue
    const last = out.at(-1)
    if (last !== undefined && last.hi === lo) last.hi = hi
    else out.push({ lo, hi })
  }
  return out
}

function printable(buffer: Buffer): string {
  const text = buffer.toString('utf8')
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i)
    if ((code < 0x20 && code !== 0x09 && code !== 0x0a && code !== 0x0d) || code === 0xfffd) {
      return `0x${buffer.toString('hex')}`
    }
  }
  return text
}

export function qualified(table: TableIncarnation): string {
  return `${table.database}.${table.name}`
}

/**
 * The page log of a local cluster, opened for reading. PageLog has no read-only mode: it is opened as the cluster
 * opens it, and only read (SQLite's WAL lets it read alongside the running capture).
 */
export class PageLogReader {
  readonly log: PageLog

  constructor(path: string) {
    this.log = new PageLog(path, { readonly: true })
  }

  close(): void {
    this.log.close()
  }

  /** A time as the user wrote it (ISO, marker, -90s) → microseconds. */
  async resolve(text: string): Promise<number> {
    const expression = asUsage(() => parseTimeExpression(text))
    const at = await asUsage(() =>
      resolveTimeExpression(expression, {
        now: async () => new Date(),
        marker: (name) => {
          const micros = this.log.marker(name)
          return micros === undefined ? undefined : new Date(Math.floor(micros / 1000))
        },
        markerNames: () => this.log.markers().map((marker) => marker.name),
      }),
    )
    // A named mark is exact to the microsecond; keep that precision.
    if (expression.kind === 'marker' && expression.offsetMs === 0) return this.log.marker(expression.name)!
    return at.getTime() * 1000
  }

  viewAtMicros(micros: number): View {
    return this.log.viewAt(this.log.lsnAt(micros))
  }

  /** Every transaction, oldest first (backtracks included). */
  transactions(fromMicros = 0, toMicros = Number.MAX_SAFE_INTEGER): TxnRecord[] {
    return this.log.txnsBetween(fromMicros, toMicros)
  }

  /** Names (db.table) of the tables a transaction wrote rows to, with how many row versions each. */
  tablesWrittenBy(txn: TxnRecord, incarnations: Map<number, TableIncarnation>): Map<string, number> {
    const result = new Map<string, number>()
    for (const [tbl, count] of this.log.tablesChangedIn([{ lo: txn.lsn - 1, hi: txn.lsn }])) {
      const table = incarnations.get(tbl)
      const name = table === undefined ? `table #${tbl}` : qualified(table)
      result.set(name, (result.get(name) ?? 0) + count)
    }
    return result
  }

  incarnationsById(): Map<number, TableIncarnation> {
    return new Map(this.log.incarnations().map((table) => [table.id, table]))
  }

  decode(table: TableIncarnation, image: Buffer): DecodedRow {
    const cells = readCells(image)
    const row: DecodedRow = {}
    table.schema.columns.forEach((column, i) => {
      const cell = cells[i]
      row[column.name] = cell === null || cell === undefined ? null : printable(cell)
    })
    return row
  }

  /** The table named `name` (`db.table`, or `table` in any database) alive at `micros`. */
  tableAt(name: string, micros: number): TableIncarnation | undefined {
    const view = this.viewAtMicros(micros)
    const [db, table] = name.includes('.') ? name.split('.', 2) : [undefined, name]
    return this.log.tablesIn(view).find((t) => t.name === table && (db === undefined || t.database === db))
  }

  /** Rows of a table as they were at `micros`. */
  *rowsAt(table: TableIncarnation, micros: number): Generator<DecodedRow> {
    for (const row of this.log.rowsIn(table.id, this.viewAtMicros(micros))) yield this.decode(table, row.image)
  }

  /** What differs between the states at two times, table by table. */
  diff(fromMicros: number, toMicros: number, options: { table?: string; limit: number }): TableDiff[] {
    const fromView = this.viewAtMicros(fromMicros)
    const toView = this.viewAtMicros(toMicros)
    const ranges = symmetricDifference(fromView, toView)
    const before = this.log.tablesIn(fromView)
    const after = this.log.tablesIn(toView)
    const byName = new Map<string, { before?: TableIncarnation; after?: TableIncarnation }>()
    for (const table of before) byName.set(qualified(table), { before: table })
    for (const table of after) byName.set(qualified(table), { ...byName.get(qualified(table)), after: table })
    const wanted = options.table
    const diffs: TableDiff[] = []
    for (const [name, pair] of [...byName].sort(([a], [b]) => a.localeCompare(b))) {
      if (wanted !== undefined && name !== wanted && name.split('.')[1] !== wanted) continue
      const diff: TableDiff = { table: name, change: 'rows', inserted: 0, updated: 0, deleted: 0, samples: [] }
      if (pair.before?.id !== pair.after?.id) {
        diff.change = pair.before === undefined ? 'created' : pair.after === undefined ? 'dropped' : 'recreated'
        if (pair.before !== undefined) diff.deleted = this.log.countRowsIn(pair.before.id, fromView)
        if (pair.after !== undefined) {
          diff.inserted = this.log.countRowsIn(pair.after.id, toView)
          for (const row of this.log.rowsIn(pair.after.id, toView)) {
            if (diff.samples.length >= options.limit) break
            diff.samples.push({ op: 'insert', after: this.decode(pair.after, row.image) })
          }
        }
        diffs.push(diff)
        continue
      }
      const table = pair.after!
      for (const key of this.log.changedKeys(table.id, ranges)) {
        const old = this.log.rowAt(table.id, key, fromView)
        const now = this.log.rowAt(table.id, key, toView)
        if (old === null && now === null) continue
        if (old !== null && now !== null && old.equals(now)) continue
        const op = old === null ? 'insert' : now === null ? 'delete' : 'update'
        if (op === 'insert') diff.inserted++
        else if (op === 'delete') diff.deleted++
        else diff.updated++
        if (diff.samples.length < options.limit) {
          diff.samples.push({
            op,
            ...(old === null ? {} : { before: this.decode(table, old) }),
            ...(now === null ? {} : { after: this.decode(table, now) }),
          })
        }
      }
      if (diff.inserted + diff.updated + diff.deleted > 0) diffs.push(diff)
    }
    return diffs
  }
}

export interface TableDiff {
  table: string
  /** `rows`: same table, rows changed; otherwise the table itself came or went. */
  change: 'rows' | 'created' | 'dropped' | 'recreated'
  inserted: number
  updated: number
  deleted: number
  samples: { op: 'insert' | 'update' | 'delete'; before?: DecodedRow; after?: DecodedRow }[]
}
