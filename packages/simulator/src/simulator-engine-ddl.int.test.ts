import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startPrivateServer, type StartedMysqlServer } from '@backtrack/mysql-server'
import { SimulatorEngine } from './simulator-engine.js'
import { SqlClient } from './testing/sql-client.js'
import { tempDir } from '@backtrack/mysql-server/testing'

const DB = 'we`ird db.ü'
const q = (name: string) => '`' + name.replaceAll('`', '``') + '`'

describe('SimulatorEngine: DDL of every kind, keys, cascades and quoting', () => {
  const dir = tempDir('bt-ddl-')
  let server: StartedMysqlServer
  let engine: SimulatorEngine
  let sql: SqlClient

  beforeAll(async () => {
    server = await startPrivateServer({ dataDir: join(dir.path, 'mysql') })
    const admin = new SqlClient(server.connectionOptions('admin'))
    await admin.query(`CREATE DATABASE ${q(DB)}`)
    await admin.query(`CREATE TABLE ${q(DB)}.preexisting (id INT PRIMARY KEY, v VARCHAR(10))`)
    await admin.query(`INSERT INTO ${q(DB)}.preexisting VALUES (1, 'base'), (2, 'image')`)
    await admin.end()
    engine = await SimulatorEngine.start({
      server,
      dataDir: join(dir.path, 'cluster'),
      database: 'mylab',
      logger: { info: (m) => process.env.BT_DEBUG && console.log(m), warn: (m) => console.warn(m) },
    })
    sql = new SqlClient(server.connectionOptions('app', DB))
  })
  afterAll(async () => {
    await sql?.end()
    await engine?.close()
    await server?.stop()
    dir[Symbol.dispose]()
  })

  async function rewind(to: Date): Promise<void> {
    const record = await engine.backtrack({ backtrackTo: to })
    expect((await engine.waitForBacktrack(record.BacktrackIdentifier)).Status).toBe('completed')
  }

  /** Every table's CHECKSUM and definition in the database: the state a rewind must reproduce. */
  async function snapshot(): Promise<Record<string, string>> {
    const state: Record<string, string> = {}
    for (const table of await sql.tables(DB)) {
      const [create] = await sql.query(`SHOW CREATE TABLE ${q(DB)}.${q(table)}`)
      state[table] = `${await sql.checksum(`${q(DB)}.${q(table)}`)} ${String(create!['Create Table'])}`
    }
    return state
  }

  it('rewinds through CREATE, ALTER, RENAME, TRUNCATE, DROP and databases, to every moment in between', async () => {
    const moments: { at: Date; state: Record<string, string>; dbs: string[] }[] = []
    const remember = async () => {
      const at = await engine.mark()
      const dbs = (await sql.query('SHOW DATABASES')).map((row) => String(Object.values(row)[0]))
      moments.push({ at, state: await snapshot(), dbs: dbs.filter((db) => !db.startsWith('__bt_')) })
    }
    await remember()
    await sql.query(`UPDATE preexisting SET v = 'changed' WHERE id = 1`)
    await sql.query(`CREATE TABLE ${q('t ab`le.ü')} (a INT, b VARCHAR(20), ${q('c o`l')} INT, PRIMARY KEY (a, b))`)
    await sql.query(`INSERT INTO ${q('t ab`le.ü')} VALUES (1, 'x', 1), (1, 'y', 2), (2, 'x', 3)`)
    await remember()
    await sql.query(`ALTER TABLE ${q('t ab`le.ü')} ADD COLUMN extra INT NOT NULL DEFAULT 7, DROP COLUMN ${q('c o`l')}`)
    await sql.query(`UPDATE ${q('t ab`le.ü')} SET extra = 8 WHERE a = 2`)
    await remember()
    await sql.query(`RENAME TABLE ${q('t ab`le.ü')} TO renamed`)
    await sql.query(`INSERT INTO renamed VALUES (3, 'z', 9)`)
    await remember()
    await sql.query('CREATE TABLE nokey (v INT, w VARCHAR(5))')
    await sql.query(`INSERT INTO nokey VALUES (1, 'a'), (1, 'a'), (2, 'b')`)
    await sql.query(`DELETE FROM nokey WHERE v = 1 LIMIT 1`)
    await sql.query('CREATE TABLE gen (id INT PRIMARY KEY, x INT, y INT AS (x * 2) VIRTUAL, z INT AS (x + 1) STORED)')
    await sql.query('INSERT INTO gen (id, x) VALUES (1, 10), (2, 20)')
    await remember()
    await sql.query('TRUNCATE TABLE renamed')
    await sql.query(`INSERT INTO renamed VALUES (100, 'after', 1)`)
    await sql.query('CREATE INDEX gen_x ON gen (x)')
    await remember()
    await sql.query('CREATE DATABASE other_db')
    await sql.query('CREATE TABLE other_db.t (id INT PRIMARY KEY)')
    await sql.query('INSERT INTO other_db.t VALUES (1), (2)')
    await remember()
    await sql.query('DROP TABLE renamed, gen')
    await sql.query('DROP DATABASE other_db')
    await remember()

    for (const index of [0, 4, 1, 6, 2, 5, 3, 7, 0, 7]) {
      const moment = moments[index]!
      if (process.env.BT_DEBUG) console.log(`rewind to moment ${index}`)
      await rewind(moment.at)
      expect(await snapshot(), `state at moment ${index}`).toEqual(moment.state)
      const dbs = (await sql.query('SHOW DATABASES')).map((row) => String(Object.values(row)[0]))
      expect(dbs.filter((db) => !db.startsWith('__bt_')).sort(), `databases at moment ${index}`).toEqual(
        [...moment.dbs].sort(),
      )
    }
  })

  it('brings back rows changed by ON DELETE CASCADE and ON UPDATE SET NULL, which the binlog does not carry', async () => {
    await sql.query('CREATE TABLE parent (id INT PRIMARY KEY, name VARCHAR(10))')
    await sql.query(
      'CREATE TABLE child (id INT PRIMARY KEY, parent_id INT, FOREIGN KEY (parent_id) REFERENCES parent (id) ON DELETE CASCADE ON UPDATE CASCADE)',
    )
    await sql.query(
      'CREATE TABLE nullable_child (id INT PRIMARY KEY, parent_id INT, FOREIGN KEY (parent_id) REFERENCES parent (id) ON UPDATE SET NULL)',
    )
    await sql.query(`INSERT INTO parent VALUES (1, 'one'), (2, 'two')`)
    await sql.query('INSERT INTO child VALUES (10, 1), (11, 1), (20, 2)')
    await sql.query('INSERT INTO nullable_child VALUES (30, 2)')
    const before = await engine.mark()
    const expected = await snapshot()
    await sql.query('DELETE FROM parent WHERE id = 1')
    await sql.query('UPDATE parent SET id = 3 WHERE id = 2')
    expect((await sql.query('SELECT id, parent_id FROM child')).map((row) => [row.id, row.parent_id])).toEqual([
      [20, 3],
    ])
    expect((await sql.query('SELECT parent_id FROM nullable_child'))[0]!.parent_id).toBe(null)
    const after = await engine.mark()
    const expectedAfter = await snapshot()
    await rewind(before)
    expect(await snapshot()).toEqual(expected)
    await rewind(after)
    expect(await snapshot()).toEqual(expectedAfter)
  })

  it('keeps a keyless child with duplicate rows exact through ON DELETE SET NULL / ON UPDATE CASCADE and later changes', async () => {
    await sql.query('CREATE TABLE kparent (id INT PRIMARY KEY)')
    await sql.query(
      'CREATE TABLE kchild (pid INT NULL, v CHAR(3), FOREIGN KEY (pid) REFERENCES kparent (id) ON DELETE SET NULL ON UPDATE CASCADE)',
    )
    await sql.query('INSERT INTO kparent VALUES (1), (2), (5)')
    await sql.query(`INSERT INTO kchild VALUES (1, 'a'), (1, 'a'), (2, 'a'), (NULL, 'a'), (5, 'b'), (5, 'b'), (5, 'b')`)
    const moments: { at: Date; state: Record<string, string> }[] = []
    const remember = async () => moments.push({ at: await engine.mark(), state: await snapshot() })
    await remember()
    await sql.query('UPDATE kparent SET id = 3 WHERE id = 1') // (1,'a') x2 -> (3,'a') x2
    await remember()
    await sql.query('DELETE FROM kparent WHERE id = 2') // (2,'a') -> (NULL,'a'), which now occurs twice
    await remember()
    await sql.query('DELETE FROM kchild WHERE pid IS NULL LIMIT 1')
    await sql.query(`UPDATE kchild SET v = 'c' WHERE pid = 3 LIMIT 1`)
    await remember()
    await sql.query('UPDATE kparent SET id = 6 WHERE id = 5') // (5,'b') x3 -> (6,'b') x3
    await sql.query('DELETE FROM kparent WHERE id = 6') // (6,'b') x3 -> (NULL,'b') x3
    await sql.query(`DELETE FROM kchild WHERE v = 'b' LIMIT 2`)
    await remember()
    for (const index of [0, moments.length - 1, 1, 3, 2, 4, 0, 4]) {
      await rewind(moments[index]!.at)
      expect(await snapshot(), `state at moment ${index}`).toEqual(moments[index]!.state)
    }
  })
})
