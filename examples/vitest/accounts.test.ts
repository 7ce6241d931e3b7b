import { startLocalCluster, type StartedLocalCluster } from '@backtrack/simulator'
import mysql, { type Pool, type RowDataPacket } from 'mysql2/promise'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { balance, transfer } from './accounts.js'

// One cluster for this file: started once, seeded once, rewound to the seeded state after every test.
let cluster: StartedLocalCluster
let pool: Pool
let seeded: Date

beforeAll(async () => {
  cluster = await startLocalCluster() // a temporary data dir on free ports, removed by stop()
  pool = mysql.createPool({ ...cluster.info().sql, connectionLimit: 5 })
  await pool.query('CREATE TABLE accounts (id INT PRIMARY KEY, owner VARCHAR(40) NOT NULL, balance INT NOT NULL)')
  await pool.query('CREATE TABLE ledger (id INT AUTO_INCREMENT PRIMARY KEY, from_id INT, to_id INT, amount INT)')
  await pool.query("INSERT INTO accounts VALUES (1, 'ada', 100), (2, 'grace', 50), (3, 'linus', 0)")
  seeded = await cluster.mark()
})

// The pool stays open across rewinds: its idle connections keep working.
afterEach(() => cluster.rewind(seeded))

afterAll(async () => {
  await pool?.end()
  await cluster?.stop()
})

describe('transfers', () => {
  it('moves money and writes the ledger', async () => {
    await transfer(pool, 1, 3, 30)
    expect(await balance(pool, 1)).toBe(70)
    expect(await balance(pool, 3)).toBe(30)
    const [ledger] = await pool.query<RowDataPacket[]>('SELECT COUNT(*) AS n FROM ledger')
    expect(ledger[0]!.n).toBe(1)
  })

  it('starts from the seeded data again (the previous test was rewound)', async () => {
    expect(await balance(pool, 1)).toBe(100)
    const [ledger] = await pool.query<RowDataPacket[]>('SELECT COUNT(*) AS n FROM ledger')
    expect(ledger[0]!.n).toBe(0)
  })

  it('refuses an overdraft and changes nothing', async () => {
    await expect(transfer(pool, 3, 1, 10)).rejects.toThrow('insufficient funds')
    expect(await balance(pool, 3)).toBe(0)
  })
})

describe('whatever a test does is undone', () => {
  it('a migration that drops a table and adds another', async () => {
    await pool.query('DROP TABLE ledger')
    await pool.query('CREATE TABLE audit (id INT PRIMARY KEY)')
    await pool.query('ALTER TABLE accounts ADD COLUMN frozen BOOLEAN NOT NULL DEFAULT FALSE')
  })

  it('is gone: ledger is back, audit and the new column are not', async () => {
    const [tables] = await pool.query<RowDataPacket[]>('SHOW TABLES')
    expect(tables.map((row) => Object.values(row)[0]).sort()).toEqual(['accounts', 'ledger'])
    const [columns] = await pool.query<RowDataPacket[]>("SHOW COLUMNS FROM accounts LIKE 'frozen'")
    expect(columns).toHaveLength(0)
  })
})
