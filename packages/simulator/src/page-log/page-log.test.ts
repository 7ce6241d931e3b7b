import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { encodeCells, readCells } from '@backtrack/binlog'
import { PageLog, type TableSchema } from './page-log.js'
import { symmetricDifference } from './view.js'

const schema: TableSchema = {
  createSql: 'CREATE TABLE `t` (`id` int NOT NULL, `v` int, PRIMARY KEY (`id`))',
  columns: [
    { name: 'id', kind: 'number', generated: false, dataType: 'int' },
    { name: 'v', kind: 'number', generated: false, dataType: 'int' },
  ],
  keyColumns: [0],
  foreignKeys: [],
}
const key = (id: number) => encodeCells([Buffer.from(String(id))])
const row = (id: number, v: number) => encodeCells([Buffer.from(String(id)), Buffer.from(String(v))])
const valueOf = (image: Buffer | null) => (image === null ? null : Number(readCells(image)[1]!.toString()))

describe('PageLog', () => {
  let dir: string
  let log: PageLog
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'page-log-'))
    log = new PageLog(join(dir, 'log.sqlite'))
  })
  afterEach(() => {
    log.close()
    rmSync(dir, { recursive: true, force: true })
  })

  /** One transaction per id: row id gets value id, committed at second `id`. */
  function writeSeries(tbl: number, from: number, to: number, secondsOffset = 0) {
    for (let i = from; i <= to; i++) {
      log.begin()
      const lsn = log.nextLsn()
      log.putRow(tbl, key(i), lsn, row(i, i))
      log.putTxn({ lsn, commitMicros: (i + secondsOffset) * 1e6, kind: 'dml', gtid: null, sql: null, changes: 1 })
      log.flush({ binlog_pos: String(i) })
    }
  }

  it('reads each key as of any time, and resolves times like Neon', () => {
    const base = log.nextLsn()
    log.begin()
    log.createDatabase('db', base, 'CREATE DATABASE db')
    const tbl = log.createTable('db', 't', schema, base)
    log.putTxn({ lsn: base, commitMicros: 0.5e6, kind: 'base', gtid: null, sql: null, changes: 0 })
    log.flush()
    writeSeries(tbl, 1, 50)
    for (const i of [1, 10, 50]) {
      const view = log.viewAt(log.lsnAt(i * 1e6 + 999))
      expect([...log.rowsIn(tbl, view)].length).toBe(i)
      expect(valueOf(log.rowAt(tbl, key(i), view))).toBe(i)
      expect(log.rowAt(tbl, key(i + 1), view)).toBe(null)
    }
    expect(log.resolveTime(0.1e6, 100e6).kind).toBe('past')
    expect(log.resolveTime(101e6, 100e6).kind).toBe('future')
    expect(log.resolveTime(10.5e6, 100e6)).toEqual({ kind: 'present', lsn: log.lsnAt(10.5e6) })
    expect(log.getMeta('binlog_pos')).toBe('50')
  })

  it('hands a table scan over in batches of images laid end to end: every newest row, byte for byte, in key order', () => {
    // Binary cells (NUL, invalid UTF-8, a large one) must survive group_concat; deletions and superseded versions
    // must not show; enough rows for several batches of different sizes.
    const image = (id: number, version: number) =>
      encodeCells([
        Buffer.from(String(id)),
        id % 7 === 0 ? null : Buffer.from([0, 0xff, 0xc3, version, id & 0xff, 0x0a]),
        id === 150 ? Buffer.alloc(3 * 1024 * 1024, id & 0xff) : Buffer.from(`v${version}`),
      ])
    log.begin()
    const first = log.nextLsn()
    for (let id = 1; id <= 3000; id++) log.putRow(1, key(id), first, image(id, 1))
    log.putTxn({ lsn: first, commitMicros: 1e6, kind: 'dml', gtid: null, sql: null, changes: 3000 })
    const second = log.nextLsn()
    for (let id = 2; id <= 3000; id += 3) log.putRow(1, key(id), second, id % 2 === 0 ? null : image(id, 2))
    log.putTxn({ lsn: second, commitMicros: 2e6, kind: 'dml', gtid: null, sql: null, changes: 1000 })
    log.flush()
    const hex = (images: Buffer[]) => images.map((image) => image.toString('hex'))
    for (const view of [log.viewAt(first), log.headView()]) {
      const expected = [...log.rowsIn(1, view)].map((row) => row.image)
      const large = expected.filter((image) => image.length > 1024 * 1024)
      const batches = [...log.imageBatchesIn(1, view)]
      expect(batches.length).toBeGreaterThan(2)
      // A large image comes on its own, after the smaller ones of its batch: no batch is much larger than 512 KiB.
      expect(batches.every(({ images, ends }) => ends.length === 1 || images.length <= 2 * 1024 * 1024)).toBe(true)
      const images = batches.flatMap(({ images, ends }) =>
        [...ends].map((end, i) => Buffer.from(images.subarray(i === 0 ? 0 : ends[i - 1], end))),
      )
      expect(hex(images.filter((image) => image.length <= 1024 * 1024))).toEqual(
        hex(expected.filter((image) => image.length <= 1024 * 1024)),
      )
      expect(hex(images.filter((image) => image.length > 1024 * 1024))).toEqual(hex(large))
      expect(hex([...log.imagesIn(1, view)].map((row) => row.image)).sort()).toEqual(hex(expected).sort())
    }
    expect([...log.imagesIn(1, log.viewAt(first))].length).toBe(3000)
  })

  it('rejects commit times that do not increase', () => {
    writeSeries(1, 1, 2)
    const lsn = log.nextLsn()
    expect(() => log.putTxn({ lsn, commitMicros: 2e6, kind: 'dml', gtid: null, sql: null, changes: 0 })).toThrow(
      /must increase/,
    )
  })

  it('reads through a recorded backtrack without copying rows (Neon oracle, back and forth)', () => {
    writeSeries(1, 1, 20)
    const recordsBefore = log.changeRecords
    // At second 21 the state became the state at second 5.
    const lsn = log.nextLsn()
    log.putTxn({
      lsn,
      commitMicros: 21e6,
      kind: 'backtrack',
      gtid: null,
      sql: null,
      changes: 0,
      targetLsn: log.lsnAt(5e6),
    })
    writeSeries(1, 100, 102, -78) // ids 100..102 at seconds 22..24
    expect(log.changeRecords).toBe(recordsBefore + 3)
    const head = log.headView()
    const ids = [...log.rowsIn(1, head)].map((version) => Number(readCells(version.key)[0]!.toString()))
    expect(ids.sort((a, b) => a - b)).toEqual([1, 2, 3, 4, 5, 100, 101, 102])
    // What the cluster held at second 12 is still there.
    expect([...log.rowsIn(1, log.viewAt(log.lsnAt(12e6)))].length).toBe(12)
    // Going from head to second 12 only touches keys changed in the two views' difference.
    const diff = symmetricDifference(head, log.viewAt(log.lsnAt(12e6)))
    const changed = [...log.changedKeys(1, diff)].map((k) => Number(readCells(k)[0]!.toString()))
    expect(changed.sort((a, b) => a - b)).toEqual([6, 7, 8, 9, 10, 11, 12, 100, 101, 102])
  })

  it('prunes history older than the window but keeps every key readable from the window start on', () => {
    writeSeries(1, 1, 10)
    // Overwrite keys 1..3 at seconds 11..13.
    for (let i = 1; i <= 3; i++) {
      log.begin()
      const lsn = log.nextLsn()
      log.putRow(1, key(i), lsn, i === 3 ? null : row(i, i * 100))
      log.putTxn({ lsn, commitMicros: (10 + i) * 1e6, kind: 'dml', gtid: null, sql: null, changes: 1 })
      log.flush()
    }
    const before = [...log.rowsIn(1, log.headView())].map((v) => valueOf(v.image))
    const atTwelve = [...log.rowsIn(1, log.viewAt(log.lsnAt(12e6)))].map((v) => valueOf(v.image))
    const removed = log.prune(12e6)
    expect(removed).toBeGreaterThan(0)
    expect([...log.rowsIn(1, log.headView())].map((v) => valueOf(v.image))).toEqual(before)
    expect([...log.rowsIn(1, log.viewAt(log.lsnAt(12e6)))].map((v) => valueOf(v.image))).toEqual(atTwelve)
    expect(log.earliestMicros()).toBe(12e6)
    expect(log.changeRecords).toBe(13 - removed)
  })

  it('lists the keys changed between two views with their image in the target, in key order', () => {
    writeSeries(1, 1, 12)
    const target = log.lastLsn
    // After the target: 3 and 11 updated (11 twice), 5 deleted, 20 and 13 inserted, 13 then deleted again.
    log.begin()
    const lsn = log.nextLsn()
    log.putRow(1, key(11), lsn, row(11, 110))
    log.putRow(1, key(3), lsn, row(3, 30))
    log.putRow(1, key(5), lsn, null)
    log.putRow(1, key(20), lsn, row(20, 20))
    log.putRow(1, key(13), lsn, row(13, 13))
    log.putTxn({ lsn, commitMicros: 100e6, kind: 'dml', gtid: null, sql: null, changes: 5 })
    const later = log.nextLsn()
    log.putRow(1, key(11), later, row(11, 111))
    log.putRow(1, key(13), later, null)
    log.putTxn({ lsn: later, commitMicros: 101e6, kind: 'dml', gtid: null, sql: null, changes: 2 })
    log.flush()
    const head = log.headView()
    const back = log.viewAt(target)
    const diff = symmetricDifference(head, back)
    const changed = (to: typeof back) =>
      [...log.changedRowsAt(1, diff, to)].map((changedRow): [string, number | null] => [
        readCells(changedRow.key)[0]!.toString(),
        valueOf(changedRow.image),
      ])
    // Keys come in the order the log sorts them (the key's bytes), each once, with its image there.
    const expected = [...log.changedKeys(1, diff)]
      .sort((a, b) => Buffer.compare(a, b))
      .map((k) => readCells(k)[0]!.toString())
    expect(changed(back).map(([id]) => id)).toEqual(expected)
    expect(new Map(changed(back))).toEqual(
      new Map<string, number | null>([
        ['11', 11],
        ['13', null],
        ['20', null],
        ['3', 3],
        ['5', 5],
      ]),
    )
    expect(new Map(changed(head))).toEqual(
      new Map<string, number | null>([
        ['11', 111],
        ['13', null],
        ['20', 20],
        ['3', 30],
        ['5', null],
      ]),
    )
    expect([...log.changedRowsAt(1, [], back)]).toEqual([])
  })

  it('remembers every drop of a table a backtrack brought back: dropped again later, it is still gone where it was first', () => {
    const txn = (lsn: number, second: number, kind: 'ddl' | 'backtrack' = 'ddl', targetLsn: number | null = null) =>
      log.putTxn({ lsn, commitMicros: second * 1e6, kind, gtid: null, sql: null, changes: 0, targetLsn })
    log.begin()
    const created = log.nextLsn()
    log.createDatabase('db', created, 'CREATE DATABASE db')
    const tbl = log.createTable('db', 't', schema, created)
    txn(created, 1)
    const firstDrop = log.nextLsn()
    log.dropTable(tbl, firstDrop)
    txn(firstDrop, 2)
    const back = log.nextLsn()
    txn(back, 3, 'backtrack', created)
    const secondDrop = log.nextLsn()
    log.dropTable(tbl, secondDrop)
    txn(secondDrop, 4)
    log.flush()
    const alive = (lsn: number) => log.tablesIn(log.viewAt(lsn)).map((table) => table.id)
    expect(alive(created)).toEqual([tbl])
    expect(alive(firstDrop)).toEqual([])
    expect(alive(back)).toEqual([tbl])
    expect(alive(secondDrop)).toEqual([])
  })

  describe('the delta of row versions', () => {
    function table(): number {
      const lsn = log.nextLsn()
      log.begin()
      log.createDatabase('db', lsn, 'CREATE DATABASE db')
      const tbl = log.createTable('db', 't', schema, lsn)
      log.putTxn({ lsn, commitMicros: 0.5e6, kind: 'base', gtid: null, sql: null, changes: 0 })
      log.flush()
      return tbl
    }

    it('appends versions and merges them on the first read, the later of two for one key and LSN winning', () => {
      const tbl = table()
      log.begin()
      const lsn = log.nextLsn()
      // A row updated twice in one transaction: two versions under one LSN, the second is the row's value.
      log.putRow(tbl, key(1), lsn, row(1, 10))
      log.putRow(tbl, key(1), lsn, row(1, 11))
      log.putTxn({ lsn, commitMicros: 1e6, kind: 'dml', gtid: null, sql: null, changes: 2 })
      log.flush()
      expect(log.delta.rows).toBe(2)
      expect(valueOf(log.rowAt(tbl, key(1), log.headView()))).toBe(11)
      expect(log.delta.rows).toBe(0)
      expect(log.rowsOfTxn(lsn)).toHaveLength(1)
    })

    it('is merged by a reader that opens while the writer is idle', () => {
      const tbl = table()
      writeSeries(tbl, 1, 3)
      expect(log.delta.rows).toBe(3)
      const reader = new PageLog(join(dir, 'log.sqlite'), { readonly: true })
      try {
        expect(reader.lastLsn).toBe(log.lastLsn)
        expect([...reader.rowsIn(tbl, reader.headView())].map(({ image }) => valueOf(image))).toEqual([1, 2, 3])
      } finally {
        reader.close()
      }
      // The writer's merge finds nothing left to move and changes nothing.
      log.settle()
      expect(valueOf(log.rowAt(tbl, key(3), log.headView()))).toBe(3)
    })

    it('makes a reader that opens while the writer is in a batch read the log as of before the delta', () => {
      const tbl = table()
      writeSeries(tbl, 1, 2)
      log.settle()
      writeSeries(tbl, 3, 4)
      const merged = log.lsnAt(2e6)
      log.begin()
      log.setMeta('batch', 'open') // a batch that has written holds the write lock: the reader cannot merge
      const reader = new PageLog(join(dir, 'log.sqlite'), { readonly: true })
      try {
        expect(reader.lastLsn).toBe(merged)
        expect(reader.lsnAt(10e6)).toBe(merged)
        expect([...reader.rowsIn(tbl, reader.headView())].map(({ image }) => valueOf(image))).toEqual([1, 2])
        log.flush()
        // Once the writer is out of its batch, the reader's refresh merges and sees everything.
        reader.refresh()
        expect(reader.lastLsn).toBe(log.lastLsn)
        expect([...reader.rowsIn(tbl, reader.headView())].map(({ image }) => valueOf(image))).toEqual([1, 2, 3, 4])
      } finally {
        reader.close()
      }
    })

    it('merges in steps, oldest first: a reader reads exactly the state before the first version still waiting', () => {
      const tbl = table()
      writeSeries(tbl, 1, 5)
      writeSeries(tbl, 1, 5, 10) // every key again, at seconds 11..15
      expect(log.settleStep(7)).toBe(false)
      expect(log.delta.rows).toBe(3)
      log.begin()
      log.setMeta('batch', 'open') // the reader cannot merge the rest
      const reader = new PageLog(join(dir, 'log.sqlite'), { readonly: true })
      try {
        // Versions 1..7 are merged: the series up to second 12.
        expect(reader.lastLsn).toBe(log.lsnAt(12e6))
        expect([...reader.rowsIn(tbl, reader.headView())]).toHaveLength(5)
      } finally {
        reader.close()
      }
      log.flush()
      expect(log.settleStep(7)).toBe(true)
      expect(log.delta.rows).toBe(0)
      expect(log.rowsOfTxn(log.lastLsn)).toHaveLength(1)
    })

    it('is merged before a prune reads the versions it rebases', () => {
      const tbl = table()
      writeSeries(tbl, 1, 10)
      // Every key again, at seconds 11..20: the versions at 1..5 are superseded before a window edge at 15.5.
      writeSeries(tbl, 1, 10, 10)
      expect(log.delta.rows).toBe(20)
      expect(log.prune(15.5e6)).toBeGreaterThan(0)
      expect(log.delta.rows).toBe(0)
      const view = log.headView()
      expect([...log.rowsIn(tbl, view)].map(({ image }) => valueOf(image))).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10])
    })
  })
})
