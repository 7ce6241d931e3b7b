import { createHash } from 'node:crypto'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startPrivateServer, type StartedMysqlServer } from '@backtrack/mysql-server'
import { SimulatorEngine } from './simulator-engine.js'
import { ALL_ROWS, COLUMNS_SQL, insertRows, q, tempDir, WEIRD, type Row } from '@backtrack/mysql-server/testing'
import { SqlClient } from './testing/sql-client.js'

const DB = 'ty`pes db.ü'
const TABLE = 'all types.ü`t'
const NOPK = 'no key.ü`t'
const COMPOSITE = 'comp`osite key'

/** The every-type table without its primary key: rows are told apart by their whole image only. */
const NOPK_COLUMNS_SQL = COLUMNS_SQL.replace('id INT NOT NULL PRIMARY KEY', 'id INT NOT NULL')

/**
 * One table per tricky key type, each holding values that are distinct in the column but close together: equal as
 * doubles (DECIMAL, BIGINT, BIT(64)), differing in the last microsecond, float32 neighbours, 4-byte characters. A
 * rewind that compares keys inexactly deletes a neighbour along with the key it restores.
 */
const KEY_TABLES: { name: string; type: string; values: string[] }[] = [
  {
    name: 'k decimal',
    type: 'DECIMAL(65,30)',
    values: [
      '1.000000000000000000000000000001',
      '1.000000000000000000000000000002',
      '1',
      '-0.000000000000000000000000000001',
    ],
  },
  {
    name: 'k bigint unsigned',
    type: 'BIGINT UNSIGNED',
    values: ['18446744073709551615', '18446744073709551614', '18446744073709551613', '0'],
  },
  {
    name: 'k bigint',
    type: 'BIGINT',
    values: ['9223372036854775807', '9223372036854775806', '-9223372036854775808', '-9223372036854775807'],
  },
  {
    name: 'k datetime6',
    type: 'DATETIME(6)',
    values: ["'2024-01-01 00:00:00.000001'", "'2024-01-01 00:00:00.000002'", "'2024-01-01 00:00:00'", "'0000-00-00'"],
  },
  {
    name: 'k timestamp6',
    type: 'TIMESTAMP(6)',
    values: ["'2038-01-19 03:14:07.999999'", "'2038-01-19 03:14:07.999998'", "'1970-01-01 00:00:01'", "'2000-01-01'"],
  },
  {
    name: 'k time6',
    type: 'TIME(6)',
    values: ["'-838:59:58.999999'", "'-00:00:00.000001'", "'00:00:00.000001'", "'838:59:59'"],
  },
  {
    name: 'k varchar ci',
    type: 'VARCHAR(40) CHARACTER SET utf8mb4',
    values: ["'ü'", "'x y`.z '", "'😀 4-byte'", "'tab\\there'"],
  },
  {
    name: 'k varchar bin',
    type: 'VARCHAR(40) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin',
    values: ["'😀'", "'😁'", "'a'", "'A'"],
  },
  { name: 'k float', type: 'FLOAT', values: ['1', '1.0000001', '3.40282e38', '-1.1754944e-38'] },
  {
    name: 'k double',
    type: 'DOUBLE',
    values: ['0.1', '0.30000000000000004', '1e300', '-2.2250738585072014e-308'],
  },
  {
    name: 'k bit64',
    type: 'BIT(64)',
    values: ['0xFFFFFFFFFFFFFFFF', '0xFFFFFFFFFFFFFFFE', '0x8000000000000001', '0'],
  },
  { name: 'k enum', type: "ENUM('a','b','ü','c')", values: ["'ü'", "'b'", "'a'", "'c'"] },
  { name: 'k set', type: "SET('x','y','z','ü')", values: ["'x,ü'", "'y'", "'x,y,z,ü'", "''"] },
  { name: 'k year', type: 'YEAR', values: ['2155', '1901', '0', '2024'] },
  { name: 'k date', type: 'DATE', values: ["'9999-12-31'", "'1000-01-01'", "'0000-00-00'", "'2024-02-29'"] },
  { name: 'k binary', type: 'BINARY(4)', values: ["X'00000000'", "X'00000001'", "X'FF'", "X'0000000A'"] },
  { name: 'k varbinary', type: 'VARBINARY(8)', values: ["X''", "X'00'", "X'0000'", "X'5C4E'"] },
]

describe('SimulatorEngine: values of every type round-trip exactly through a rewind', () => {
  const dir = tempDir('bt-types-')
  let server: StartedMysqlServer
  let engine: SimulatorEngine
  /** DML and CHECKSUM as the application (exact numbers and dates as text). */
  let sql: SqlClient
  /** Exact row contents: every cell as the server's bytes (FLOAT through DOUBLE, which prints it exactly). */
  let raw: SqlClient

  const table = `${q(DB)}.${q(TABLE)}`
  const nopk = `${q(DB)}.${q(NOPK)}`
  const composite = `${q(DB)}.${q(COMPOSITE)}`

  beforeAll(async () => {
    server = await startPrivateServer({ dataDir: join(dir.path, 'mysql') })
    const exact = { supportBigNumbers: true, bigNumberStrings: true, dateStrings: true, timezone: 'Z' }
    const admin = new SqlClient({ ...server.connectionOptions('admin'), ...exact })
    // Rows that exist before the engine starts reach the page log through the base image (readTableRows).
    await admin.query(`CREATE DATABASE ${q(DB)} CHARACTER SET utf8mb4`)
    await admin.query(`CREATE TABLE ${table} (${COLUMNS_SQL}) CHARACTER SET utf8mb4`)
    await insertRows((s, v) => admin.query(s, v), table)
    await admin.query(`CREATE TABLE ${nopk} (${NOPK_COLUMNS_SQL}) CHARACTER SET utf8mb4`)
    await insertRows((s, v) => admin.query(s, v), nopk, [...ALL_ROWS, ...ALL_ROWS])
    await admin.query(
      `CREATE TABLE ${composite} (a INT, ${q('b`ü')} VARCHAR(20) CHARACTER SET utf8mb4, c DATETIME(6), d DECIMAL(65,30),
        f FLOAT, e ENUM('x','y'), v INT, PRIMARY KEY (${q('b`ü')}, a, c, d, f, e)) CHARACTER SET utf8mb4`,
    )
    await admin.query(
      `INSERT INTO ${composite} VALUES (1, 'ü😀', '2024-01-01 00:00:00.000001', 1.000000000000000000000000000001, 0.1, 'x', 0),
        (1, 'ü😀', '2024-01-01 00:00:00.000001', 1.000000000000000000000000000002, 0.1, 'x', 0),
        (1, 'ü😀', '2024-01-01 00:00:00.000002', 1.000000000000000000000000000001, 0.1, 'x', 0),
        (2, 'ü😀', '2024-01-01 00:00:00.000001', 1.000000000000000000000000000001, 0.1, 'y', 0)`,
    )
    for (const key of KEY_TABLES) {
      await admin.query(`CREATE TABLE ${q(DB)}.${q(key.name)} (k ${key.type} NOT NULL PRIMARY KEY, v INT)`)
      await admin.query(`INSERT INTO ${q(DB)}.${q(key.name)} VALUES (${key.values[0]}, 0), (${key.values[1]}, 0)`)
    }
    await admin.end()
    engine = await SimulatorEngine.start({
      server,
      dataDir: join(dir.path, 'cluster'),
      logger: { info: (m) => process.env.BT_DEBUG && console.log(m), warn: (m) => console.warn(m) },
    })
    sql = new SqlClient({ ...server.connectionOptions('app', DB), ...exact })
    raw = new SqlClient({
      ...server.connectionOptions('admin'),
      rowsAsArray: true,
      typeCast: (field: { buffer(): Buffer | null }) => field.buffer(),
    } as never)
  })
  afterAll(async () => {
    await sql?.end()
    await raw?.end()
    await engine?.close()
    await server?.stop()
    dir[Symbol.dispose]()
  })

  async function rewind(to: Date): Promise<void> {
    const record = await engine.backtrack({ backtrackTo: to })
    expect((await engine.waitForBacktrack(record.BacktrackIdentifier)).Status).toBe('completed')
  }

  /** A cell as text when it is valid UTF-8, else as hex (binary columns); long ones by length and digest. */
  function cellText(cell: Buffer | null): string | null {
    if (cell === null) return null
    if (cell.length > 64) return `${cell.length} bytes sha256:${createHash('sha256').update(cell).digest('hex')}`
    const text = cell.toString('utf8')
    return Buffer.from(text, 'utf8').equals(cell) ? text : `0x${cell.toString('hex')}`
  }

  /** A table's rows, each cell exact, sorted (tables without a key have no order). */
  async function exactRows(name: string): Promise<string[]> {
    const columns = await sql.query(
      `SELECT COLUMN_NAME AS name, DATA_TYPE AS type FROM information_schema.COLUMNS
        WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION`,
      [DB, name],
    )
    const select = columns.map((c) => (c.type === 'float' ? `CAST(${q(c.name)} AS DOUBLE)` : q(c.name))).join(', ')
    const rows = (await raw.query(`SELECT ${select} FROM ${q(DB)}.${q(name)}`)) as unknown as (Buffer | null)[][]
    return rows.map((row) => JSON.stringify(row.map(cellText))).sort()
  }

  /** Every table of the database: CHECKSUM TABLE (EXTENDED: row by row) and its exact rows. */
  async function snapshot(): Promise<Record<string, { checksum: string; rows: string[] }>> {
    const state: Record<string, { checksum: string; rows: string[] }> = {}
    for (const name of await sql.tables(DB)) {
      const [row] = await sql.query(`CHECKSUM TABLE ${q(DB)}.${q(name)} EXTENDED`)
      state[name] = { checksum: String(row!.Checksum), rows: await exactRows(name) }
    }
    return state
  }

  /** The fixture rows again with new ids (`offset` added), to reach the page log through the binlog. */
  const shifted = (offset: number): Row[] => ALL_ROWS.map((row) => ({ ...row, id: Number(row.id) + offset }))

  it('rewinds base-image rows, binlog rows, key changes, a DROP and every kind of key to each moment exactly', async () => {
    const moments: { name: string; at: Date; state: Awaited<ReturnType<typeof snapshot>> }[] = []
    const remember = async (name: string) => {
      const at = await engine.mark()
      moments.push({ name, at, state: await snapshot() })
    }
    const keyTable = (k: (typeof KEY_TABLES)[number]) => `${q(DB)}.${q(k.name)}`
    await remember('base image')
    // Base-image rows change: the rewind must restore them from their base-image versions.
    const change = `ti = ti DIV 2, vc = concat(vc, 'ü'), tm6 = NULL, j = JSON_ARRAY(id), bl = UNHEX('00FF00'), ${q(WEIRD)} = id`
    await sql.query(`UPDATE ${table} SET ${change} WHERE id IN (1, 3, 10, 11)`)
    await sql.query(`DELETE FROM ${table} WHERE id IN (2, 12)`)
    await sql.query(`UPDATE ${table} SET f = -f, db = -db, b64 = ~b64, e = 'b', s = 'y,z' WHERE id = 13`)
    await sql.query(`DELETE FROM ${nopk} WHERE id IN (1, 14) LIMIT 3`)
    await sql.query(`UPDATE ${nopk} SET ${change} WHERE id IN (3, 15) LIMIT 3`)
    await sql.query(`DELETE FROM ${nopk} WHERE id = 2`)
    await sql.query(`UPDATE ${composite} SET v = 1 WHERE a = 1`)
    for (const k of KEY_TABLES) await sql.query(`UPDATE ${keyTable(k)} SET v = 1 WHERE k = ${k.values[0]}`)
    await remember('base rows changed')
    // New rows arrive through the binlog.
    await insertRows((s, v) => sql.query(s, v), table, shifted(100))
    await insertRows((s, v) => sql.query(s, v), nopk, [...shifted(100), ...shifted(100)])
    await sql.query(
      `INSERT INTO ${composite} VALUES (1, 'ü😀', '2024-01-01 00:00:00.000001', 1.000000000000000000000000000003, 0.1, 'x', 2)`,
    )
    for (const k of KEY_TABLES) await sql.query(`INSERT INTO ${keyTable(k)} VALUES (${k.values[2]}, 2)`)
    await remember('binlog rows inserted')
    await sql.query(`UPDATE ${table} SET ${change} WHERE id IN (101, 103, 110, 111)`)
    await sql.query(`UPDATE ${table} SET id = id + 1000 WHERE id IN (102, 113)`)
    await sql.query(`UPDATE ${nopk} SET ${change} WHERE id IN (101, 113) LIMIT 3`)
    await sql.query(`UPDATE ${composite} SET f = 0.25, v = 3 WHERE a = 2`)
    for (const k of KEY_TABLES) {
      await sql.query(`UPDATE ${keyTable(k)} SET v = 3 WHERE k = ${k.values[2]}`)
      await sql.query(`UPDATE ${keyTable(k)} SET k = ${k.values[3]} WHERE k = ${k.values[1]}`)
    }
    await remember('binlog rows updated')
    await sql.query(`UPDATE ${table} SET tx = 'second update', tm3 = '-00:00:00.001' WHERE id IN (1, 101)`)
    await sql.query(`DELETE FROM ${table} WHERE id IN (104, 1102)`)
    await sql.query(`DELETE FROM ${nopk} WHERE id IN (104, 110) LIMIT 3`)
    await sql.query(`DELETE FROM ${composite} WHERE a = 1 AND v = 2`)
    for (const k of KEY_TABLES) await sql.query(`DELETE FROM ${keyTable(k)} WHERE k = ${k.values[0]}`)
    await remember('second update and deletes')
    // An ALTER that copies rows: the capture re-reads them (readTableRows), and later binlog images must match them.
    await sql.query(`ALTER TABLE ${table} ADD COLUMN added INT NOT NULL DEFAULT 7 FIRST`)
    await sql.query(`ALTER TABLE ${nopk} ADD COLUMN added INT NOT NULL DEFAULT 7`)
    await sql.query(`UPDATE ${table} SET added = 8 WHERE id IN (3, 11, 103, 114)`)
    await sql.query(`DELETE FROM ${nopk} WHERE id IN (3, 11, 103, 114, 116) LIMIT 4`)
    await sql.query(`UPDATE ${nopk} SET added = 9 WHERE id IN (1, 13, 101, 115) LIMIT 5`)
    await remember('altered')
    await sql.query(`DROP TABLE ${table}, ${nopk}`)
    await remember('dropped')

    for (const index of [5, 4, 3, 1, 0, 6, 2, 0, 5, 4, 3, 6, 1]) {
      const moment = moments[index]!
      if (process.env.BT_DEBUG) console.log(`rewind to "${moment.name}"`)
      await rewind(moment.at)
      const state = await snapshot()
      for (const name of new Set([...Object.keys(state), ...Object.keys(moment.state)])) {
        expect(state[name]?.rows, `rows of ${name} at "${moment.name}"`).toEqual(moment.state[name]?.rows)
        expect(state[name]?.checksum, `CHECKSUM TABLE ${name} at "${moment.name}"`).toBe(moment.state[name]?.checksum)
      }
    }
  }, 600_000)
})
