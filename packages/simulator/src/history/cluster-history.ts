// The read-only history of a local cluster: its page log as people ask about it (find, diff, show, the console).
import { existsSync } from 'node:fs'
import { BacktrackError, formatRdsTime, parseTimeExpression, resolveTimeExpression } from '@backtrack/core'
import { PageLog, type TableIncarnation, type TxnRecord } from '../page-log/page-log.js'
import { backtracksThrough, happened, symmetricDifference, type View } from '../page-log/view.js'
import { readCells } from '@backtrack/binlog'
import { DATA_DIR } from '../local-cluster/data-dir.js'

/** A row decoded into column name → text (null for SQL NULL; `0x…` for bytes that are not text). */
export type DecodedRow = Record<string, string | null>

/** What differs in one table between two states. */
export interface TableDiff {
  /** `db.table`. */
  table: string
  /** `rows`: same table, rows changed; otherwise the table itself came or went. */
  change: 'rows' | 'created' | 'dropped' | 'recreated'
  inserted: number
  updated: number
  deleted: number
  samples: { op: 'insert' | 'update' | 'delete'; before?: DecodedRow; after?: DecodedRow }[]
}

/** What `backtrack diff --json` prints. */
export interface HistoryDiff {
  from: string
  to: string
  /** DDL and backtracks committed between the two times. */
  ddl: { lsn: number; time: string; kind: string; sql: string | null }[]
  tables: TableDiff[]
}

/** A transaction matched by `find`, with the moment to rewind to in order to undo it. */
export interface HistoryMatch {
  lsn: number
  /** Commit time, to the microsecond. */
  time: string
  kind: string
  sql: string | null
  /** Tables it wrote rows to (`db.table` → row versions). */
  tables: Record<string, number>
  /** A later backtrack undid it: it is not part of the current state. */
  undone: boolean
  /** The last millisecond before it that no earlier transaction shares; null when there is none. */
  safeTo: string | null
  previous: { lsn: number; time: string } | null
}

export interface FindQuery {
  /** DDL statements containing this text (case, whitespace and backticks ignored). */
  ddl?: string
  /** Transactions that wrote this table (`table` or `db.table`), and DDL naming it. */
  table?: string
  /** Transactions whose SQL contains this text. */
  sql?: string
}

/** A DDL statement or a backtrack, as the timeline shows it. */
export interface HistoryEvent {
  lsn: number
  kind: 'ddl' | 'backtrack'
  micros: number
  /** Commit time, to the microsecond. */
  time: string
  sql: string | null
  undone: boolean
  safeTo: string | null
}

/** One backtrack request: an arc from where the cluster was to where it went. */
export interface BacktrackArc {
  id: string
  status: string
  /** BacktrackedFrom (the request time while it is pending). */
  fromMicros: number
  /** BacktrackTo. */
  toMicros: number
  requestedMicros: number
}

/** Everything the console's timeline draws. */
export interface Timeline {
  nowMicros: number
  /** EarliestBacktrackTime: the window's left edge. */
  earliestMicros: number
  /** Target window in seconds (0: backtracking disabled). */
  windowSeconds: number
  changeRecords: number
  /** Length of one rate interval. */
  intervalMicros: number
  /** [start of the interval (µs), change records created per second in it]; intervals without any are left out. */
  rate: [number, number][]
  events: HistoryEvent[]
  marks: { name: string; micros: number }[]
  backtracks: BacktrackArc[]
}

/** What a backtrack to a time would do to the current state. */
export interface BacktrackPreview {
  /** The time rewound to. */
  to: string
  /** The current state's newest commit (or now). */
  from: string
  /** DDL a backtrack would undo (it is in the current state, not in the target's) or bring back (the reverse). */
  ddl: (HistoryEvent & { effect: 'undone' | 'redone' })[]
  /** What changed from the target state to the current one, table by table: what the backtrack reverses. */
  tables: TableDiff[]
}

/** Where a local cluster's page log lives inside its data dir. */
export function pageLogFile(dataDir: string): string {
  return DATA_DIR.pageLogFile(dataDir)
}

/** A local cluster's history, opened read-only from its data dir (the cluster may be running or stopped). */
export function openClusterHistory(dataDir: string): ClusterHistory {
  const path = pageLogFile(dataDir)
  if (!existsSync(path)) {
    throw new BacktrackError(
      'DBClusterNotFoundFault',
      `no page log in ${dataDir}: start a cluster with \`backtrack up --data-dir ${dataDir}\`, or pass the --data-dir of yours`,
    )
  }
  return new ClusterHistory(new PageLog(path, { readonly: true }))
}

/** Microseconds → RDS time, to the millisecond. */
export function timeOfMicros(micros: number): string {
  return formatRdsTime(new Date(Math.floor(micros / 1000)))
}

/** A commit time with its microseconds, so it reads apart from the millisecond before it. */
function commitTimeOf(micros: number): string {
  const iso = new Date(Math.floor(micros / 1000)).toISOString()
  return `${iso.slice(0, -1)}${String(micros % 1000).padStart(3, '0')}Z`
}

export function qualified(table: TableIncarnation): string {
  return `${table.database}.${table.name}`
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

const normalize = (text: string) =>
  text.toLowerCase().replaceAll('`', '').replace(/\s+/g, ' ').replace(/;\s*$/, '').trim()

/** The last millisecond before `txn` that `previous` does not share (null: none, they commit in one millisecond). */
function safeMomentBefore(txn: TxnRecord, previous: TxnRecord | undefined): string | null {
  const safeMs = Math.floor((txn.commitMicros - 1) / 1000)
  return previous === undefined || safeMs * 1000 >= previous.commitMicros ? timeOfMicros(safeMs * 1000) : null
}

/** A preview in words, one line each, as `backtrack to --dry-run` prints it and the console shows it. */
export function previewLines(preview: BacktrackPreview): string[] {
  const lines: string[] = []
  for (const event of preview.ddl) {
    lines.push(
      event.effect === 'undone'
        ? `undoes ${oneLine(event.sql)} (${event.time})`
        : `redoes ${oneLine(event.sql)} (${event.time}; a later backtrack had undone it)`,
    )
  }
  for (const table of preview.tables) {
    switch (table.change) {
      case 'created':
        lines.push(`${table.table}: dropped (it did not exist then; ${table.inserted} rows now)`)
        break
      case 'dropped':
        lines.push(`${table.table}: comes back (${table.deleted} rows)`)
        break
      case 'recreated':
        lines.push(
          `${table.table}: replaced by the table as it was then (${table.deleted} rows; ${table.inserted} now)`,
        )
        break
      case 'rows':
        lines.push(
          `${table.table}: undoes ${table.inserted} inserted, ${table.updated} updated and ${table.deleted} deleted rows`,
        )
    }
  }
  if (lines.length === 0) lines.push(`nothing: the current state is the state at ${preview.to}`)
  return lines
}

const oneLine = (sql: string | null) => (sql ?? '(no statement text)').replace(/\s+/g, ' ').slice(0, 160)

const RATE_INTERVALS_S = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 21600, 43200]
const RATE_POINTS = 240

/**
 * A local cluster's history, read from its page log without changing anything: times and markers, transactions,
 * DDL, what differs between two times, a table's rows as of a time, what a backtrack would undo, and the
 * console's timeline. It reads alongside a running cluster (SQLite WAL); `refresh()` catches up with new commits.
 *
 * @example
 * using history = openClusterHistory('/home/me/.backtrack/labstack-cluster')
 * const at = await history.resolve('before-drop')
 * history.diff(at) // what changed since then
 */
export class ClusterHistory implements Disposable {
  readonly #log: PageLog
  /**
   * Row versions per rate interval counted so far. Commit times grow with the LSN, so what the log gains later lies
   * in the interval of its newest commit or after it: a console polling every few seconds re-counts only that.
   */
  #rate: { start: number; interval: number; from: number; versions: Map<number, number> } | undefined

  /** Reads `log` (opened by the caller, read-only or not; `close()` closes it). */
  constructor(log: PageLog) {
    this.#log = log
  }

  /** Catches up with what the cluster committed since the history was opened or last refreshed. */
  refresh(): void {
    this.#log.refresh()
  }

  close(): void {
    this.#log.close()
  }

  [Symbol.dispose](): void {
    this.close()
  }

  /**
   * A time as people write it (ISO-8601, a marker name with an optional offset, `-90s`) → microseconds. A bare
   * marker keeps its exact microseconds. Relative times count from `now` (default the system clock).
   */
  async resolve(text: string, options: { now?: () => Promise<Date> } = {}): Promise<number> {
    const expression = parseTimeExpression(text)
    const at = await resolveTimeExpression(expression, {
      now: options.now ?? (async () => new Date()),
      marker: (name) => {
        const micros = this.#log.marker(name)
        return micros === undefined ? undefined : new Date(Math.floor(micros / 1000))
      },
      markerNames: () => this.#log.markers().map((marker) => marker.name),
    })
    if (expression.kind === 'marker' && expression.offsetMs === 0) return this.#log.marker(expression.name)!
    return at.getTime() * 1000
  }

  /** Named marks, oldest first. */
  marks(): { name: string; micros: number }[] {
    return this.#log.markers()
  }

  /** EarliestBacktrackTime as the engine computes it: the oldest transaction kept, never before the cluster's creation. */
  earliestMicros(nowMicros = Date.now() * 1000): number {
    return Math.max(this.#log.earliestMicros() ?? nowMicros, Number(this.#log.getMeta('created_us') ?? 0))
  }

  /** Every transaction in (from, to], oldest first (backtracks and the base image included). */
  transactions(fromMicros = 0, toMicros = Number.MAX_SAFE_INTEGER): TxnRecord[] {
    return this.#log.txnsBetween(fromMicros, toMicros)
  }

  /** DDL statements and backtracks in (from, to], oldest first, as the timeline marks them. */
  events(fromMicros = 0, toMicros = Number.MAX_SAFE_INTEGER): HistoryEvent[] {
    const head = this.#head()
    return this.#log.eventTxns(fromMicros, toMicros).map((txn) => this.#event(txn, head))
  }

  /** The current state's view, and the backtracks it reads through (a backtrack's own LSN lies in no range). */
  #head(): { view: View; backtracks: Set<number> } {
    return {
      view: this.#log.headView(),
      backtracks: new Set(backtracksThrough(this.#log.lastLsn, this.#log.backtrackEvents).map((event) => event.lsn)),
    }
  }

  #event(txn: TxnRecord, head: { view: View; backtracks: Set<number> }): HistoryEvent {
    const before = this.#log.txnBefore(txn.lsn)
    return {
      lsn: txn.lsn,
      kind: txn.kind as 'ddl' | 'backtrack',
      micros: txn.commitMicros,
      time: commitTimeOf(txn.commitMicros),
      sql: txn.sql,
      undone: txn.kind === 'backtrack' ? !head.backtracks.has(txn.lsn) : !happened(txn.lsn, head.view),
      safeTo: safeMomentBefore(txn, before?.kind === 'base' ? undefined : before),
    }
  }

  /** Transactions matching every filter given, oldest first, each with the moment that undoes it. */
  find(query: FindQuery): HistoryMatch[] {
    const txns = this.#log.txnsBetween(0, Number.MAX_SAFE_INTEGER).filter((txn) => txn.kind !== 'base')
    const incarnations = new Map(this.#log.incarnations().map((table) => [table.id, table]))
    const head = this.#log.headView()
    const tableName = query.table?.replaceAll('`', '')
    const tablePattern =
      tableName === undefined
        ? undefined
        : new RegExp(
            `(^|[\\s.,(])${tableName
              .split('.')
              .pop()!
              .replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}($|[\\s,;(])`,
            'i',
          )
    const matches: HistoryMatch[] = []
    let previous: TxnRecord | undefined
    for (const txn of txns) {
      const before = previous
      previous = txn
      if (txn.kind === 'backtrack') continue
      const sql = txn.sql === null ? '' : normalize(txn.sql)
      if (query.ddl !== undefined && (txn.kind !== 'ddl' || !sql.includes(normalize(query.ddl)))) continue
      if (query.sql !== undefined && !sql.includes(normalize(query.sql))) continue
      const written = this.#tablesWrittenBy(txn, incarnations)
      if (tableName !== undefined) {
        const wrote = [...written.keys()].some((name) => name === tableName || name.split('.')[1] === tableName)
        const ddlOnIt = txn.kind === 'ddl' && tablePattern!.test(` ${(txn.sql ?? '').replaceAll('`', '')} `)
        if (!wrote && !ddlOnIt) continue
      }
      matches.push({
        lsn: txn.lsn,
        time: commitTimeOf(txn.commitMicros),
        kind: txn.kind,
        sql: txn.sql,
        tables: Object.fromEntries(written),
        undone: !happened(txn.lsn, head),
        safeTo: safeMomentBefore(txn, before),
        previous: before === undefined ? null : { lsn: before.lsn, time: commitTimeOf(before.commitMicros) },
      })
    }
    return matches
  }

  /** Names (db.table) of the tables a transaction wrote rows to, with how many row versions each. */
  #tablesWrittenBy(txn: TxnRecord, incarnations: Map<number, TableIncarnation>): Map<string, number> {
    const result = new Map<string, number>()
    for (const [tbl, count] of this.#log.tablesChangedIn([{ lo: txn.lsn - 1, hi: txn.lsn }])) {
      const table = incarnations.get(tbl)
      const name = table === undefined ? `table #${tbl}` : qualified(table)
      result.set(name, (result.get(name) ?? 0) + count)
    }
    return result
  }

  #viewAt(micros: number): View {
    return this.#log.viewAt(this.#log.lsnAt(micros))
  }

  /** Tables (db.table) that existed at `micros`. */
  tablesAt(micros: number): string[] {
    return this.#log.tablesIn(this.#viewAt(micros)).map(qualified)
  }

  /** The table named `name` (`db.table`, or `table` in any database) alive at `micros`. */
  tableAt(name: string, micros: number): TableIncarnation | undefined {
    const [db, table] = name.includes('.') ? name.split('.', 2) : [undefined, name]
    return this.#log
      .tablesIn(this.#viewAt(micros))
      .find((t) => t.name === table && (db === undefined || t.database === db))
  }

  /** Rows of a table as they were at `micros`, in key order. */
  *rowsAt(table: TableIncarnation, micros: number): Generator<DecodedRow> {
    for (const row of this.#log.rowsIn(table.id, this.#viewAt(micros))) yield this.#decode(table, row.image)
  }

  #decode(table: TableIncarnation, image: Buffer): DecodedRow {
    const cells = readCells(image)
    const row: DecodedRow = {}
    table.schema.columns.forEach((column, i) => {
      const cell = cells[i]
      row[column.name] = cell === null || cell === undefined ? null : printable(cell)
    })
    return row
  }

  /** What changed from the state at `from` to the state at `to` (default now): DDL in between and rows per table. */
  diff(
    fromMicros: number,
    toMicros = Date.now() * 1000,
    options: { table?: string; limit?: number } = {},
  ): HistoryDiff {
    const ddl = this.#log
      .txnsBetween(fromMicros, toMicros)
      .filter((txn) => txn.kind === 'ddl' || txn.kind === 'backtrack')
      .map((txn) => ({ lsn: txn.lsn, time: timeOfMicros(txn.commitMicros), kind: txn.kind, sql: txn.sql }))
    return {
      from: timeOfMicros(fromMicros),
      to: timeOfMicros(toMicros),
      ddl,
      tables: this.#tableDiffs(this.#viewAt(fromMicros), this.#viewAt(toMicros), options),
    }
  }

  /**
   * What a backtrack to `toMicros` would do to the current state: the DDL it undoes or brings back, and, table by
   * table, what changed from that state to the current one (which the backtrack reverses). `backtrack to --dry-run`
   * and the console show it.
   */
  preview(
    toMicros: number,
    options: { limit?: number; useEarliest?: boolean; nowMicros?: number } = {},
  ): BacktrackPreview {
    // The engine's checks, so a preview never shows a backtrack that would be refused.
    const now = Math.max(options.nowMicros ?? Date.now() * 1000, this.#log.lastCommitMicros)
    if (toMicros > now) {
      throw new BacktrackError(
        'InvalidParameterValue',
        `The BacktrackTo time ${timeOfMicros(toMicros)} is in the future (now is ${timeOfMicros(now)}). Pick a time in the past.`,
      )
    }
    const earliest = this.earliestMicros(now)
    if (toMicros < earliest) {
      if (options.useEarliest !== true) {
        throw new BacktrackError(
          'InvalidParameterValue',
          `The BacktrackTo time ${timeOfMicros(toMicros)} is before the earliest backtrack time ${timeOfMicros(earliest)}. ` +
            'Pick a later time, or pass UseEarliestTimeOnPointInTimeUnavailable to backtrack to the earliest time.',
        )
      }
      toMicros = earliest
    }
    const head = this.#head()
    const target = this.#viewAt(toMicros)
    const differing = symmetricDifference(target, head.view)
    const ddl = this.#log
      .eventTxns()
      .filter((txn) => txn.kind === 'ddl' && happened(txn.lsn, differing))
      .map((txn) => ({
        ...this.#event(txn, head),
        effect: happened(txn.lsn, head.view) ? ('undone' as const) : ('redone' as const),
      }))
    return {
      to: timeOfMicros(toMicros),
      from: timeOfMicros(now),
      ddl,
      tables: this.#tableDiffs(target, head.view, options),
    }
  }

  #tableDiffs(fromView: View, toView: View, options: { table?: string; limit?: number }): TableDiff[] {
    const limit = options.limit ?? 5
    const ranges = symmetricDifference(fromView, toView)
    const before = this.#log.tablesIn(fromView)
    const after = this.#log.tablesIn(toView)
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
        if (pair.before !== undefined) diff.deleted = this.#log.countRowsIn(pair.before.id, fromView)
        if (pair.after !== undefined) {
          diff.inserted = this.#log.countRowsIn(pair.after.id, toView)
          for (const row of this.#log.rowsIn(pair.after.id, toView)) {
            if (diff.samples.length >= limit) break
            diff.samples.push({ op: 'insert', after: this.#decode(pair.after, row.image) })
          }
        }
        diffs.push(diff)
        continue
      }
      const table = pair.after!
      for (const key of this.#log.changedKeys(table.id, ranges)) {
        const old = this.#log.rowAt(table.id, key, fromView)
        const now = this.#log.rowAt(table.id, key, toView)
        if (old === null && now === null) continue
        if (old !== null && now !== null && old.equals(now)) continue
        const op = old === null ? 'insert' : now === null ? 'delete' : 'update'
        if (op === 'insert') diff.inserted++
        else if (op === 'delete') diff.deleted++
        else diff.updated++
        if (diff.samples.length < limit) {
          diff.samples.push({
            op,
            ...(old === null ? {} : { before: this.#decode(table, old) }),
            ...(now === null ? {} : { after: this.#decode(table, now) }),
          })
        }
      }
      if (diff.inserted + diff.updated + diff.deleted > 0) diffs.push(diff)
    }
    return diffs
  }

  /**
   * The console's timeline from the window's left edge to now: the change-record rate, DDL, named marks and every
   * backtrack request (an arc from where it came from to where it went).
   */
  timeline(nowMicros = Date.now() * 1000): Timeline {
    const now = Math.max(nowMicros, this.#log.lastCommitMicros)
    const earliest = Math.min(this.earliestMicros(now), now)
    const spanSeconds = Math.max(1, (now - earliest) / 1e6)
    const intervalSeconds =
      RATE_INTERVALS_S.find((seconds) => spanSeconds / seconds <= RATE_POINTS) ?? RATE_INTERVALS_S.at(-1)!
    const interval = intervalSeconds * 1e6
    // Intervals are aligned to whole multiples of their length, so they stay put while the timeline grows.
    const start = Math.floor(earliest / interval) * interval
    if (this.#rate === undefined || this.#rate.start !== start || this.#rate.interval !== interval) {
      this.#rate = { start, interval, from: start, versions: new Map() }
    }
    const counted = this.#rate
    for (const [slot, versions] of this.#log.changesPerInterval(counted.from, now, interval)) {
      counted.versions.set(counted.from + slot * interval, versions)
    }
    counted.from = start + Math.floor((this.#log.lastCommitMicros - start) / interval) * interval
    const rate = [...counted.versions]
      .filter(([at]) => at <= now)
      .map(([at, versions]): [number, number] => [at, versions / intervalSeconds])
    const backtracks: BacktrackArc[] = (this.#log.backtrackRequests() as Record<string, unknown>[]).map((record) => {
      const micros = (value: unknown) => new Date(value as string).getTime() * 1000
      const requested = micros(record['BacktrackRequestCreationTime'])
      return {
        id: String(record['BacktrackIdentifier']),
        status: String(record['Status']),
        fromMicros: record['BacktrackedFrom'] === undefined ? requested : micros(record['BacktrackedFrom']),
        toMicros: micros(record['BacktrackTo']),
        requestedMicros: requested,
      }
    })
    return {
      nowMicros: now,
      earliestMicros: earliest,
      windowSeconds: Number(this.#log.getMeta('backtrack_window') ?? 0),
      changeRecords: this.#log.changeRecords,
      intervalMicros: interval,
      rate,
      events: this.events(),
      marks: this.marks(),
      backtracks: backtracks.reverse(),
    }
  }
}
