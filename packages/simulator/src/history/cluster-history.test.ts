import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { BacktrackError } from '@backtrack/core'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { PageLog, type TableSchema } from '../page-log/page-log.js'
import { encodeCells } from '@backtrack/binlog'
import { tempDir } from '@backtrack/mysql-server/testing'
import { openClusterHistory, pageLogFile, previewLines, type ClusterHistory } from './cluster-history.js'

const schema: TableSchema = {
  createSql: 'CREATE TABLE `t` (`id` int NOT NULL, `v` varchar(10), PRIMARY KEY (`id`))',
  columns: [
    { name: 'id', kind: 'number', generated: false, dataType: 'int' },
    { name: 'v', kind: 'string', generated: false, dataType: 'varchar' },
  ],
  keyColumns: [0],
  foreignKeys: [],
}
const key = (id: number) => encodeCells([Buffer.from(String(id))])
const row = (id: number, v: string) => encodeCells([Buffer.from(String(id)), Buffer.from(v)])
const s = (seconds: number) => Math.round(seconds * 1e6)
const iso = (seconds: number) => new Date(seconds * 1000).toISOString().replace('.000Z', 'Z')

/**
 * A history written the way the capture writes it: base at 1 s; rows 1..4 inserted at 2..5 s; mark `before` at
 * 5.5 s; DROP TABLE t at 6 s; CREATE TABLE t at 7 s with rows 10, 11 at 8.4 s; at 9 s a backtrack to 5.5 s.
 */
function writeHistory(log: PageLog): void {
  const txn = (lsn: number, seconds: number, kind: 'base' | 'dml' | 'ddl' | 'backtrack', sql: string | null) =>
    log.putTxn({ lsn, commitMicros: s(seconds), kind, gtid: null, sql, changes: 0 })
  log.setMeta('created_us', String(s(0.5)))
  log.setMeta('backtrack_window', '86400')
  log.begin()
  const base = log.nextLsn()
  log.createDatabase('db', base, 'CREATE DATABASE db')
  const first = log.createTable('db', 't', schema, base)
  txn(base, 1, 'base', null)
  for (let id = 1; id <= 4; id++) {
    const lsn = log.nextLsn()
    log.putRow(first, key(id), lsn, row(id, `v${id}`))
    log.putTxn({ lsn, commitMicros: s(id + 1), kind: 'dml', gtid: null, sql: null, changes: 1 })
  }
  log.addMarker('before', s(5.5))
  const drop = log.nextLsn()
  log.dropTable(first, drop)
  txn(drop, 6, 'ddl', 'DROP TABLE `t`')
  const create = log.nextLsn()
  const second = log.createTable('db', 't', schema, create)
  txn(create, 7, 'ddl', 'CREATE TABLE `t` (`id` int NOT NULL, `v` varchar(10), PRIMARY KEY (`id`))')
  const refill = log.nextLsn()
  log.putRow(second, key(10), refill, row(10, 'new'))
  log.putRow(second, key(11), refill, row(11, 'new'))
  log.putTxn({ lsn: refill, commitMicros: s(8.4), kind: 'dml', gtid: null, sql: null, changes: 2 })
  const backtrack = log.nextLsn()
  log.putTxn({
    lsn: backtrack,
    commitMicros: s(9),
    kind: 'backtrack',
    gtid: null,
    sql: 'BACKTRACK TO ...',
    changes: 0,
    targetLsn: log.lsnAt(s(5.5)),
  })
  log.putBacktrackRequest('b-1', s(8.9), {
    BacktrackIdentifier: 'b-1',
    BacktrackTo: iso(5.5),
    BacktrackedFrom: iso(8.95),
    BacktrackRequestCreationTime: iso(8.9),
    Status: 'completed',
  })
  log.flush()
}

describe('ClusterHistory', () => {
  let dir: ReturnType<typeof tempDir>
  let writer: PageLog
  let history: ClusterHistory

  beforeEach(() => {
    dir = tempDir('cluster-history-')
    mkdirSync(join(dir.path, 'cluster'))
    writer = new PageLog(pageLogFile(dir.path))
    writeHistory(writer)
    history = openClusterHistory(dir.path)
  })
  afterEach(() => {
    history.close()
    writer.close()
    dir[Symbol.dispose]()
  })

  it('refuses a data dir without a page log, naming the fix', () => {
    using empty = tempDir('cluster-history-empty-')
    expect(() => openClusterHistory(empty.path)).toThrow(/no page log in .*backtrack up --data-dir/)
  })

  it('resolves markers exactly and finds the DROP with the last safe moment before it', async () => {
    expect(await history.resolve('before')).toBe(s(5.5))
    expect(await history.resolve('before + 1s')).toBe(s(6.5))
    await expect(history.resolve('nope')).rejects.toThrow(/Unknown marker "nope". Known markers: before/)
    const [drop, ...others] = history.find({ ddl: 'drop table t' })
    expect(others).toEqual([])
    expect(drop).toMatchObject({ kind: 'ddl', undone: true, safeTo: '1970-01-01T00:00:05.999Z' })
    expect(history.find({ table: 'db.t' }).map((match) => match.lsn)).toHaveLength(7) // 4 inserts, drop, create, refill
  })

  it('diffs two times and reads rows as of a time', () => {
    const diff = history.diff(s(2.5), s(4.5), { limit: 1 })
    expect(diff.tables).toEqual([
      { table: 'db.t', change: 'rows', inserted: 2, updated: 0, deleted: 0, samples: [expect.any(Object)] },
    ])
    const t = history.tableAt('t', s(3.5))!
    expect([...history.rowsAt(t, s(3.5))]).toEqual([
      { id: '1', v: 'v1' },
      { id: '2', v: 'v2' },
    ])
    expect(history.tablesAt(s(6.5))).toEqual([])
  })

  it('previews a backtrack through the earlier one: the DROP it redoes and the table it drops', () => {
    // Now the state is the one at 5.5 s (t with rows 1..4); at 6.5 s t did not exist.
    const preview = history.preview(s(6.5), { nowMicros: s(10) })
    expect(preview.ddl).toEqual([expect.objectContaining({ sql: 'DROP TABLE `t`', effect: 'redone' })])
    expect(preview.tables).toEqual([expect.objectContaining({ table: 'db.t', change: 'created', inserted: 4 })])
    expect(previewLines(preview)).toEqual([
      'redoes DROP TABLE `t` (1970-01-01T00:00:06.000000Z; a later backtrack had undone it)',
      'db.t: dropped (it did not exist then; 4 rows now)',
    ])
    // The re-created table (7..8 s) was undone by the backtrack: going to 8.5 s brings it back instead.
    const later = history.preview(s(8.5), { nowMicros: s(10) })
    expect(later.tables).toEqual([
      expect.objectContaining({ table: 'db.t', change: 'recreated', deleted: 2, inserted: 4 }),
    ])
    expect(previewLines(history.preview(s(3.5), { nowMicros: s(10) }))).toEqual([
      'db.t: undoes 2 inserted, 0 updated and 0 deleted rows',
    ])
  })

  it('refuses previews the engine would refuse', () => {
    expect(() => history.preview(s(11), { nowMicros: s(10) })).toThrow(/is in the future/)
    const early = () => history.preview(s(0.2), { nowMicros: s(10) })
    expect(early).toThrow(BacktrackError)
    expect(early).toThrow(/before the earliest backtrack time 1970-01-01T00:00:01Z/)
    expect(history.preview(s(0.2), { nowMicros: s(10), useEarliest: true }).to).toBe('1970-01-01T00:00:01Z')
  })

  it('draws the timeline: rate, DDL, marks, backtrack arcs and the window edge', () => {
    const timeline = history.timeline(s(10))
    expect(timeline).toMatchObject({ nowMicros: s(10), earliestMicros: s(1), windowSeconds: 86400 })
    expect(timeline.intervalMicros).toBe(s(1))
    expect(timeline.rate).toEqual([
      [s(2), 1],
      [s(3), 1],
      [s(4), 1],
      [s(5), 1],
      [s(8), 2],
    ])
    expect(timeline.events.map((event) => [event.kind, event.sql, event.undone])).toEqual([
      ['ddl', 'DROP TABLE `t`', true],
      ['ddl', expect.stringMatching(/^CREATE TABLE `t`/), true],
      ['backtrack', 'BACKTRACK TO ...', false],
    ])
    expect(timeline.marks).toEqual([{ name: 'before', micros: s(5.5) }])
    expect(timeline.backtracks).toEqual([
      { id: 'b-1', status: 'completed', fromMicros: s(8.95), toMicros: s(5.5), requestedMicros: s(8.9) },
    ])
  })

  it('catches up with what the cluster commits after it was opened', () => {
    const before = history.timeline(s(10))
    const lsn = writer.nextLsn()
    writer.begin()
    writer.putTxn({ lsn, commitMicros: s(9.5), kind: 'ddl', gtid: null, sql: 'DROP TABLE `t`', changes: 0 })
    writer.flush()
    expect(history.events().length).toBe(4) // new rows are read at once
    expect(history.timeline(s(10)).events.at(-1)!.undone).toBe(true) // but the head view is the old one
    history.refresh()
    expect(history.timeline(s(10)).events.at(-1)!.undone).toBe(false)

    // The rate counted so far is kept; later commits are added to it, in their interval or after it.
    for (const [seconds, changes] of [
      [9.7, 3],
      [10.2, 5],
    ] as const) {
      const next = writer.nextLsn()
      writer.begin()
      writer.putTxn({ lsn: next, commitMicros: s(seconds), kind: 'dml', gtid: null, sql: null, changes })
      writer.flush()
      history.refresh()
      history.timeline(s(10.5))
    }
    const grown = history.timeline(s(10.5))
    expect(grown.rate).toEqual([...before.rate, [s(9), 3], [s(10), 5]])
    using fresh = openClusterHistory(dir.path)
    expect(fresh.timeline(s(10.5)).rate).toEqual(grown.rate)
  })
})
