import { join } from 'node:path'
import mysql, { type Connection, type RowDataPacket } from 'mysql2/promise'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { BacktrackError } from '@backtrack/core'
import { startPrivateServer, type StartedMysqlServer } from '@backtrack/mysql-server'
import { ClientSessions } from './client-sessions.js'
import { SimulatorEngine } from './simulator-engine.js'
import { tempDir } from '@backtrack/mysql-server/testing'

describe('SimulatorEngine over a private MariaDB', () => {
  const dir = tempDir('bt-engine-')
  let server: StartedMysqlServer
  let engine: SimulatorEngine
  let app: Connection

  beforeAll(async () => {
    server = await startPrivateServer({ dataDir: join(dir.path, 'mysql') })
    engine = await SimulatorEngine.start({ server, dataDir: join(dir.path, 'cluster'), database: 'mylab' })
    app = await mysql.createConnection(server.connectionOptions('app', 'mylab'))
  })
  afterAll(async () => {
    await app?.end().catch(() => undefined)
    await engine?.close()
    await server?.stop()
    dir[Symbol.dispose]()
  })

  async function sql(statement: string): Promise<RowDataPacket[]> {
    if (app === undefined || (app as unknown as { connection: { _closing: boolean } }).connection._closing) {
      app = await mysql.createConnection(server.connectionOptions('app', 'mylab'))
    }
    try {
      const [rows] = await app.query<RowDataPacket[]>(statement)
      return rows
    } catch (error) {
      if (!/closed|ECONNRESET|killed|Connection lost/i.test((error as Error).message)) throw error
      app = await mysql.createConnection(server.connectionOptions('app', 'mylab'))
      const [rows] = await app.query<RowDataPacket[]>(statement)
      return rows
    }
  }

  async function rewind(to: Date): Promise<void> {
    const record = await engine.backtrack({ backtrackTo: to })
    expect(record.Status).toBe('pending')
    const done = await engine.waitForBacktrack(record.BacktrackIdentifier)
    expect(done.Status).toBe('completed')
  }

  const checksum = async (table: string) => String((await sql(`CHECKSUM TABLE ${table}`))[0]!.Checksum)

  it('runs the lab: drop a table, re-create it, rewind to after the drop, then to before it', async () => {
    await sql(
      'CREATE TABLE sbtest1 (id INT PRIMARY KEY AUTO_INCREMENT, k INT NOT NULL, c CHAR(120), pad CHAR(60), KEY k_1 (k))',
    )
    const values = Array.from({ length: 2000 }, (_, i) => `(${i + 1}, ${(i * 7919) % 1000}, 'c-${i}', 'pad-${i}')`)
    await sql(`INSERT INTO sbtest1 VALUES ${values.join(',')}`)
    const original = await checksum('sbtest1')
    const beforeDrop = await engine.mark()
    await sql('DROP TABLE sbtest1')
    const afterDrop = await engine.mark()
    await sql('CREATE TABLE sbtest1 (id INT PRIMARY KEY AUTO_INCREMENT, k INT NOT NULL, c CHAR(120), pad CHAR(60))')
    await sql(`INSERT INTO sbtest1 (k, c, pad) VALUES (1, 'new', 'row'), (2, 'other', 'row')`)
    expect(await checksum('sbtest1')).not.toBe(original)

    await rewind(afterDrop)
    expect((await sql('SHOW TABLES')).map((row) => Object.values(row)[0])).not.toContain('sbtest1')

    await rewind(beforeDrop)
    expect(await checksum('sbtest1')).toBe(original)
    expect((await sql('SHOW CREATE TABLE sbtest1'))[0]!['Create Table']).toContain('KEY `k_1`')
    const cluster = await engine.describeCluster()
    expect(cluster.Status).toBe('available')
    expect(cluster.BacktrackConsumedChangeRecords).toBeGreaterThan(0)
  })

  it('goes back and forth: after a rewind to t_i, max(id) == i (Neon oracle)', async () => {
    await sql('CREATE TABLE oracle (id INT PRIMARY KEY)')
    const marks: Date[] = []
    for (let i = 1; i <= 30; i++) {
      await sql(`INSERT INTO oracle VALUES (${i})`)
      marks.push(await engine.mark())
    }
    for (const i of [20, 5, 25, 1, 30, 12]) {
      await rewind(marks[i - 1]!)
      expect(Number((await sql('SELECT max(id) AS m FROM oracle'))[0]!.m)).toBe(i)
    }
    // New writes after a rewind, then back into the undone stretch and forward again.
    await rewind(marks[9]!)
    await sql('INSERT INTO oracle VALUES (1000)')
    const afterNewWrite = await engine.mark()
    await rewind(marks[24]!)
    expect(Number((await sql('SELECT max(id) AS m FROM oracle'))[0]!.m)).toBe(25)
    await rewind(afterNewWrite)
    expect((await sql('SELECT id FROM oracle ORDER BY id')).map((row) => row.id)).toEqual([
      ...Array.from({ length: 10 }, (_, i) => i + 1),
      1000,
    ])
  })

  it('is available and writable as soon as waitForBacktrack says completed', async () => {
    await sql('CREATE TABLE settled (id INT PRIMARY KEY)')
    for (let round = 0; round < 5; round++) {
      const to = await engine.mark()
      await sql(`INSERT INTO settled VALUES (${round})`)
      const record = await engine.backtrack({ backtrackTo: to })
      await engine.waitForBacktrack(record.BacktrackIdentifier)
      // Regression: 'completed' was recorded before read_only was lifted and the cluster was 'available' again.
      expect((await engine.describeCluster()).Status).toBe('available')
      await sql(`INSERT INTO settled VALUES (${100 + round})`)
      const next = await engine.backtrack({ backtrackTo: to })
      await engine.waitForBacktrack(next.BacktrackIdentifier)
    }
  })

  it('unlocks the client accounts before it is available, also when the server was gone at the first tries', async () => {
    const gone = Object.assign(new Error('Connection lost: The server closed the connection.'), {
      code: 'PROTOCOL_CONNECTION_LOST',
      fatal: true,
    })
    const unlock = vi.spyOn(ClientSessions.prototype, 'unlockAccounts')
    try {
      unlock.mockRejectedValueOnce(gone).mockRejectedValueOnce(gone)
      await rewind(await engine.mark())
      expect(unlock).toHaveBeenCalledTimes(3)
      expect((await engine.describeCluster()).Status).toBe('available')
      await (await mysql.createConnection(server.connectionOptions('app', 'mylab'))).end()
    } finally {
      unlock.mockRestore()
    }
  })

  it('refuses future times, times before the window, and a second backtrack while one runs', async () => {
    const now = await engine.now()
    await expect(engine.backtrack({ backtrackTo: new Date(now.getTime() + 60_000) })).rejects.toSatisfy((error) =>
      BacktrackError.is(error, 'InvalidParameterValue'),
    )
    await expect(engine.backtrack({ backtrackTo: new Date(2000, 0, 1) })).rejects.toSatisfy((error) =>
      BacktrackError.is(error, 'InvalidParameterValue'),
    )
    const record = await engine.backtrack({ backtrackTo: await engine.mark() })
    await expect(engine.backtrack({ backtrackTo: await engine.now() })).rejects.toSatisfy((error) =>
      BacktrackError.is(error, 'InvalidDBClusterStateFault'),
    )
    await engine.waitForBacktrack(record.BacktrackIdentifier)
    const earliest = await engine.backtrack({
      backtrackTo: new Date(2000, 0, 1),
      useEarliestTimeOnPointInTimeUnavailable: true,
    })
    expect((await engine.waitForBacktrack(earliest.BacktrackIdentifier)).Status).toBe('completed')
  })

  it('says how long it waited when waitForBacktrack runs out of its default time', async () => {
    const record = await engine.backtrack({ backtrackTo: await engine.mark() })
    const realNow = Date.now.bind(Date)
    const started = realNow()
    let calls = 0
    // The first call sets the deadline (default 15 minutes); every later one is 16 minutes on.
    const spy = vi.spyOn(Date, 'now').mockImplementation(() => (calls++ === 0 ? started : realNow() + 16 * 60_000))
    let error: unknown
    try {
      await engine.waitForBacktrack(record.BacktrackIdentifier)
    } catch (caught) {
      error = caught
    } finally {
      spy.mockRestore()
    }
    expect(BacktrackError.is(error, 'ServiceUnavailable')).toBe(true)
    expect((error as Error).message).toMatch(/is still \w+ after 900 s/)
    expect((await engine.waitForBacktrack(record.BacktrackIdentifier)).Status).toBe('completed')
  })

  it('says the data may be partly rewound, not "left as it was", when undoing a failed rewind fails too', async () => {
    await sql('CREATE TABLE undo_a (id INT PRIMARY KEY, v INT)')
    await sql('CREATE TABLE undo_b (id INT PRIMARY KEY, v INT)')
    await sql('INSERT INTO undo_a VALUES (1, 1)')
    await sql('INSERT INTO undo_b VALUES (1, 1)')
    const before = await engine.mark()
    await sql('UPDATE undo_a SET v = 2')
    await sql('UPDATE undo_b SET v = 2')
    // The simulator's own account is never disconnected: it holds undo_b's row, and kills every statement that
    // waits for it, so the rewind fails there, and so does its undo.
    const holder = await mysql.createConnection(server.connectionOptions('admin', 'mylab'))
    const killer = await mysql.createConnection(server.connectionOptions('admin', 'mylab'))
    await holder.query('BEGIN')
    await holder.query('SELECT * FROM undo_b FOR UPDATE')
    const holderId = holder.threadId
    let killing = true
    const kills = (async () => {
      while (killing) {
        const [waiting] = await killer.query<RowDataPacket[]>(
          "SELECT ID AS id FROM information_schema.PROCESSLIST WHERE INFO LIKE '%undo_b%' AND ID NOT IN (?, CONNECTION_ID())",
          [holderId],
        )
        for (const { id } of waiting) await killer.query(`KILL QUERY ${Number(id)}`).catch(() => undefined)
        await new Promise((resolve) => setTimeout(resolve, 10))
      }
    })()
    try {
      const record = await engine.backtrack({ backtrackTo: before })
      const error = await engine.waitForBacktrack(record.BacktrackIdentifier).catch((caught: unknown) => caught)
      expect(BacktrackError.is(error, 'InternalFailure')).toBe(true)
      expect((error as Error).message).toMatch(/undoing it failed too/)
      expect((error as Error).message).not.toMatch(/left as it was/)
      expect((error as Error).message).toMatch(/partly rewound/)
      expect((await engine.describeCluster()).Status).toBe('available')
    } finally {
      killing = false
      await kills
      await holder.end()
      await killer.end()
    }
  })

  it('undoes an UPDATE of every row by reloading the table, keeping its trigger, the foreign keys to it and AUTO_INCREMENT', async () => {
    await sql(
      'CREATE TABLE wide (id INT PRIMARY KEY AUTO_INCREMENT, k INT NOT NULL, c CHAR(40) NOT NULL, UNIQUE KEY (c))',
    )
    await sql("INSERT INTO wide (k, c) SELECT seq, CONCAT('c-', seq) FROM seq_1_to_25000")
    await sql('DELETE FROM wide WHERE id > 24990') // the counter stays where it was
    await sql('CREATE TABLE audit (n INT)')
    // With the binlog on, only a privileged account may create a trigger.
    const owner = await mysql.createConnection(server.connectionOptions('admin', 'mylab'))
    await owner.query('CREATE TRIGGER wide_audit AFTER DELETE ON wide FOR EACH ROW INSERT INTO audit VALUES (OLD.id)')
    await owner.end()
    await sql('CREATE TABLE wide_child (id INT PRIMARY KEY, wide_id INT, FOREIGN KEY (wide_id) REFERENCES wide (id))')
    await sql('INSERT INTO wide_child VALUES (1, 7)')
    const counter = async () =>
      Number(
        (
          await sql(
            "SELECT AUTO_INCREMENT AS n FROM information_schema.TABLES WHERE TABLE_SCHEMA = 'mylab' AND TABLE_NAME = 'wide'",
          )
        )[0]!.n,
      )
    const next = await counter()
    expect(next).toBeGreaterThan(24991)
    const before = await engine.mark()
    const expected = await checksum('wide')
    // Every row changes, unique values swap places: a reload must delete before it loads.
    await sql("UPDATE wide SET k = k + 1, c = CONCAT('x-', id)")
    await sql("UPDATE wide SET c = CONCAT('c-', 24991 - id)")
    await rewind(before)
    expect(await checksum('wide')).toBe(expected)
    expect((await sql('SHOW TRIGGERS WHERE `Table` = "wide"')).map((row) => row.Trigger)).toEqual(['wide_audit'])
    expect(await counter()).toBe(next)
    await expect(sql('INSERT INTO wide_child VALUES (2, 999999)')).rejects.toThrow(/foreign key constraint fails/)
    // Reloaded whole (no per-key deletes), not key by key.
    expect(engine.lastOutcome?.stats).toMatchObject({ rowsRestored: 24990, rowsDeleted: 0 })
  })

  // Account statements reach the binlog as bare query events, with no data transaction (no XID) after them: a mark
  // waiting for the capture to pass the server's binlog position must still see them read, not wait for a next write.
  it(
    'marks right after CREATE USER, GRANT, ALTER USER, FLUSH PRIVILEGES and DROP USER with no data transaction following',
    { timeout: 20_000 },
    async () => {
      const admin = await mysql.createConnection(server.connectionOptions('admin'))
      try {
        for (let i = 0; i < 3; i++) {
          await admin.query(`CREATE USER 'marked_${i}'@'%' IDENTIFIED BY 'pw-${i}'`)
          const afterCreate = await engine.mark()
          await admin.query(`GRANT SELECT ON mylab.* TO 'marked_${i}'@'%'`)
          const afterGrant = await engine.mark()
          expect(afterGrant.getTime()).toBeGreaterThanOrEqual(afterCreate.getTime())
          await admin.query(`ALTER USER 'marked_${i}'@'%' IDENTIFIED BY 'pw-${i}-2'`)
          await admin.query('FLUSH PRIVILEGES')
          expect((await engine.mark()).getTime()).toBeGreaterThanOrEqual(afterGrant.getTime())
        }
        for (let i = 0; i < 3; i++) await admin.query(`DROP USER 'marked_${i}'@'%'`)
        expect((await engine.mark()).getTime()).toBeLessThanOrEqual((await engine.now()).getTime() + 1_000)
      } finally {
        await admin.end()
      }
    },
  )

  it('verify: the server holds what the page log says, and drift made behind its back is named with its first key', async () => {
    await sql('CREATE TABLE drift (id INT PRIMARY KEY, v VARCHAR(10))')
    await sql("INSERT INTO drift VALUES (1, 'a'), (2, 'b'), (3, 'c')")
    await sql('CREATE TABLE drift_keyless (v INT)')
    await sql('INSERT INTO drift_keyless VALUES (1), (1), (2)')
    const clean = await engine.verify()
    expect(clean.ok).toBe(true)
    expect(clean.tables.find((t) => t.table === 'drift')).toMatchObject({ status: 'same', rows: 3 })
    expect(clean.tables.find((t) => t.table === 'drift_keyless')).toMatchObject({ status: 'same', rows: 3 })

    // Changes the binlog never sees (sql_log_bin = 0): the log cannot know them.
    const behind = await mysql.createConnection(server.connectionOptions('admin', 'mylab'))
    await behind.query('SET SESSION sql_log_bin = 0')
    await behind.query("UPDATE drift SET v = 'x' WHERE id IN (2, 3)")
    await behind.query('DELETE FROM drift_keyless WHERE v = 1 LIMIT 1')
    await behind.query('CREATE TABLE drift_extra (id INT)')
    await behind.end()
    const drifted = await engine.verify()
    expect(drifted.ok).toBe(false)
    expect(drifted.tables.find((t) => t.table === 'drift')).toMatchObject({
      status: 'differs',
      firstDifference: { key: ['2'], kind: 'different' },
    })
    expect(drifted.tables.find((t) => t.table === 'drift_keyless')).toMatchObject({
      status: 'differs',
      firstDifference: { key: ['1'], kind: 'missing' },
    })
    expect(drifted.tables.find((t) => t.table === 'drift_extra')).toMatchObject({ status: 'extra' })
    await sql('DROP TABLE drift_extra')
    await sql('DROP TABLE drift')
    await sql('DROP TABLE drift_keyless')
    expect((await engine.verify()).ok).toBe(true)
  })
})
